package transport

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the package's tests with every native DEALER on an I/O loop when
// DMBENCH_TEST_LOOP is set (.ci/run runs the package both ways): the Loop DEALER must
// pass the tests the goroutine DEALER passes.
func TestMain(m *testing.M) {
	if os.Getenv("DMBENCH_TEST_LOOP") != "" {
		l, err := NewLoop(LoopOptions{})
		if err != nil {
			fmt.Fprintln(os.Stderr, "DMBENCH_TEST_LOOP:", err)
			os.Exit(2)
		}
		nativeTestLoop = l
		code := m.Run()
		l.Close()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
