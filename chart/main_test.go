package chart_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain keeps the real run the tests share in a folder of its own, removed at the
// end, and checks that no goroutine (a client, the broker, the poller) outlives them.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dmbench-chart-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
