package transport

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// peerProcess is a peer the tests and benchmarks run in a process of its own: the Go
// echo ROUTER (testdata/echorouter) or, with -tags libzmq, the C libzmq peer
// (testdata/cpeer, cpeer_test.go). It is driven through stdin and stdout; closing
// stdin ends it.
type peerProcess struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr bytes.Buffer
	waited chan error
	// drained, when set, is closed by whoever reads stdout once it has read to the end;
	// otherwise stop reads and discards what is left.
	drained chan struct{}
}

// startPeerProcess starts cmd as a peer driven through its stdin and stdout (stderr is
// kept for error messages); the test's cleanup stops it.
func startPeerProcess(tb testing.TB, cmd *exec.Cmd) *peerProcess {
	tb.Helper()
	p := &peerProcess{cmd: cmd, waited: make(chan error, 1)}
	p.cmd.Stderr = &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	p.stdout = bufio.NewReaderSize(out, 1<<20)
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", p.name(), err)
	}
	tb.Cleanup(func() { p.stop(tb) })
	return p
}

// name is the peer's command line for messages, without the directory.
func (p *peerProcess) name() string {
	return strings.Join(append([]string{filepath.Base(p.cmd.Path)}, p.cmd.Args[1:]...), " ")
}

// wait waits for the process to exit after stdout was read to the end.
func (p *peerProcess) wait() error {
	select {
	case err := <-p.waited:
		p.waited <- err
		return err
	default:
	}
	err := p.cmd.Wait()
	p.waited <- err
	return err
}

// stop closes the peer's stdin, which ends it, and waits for it to exit; after 5 s it
// is killed.
func (p *peerProcess) stop(tb testing.TB) {
	_ = p.stdin.Close()
	done := make(chan error, 1)
	go func() {
		if p.drained != nil {
			<-p.drained
		} else {
			_, _ = io.Copy(io.Discard, p.stdout)
		}
		done <- p.wait()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		tb.Errorf("%s did not exit within 5 s of its stdin closing; killed it (stderr: %s)",
			p.name(), p.stderr.String())
	}
}

// readLine reads one line of the peer's stdout, failing the test after timeout.
func (p *peerProcess) readLine(tb testing.TB, timeout time.Duration) string {
	tb.Helper()
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := p.stdout.ReadString('\n')
		ch <- result{strings.TrimSpace(line), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			tb.Fatalf("reading the output of %s: %v (stderr: %s)", p.name(), r.err, p.stderr.String())
		}
		return r.line
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-ch
		tb.Fatalf("%s printed nothing within %v (stderr: %s)", p.name(), timeout, p.stderr.String())
	}
	return ""
}
