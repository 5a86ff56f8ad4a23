//go:build linux

package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serveFDChild names the environment variable that makes TestServeBudgetFDChild run
// `dmbench serve` with the arguments it holds, in a child process.
const serveFDChild = "DMBENCH_TEST_SERVE_FD_CHILD"

// TestServeBudgetFDLimit runs `dmbench serve` in a child process whose file-descriptor
// limit leaves room for a few connections, and connects more clients than that: serve
// logs one line saying it ran out of file descriptors and what to do (however often
// accept fails within the rate limit's 10 s), goes on running, and stops cleanly.
func TestServeBudgetFDLimit(t *testing.T) {
	sigPort := freePort(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeBudgetFDChild$")
	cmd.Env = append(os.Environ(), serveFDChild+"=serve --port "+strconv.Itoa(sigPort-1))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var out lockedBuffer
	started := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stdout)
		once := sync.OnceFunc(func() { close(started) })
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "stop with") {
				once()
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s\n%s", out.String(), stderr.String())
	}

	// The kernel completes these handshakes whether or not serve can accept them.
	for range 40 {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(sigPort), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	const want = "cannot accept connections: out of file descriptors (the process's limit is "
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no line about the file-descriptor limit within 10 s; stderr:\n%s", stderr.String())
		}
	}
	time.Sleep(time.Second) // accept keeps failing meanwhile (every 5 ms to 1 s)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-copied
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}
	logged := stderr.String()
	if n := strings.Count(logged, want); n != 1 {
		t.Errorf("%d lines about the file-descriptor limit, want 1 (at most one per 10 s):\n%s", n, logged)
	}
	for _, advice := range []string{"raise the limit (ulimit -n", "connect fewer clients"} {
		if !strings.Contains(logged, advice) {
			t.Errorf("the line does not say %q:\n%s", advice, logged)
		}
	}
	if !strings.Contains(out.String(), "stopped on terminated") || !strings.Contains(out.String(), "dropped            nothing") {
		t.Errorf("serve did not stop cleanly and report its drops:\n%s", out.String())
	}
}

// TestServeBudgetFDChild is TestServeBudgetFDLimit's child: it lowers the process's
// file-descriptor limit to what it has open and 8 more (the listener, the poller, a few
// connections) and runs the CLI. It does nothing in an ordinary test run.
func TestServeBudgetFDChild(t *testing.T) {
	args := os.Getenv(serveFDChild)
	if args == "" {
		t.Skip("run by TestServeBudgetFDLimit")
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	rl.Cur = uint64(len(fds) + 8)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	os.Exit(run(strings.Fields(args)))
}

// lockedBuffer is a strings.Builder safe for a process's output copier and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.WriteString(s)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
