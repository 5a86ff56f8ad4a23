//go:build libzmq

package transport

// The C libzmq peer (testdata/cpeer/peer.c), the reference the transports are checked and
// measured against. It needs a C compiler and libzmq's headers and library (Debian:
// `apt-get install libzmq3-dev`), so it and everything that uses it (libzmq_test.go,
// native_libzmq_test.go, libzmq_bench_test.go) is built only with -tags libzmq:
//
//	go test -count=1 -tags libzmq ./transport/

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cpeerBuild caches the C peer's build for the whole test binary.
var cpeerBuild struct {
	once sync.Once
	path string
	err  error
}

// buildCPeer compiles testdata/cpeer/peer.c against libzmq (once per test binary) and
// returns the executable's path. A missing C compiler, zmq.h or libzmq fails the test
// with the command that installs them: the C peer is the reference the transports are
// checked and measured against, so its absence is an error, not a reason to skip.
//
// The executable is kept in a directory named after the source's hash under the
// system's temporary directory, so repeated test runs do not rebuild it and a changed
// peer.c gets a new build. (A t.TempDir would be removed when the first test that
// built it ends, and a TestMain to clean up a per-binary directory is not this file's
// to own.)
func buildCPeer(tb testing.TB) string {
	tb.Helper()
	cpeerBuild.once.Do(func() { cpeerBuild.path, cpeerBuild.err = compileCPeer() })
	if cpeerBuild.err != nil {
		tb.Fatalf("building the C libzmq peer: %v", cpeerBuild.err)
	}
	return cpeerBuild.path
}

func compileCPeer() (string, error) {
	src, err := filepath.Abs(filepath.Join("testdata", "cpeer", "peer.c"))
	if err != nil {
		return "", err
	}
	code, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("reading the peer's source: %w", err)
	}
	sum := sha256.Sum256(code)
	dir := filepath.Join(os.TempDir(), "dmbench-cpeer-"+hex.EncodeToString(sum[:8]))
	exe := filepath.Join(dir, "peer")
	if fi, err := os.Stat(exe); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return exe, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "peer-*.tmp")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command("cc", "-O2", "-Wall", "-o", tmp.Name(), src, "-lzmq")
	out, err := cmd.CombinedOutput()
	if err != nil {
		text := string(out)
		switch {
		case errors.Is(err, exec.ErrNotFound):
			return "", fmt.Errorf("no C compiler (cc) on PATH: install one and libzmq's headers, e.g. `apt-get install -y gcc libzmq3-dev`")
		case strings.Contains(text, "zmq.h"):
			return "", fmt.Errorf("zmq.h not found: install libzmq's development files with `apt-get install -y libzmq3-dev`\n%s", text)
		case strings.Contains(text, "-lzmq"):
			return "", fmt.Errorf("libzmq not found by the linker: install it with `apt-get install -y libzmq3-dev`\n%s", text)
		}
		return "", fmt.Errorf("cc %s: %v\n%s", src, err, text)
	}
	if err := os.Rename(tmp.Name(), exe); err != nil {
		return "", err
	}
	return exe, nil
}

// startCPeer starts the C peer with args; the test's cleanup ends it. stderr is kept
// for error messages.
func startCPeer(tb testing.TB, args ...string) *peerProcess {
	tb.Helper()
	return startPeerProcess(tb, exec.Command(buildCPeer(tb), args...))
}

// startCRouter starts the C peer's echo ROUTER on 127.0.0.1 and returns its endpoint.
func startCRouter(tb testing.TB, opts ...string) (*peerProcess, string) {
	tb.Helper()
	args := append(append([]string{"router"}, opts...), "tcp://127.0.0.1:0")
	p := startCPeer(tb, args...)
	ep := p.readLine(tb, 10*time.Second)
	if !strings.HasPrefix(ep, "tcp://127.0.0.1:") {
		tb.Fatalf("the C router printed %q, not its endpoint", ep)
	}
	return p, ep
}

// parseFields parses "k=v k=v" lines printed by the C peer.
func parseFields(line string) (map[string]float64, error) {
	out := make(map[string]float64)
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("field %q in %q is not key=value", f, line)
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("field %q in %q: %v", f, line, err)
		}
		out[k] = x
	}
	return out, nil
}

// cRelay is the C peer in relay mode: a libzmq DEALER driven through its stdin/stdout.
type cRelay struct {
	*peerProcess
	msgs chan [][]byte // messages the DEALER received
	done chan struct{} // closed when stdout ends
}

// startCRelay starts a libzmq DEALER connected to addr.
func startCRelay(tb testing.TB, addr string, opts ...string) *cRelay {
	tb.Helper()
	args := append(append([]string{"relay"}, opts...), addr)
	r := &cRelay{peerProcess: startCPeer(tb, args...), msgs: make(chan [][]byte, 16), done: make(chan struct{})}
	r.drained = r.done
	go func() {
		defer close(r.done)
		for {
			msg, err := readRelayMessage(r.stdout)
			if err != nil {
				return
			}
			select {
			case r.msgs <- msg:
			case <-time.After(10 * time.Second):
				return // nobody is reading: let the process end
			}
		}
	}()
	return r
}

func readRelayMessage(rd io.Reader) ([][]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(rd, hdr[:]); err != nil {
		return nil, err
	}
	msg := make([][]byte, binary.BigEndian.Uint32(hdr[:]))
	for i := range msg {
		if _, err := io.ReadFull(rd, hdr[:]); err != nil {
			return nil, err
		}
		msg[i] = make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(rd, msg[i]); err != nil {
			return nil, err
		}
	}
	return msg, nil
}

// send makes the libzmq DEALER send msg.
func (r *cRelay) send(tb testing.TB, msg [][]byte) {
	tb.Helper()
	var b []byte
	b = binary.BigEndian.AppendUint32(b, uint32(len(msg)))
	for _, f := range msg {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	if _, err := r.stdin.Write(b); err != nil {
		tb.Fatalf("writing to the C relay: %v (stderr: %s)", err, r.stderr.String())
	}
}

// recv returns the next message the libzmq DEALER received.
func (r *cRelay) recv(tb testing.TB, timeout time.Duration) [][]byte {
	tb.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-r.done:
		tb.Fatalf("the C relay ended before a reply came (stderr: %s)", r.stderr.String())
	case <-time.After(timeout):
		tb.Fatalf("no reply reached the C relay within %v (stderr: %s)", timeout, r.stderr.String())
	}
	return nil
}
