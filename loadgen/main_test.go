package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/dmbench/dmbench/broker"
)

// brokerChildEnv makes the test binary a reference broker in its own process (see
// startBrokerProcess) instead of running tests.
const brokerChildEnv = "DMBENCH_LOADGEN_BROKER_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(brokerChildEnv) != "" {
		runBrokerChild()
		return
	}
	goleak.VerifyTestMain(m)
}

// runBrokerChild serves the reference broker on 127.0.0.1, prints its address and stops
// when its standard input closes (the parent ended or closed it).
func runBrokerChild() {
	srv, err := broker.Start(broker.Config{Addr: "tcp://127.0.0.1:0"})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(srv.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Close()
	os.Exit(0)
}

// startBrokerProcess starts the reference broker in a child process, so that what the
// test process measures of itself (goroutines, CPU, memory) is the generator's alone.
// It returns the broker's address; the child ends with the test.
func startBrokerProcess(tb testing.TB) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), brokerChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting the broker process: %v", err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	line = strings.TrimSpace(line)
	if err != nil || !strings.HasPrefix(line, "tcp://") {
		tb.Fatalf("the broker process said %q (%v)", line, err)
	}
	return line
}
