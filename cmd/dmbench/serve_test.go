package main

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dmbench/dmbench/broker"
)

// TestServeBind runs `dmbench serve --bind ...` and checks where it listens and what it
// tells clients: an IPv4 bind address listens on IPv4 only (0.0.0.0 is not also [::]),
// and for an unspecified bind address the base address printed is this machine's
// loopback, one a client can connect to, not 0.0.0.0. Tests dial only 127.0.0.1 and
// ::1 (which must not answer a server bound to IPv4 addresses; on a machine without IPv6
// it cannot).
func TestServeBind(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tests := []struct {
		bind, transport string
		wantHost        string   // the base address's host
		wantOthers      bool     // says what other machines use
		reach, refuse   []string // "network host" pairs dialled at the signalling port
	}{
		{bind: "0.0.0.0", transport: "native", wantHost: "127.0.0.1", wantOthers: true, reach: []string{"tcp4 127.0.0.1"}, refuse: []string{"tcp6 ::1"}},
		{bind: "0.0.0.0", transport: "zmq4", wantHost: "127.0.0.1", wantOthers: true, reach: []string{"tcp4 127.0.0.1"}, refuse: []string{"tcp6 ::1"}},
		{bind: "127.0.0.1", transport: "native", wantHost: "127.0.0.1", reach: []string{"tcp4 127.0.0.1"}, refuse: []string{"tcp6 ::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.bind+" "+tt.transport, func(t *testing.T) {
			sigPort := freePort(t)
			base := sigPort - 1
			lines, stop := startServe(t, "serve", "--bind", tt.bind, "--port", strconv.Itoa(base), "--transport", tt.transport)
			defer stop()

			out := strings.Join(lines, "\n")
			want := "tcp://" + net.JoinHostPort(tt.wantHost, strconv.Itoa(base))
			baseAddr := field(lines, "base address")
			if baseAddr != want {
				t.Fatalf("base address %q, want %q:\n%s", baseAddr, want, out)
			}
			if got := strings.Contains(out, "other machines use this host's address: tcp://HOST:"+strconv.Itoa(base)); got != tt.wantOthers {
				t.Errorf("says what other machines use: %v, want %v:\n%s", got, tt.wantOthers, out)
			}
			// The address printed is one to connect to.
			sig, err := broker.SignallingAddr(baseAddr)
			if err != nil {
				t.Fatal(err)
			}
			if got := field(lines, "signalling address"); got != sig {
				t.Errorf("signalling address %q, want %q", got, sig)
			}
			hostport := strings.TrimPrefix(sig, "tcp://")
			c, err := net.DialTimeout("tcp", hostport, 2*time.Second)
			if err != nil {
				t.Fatalf("the printed address does not connect: %v\n%s", err, out)
			}
			c.Close()
			for _, nh := range tt.reach {
				if err := dialOnce(nh, sigPort); err != nil {
					t.Errorf("%s: %v", nh, err)
				}
			}
			for _, nh := range tt.refuse {
				if err := dialOnce(nh, sigPort); err == nil {
					t.Errorf("%s: connected to a server bound to %s", nh, tt.bind)
				}
			}
		})
	}
}

// freePort returns a TCP port free on both stacks a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// dialOnce connects to host:port over network, given as "network host", and hangs up.
func dialOnce(networkHost string, port int) error {
	network, host, _ := strings.Cut(networkHost, " ")
	c, err := net.DialTimeout(network, net.JoinHostPort(host, strconv.Itoa(port)), 2*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// field returns the first word after label on the line starting with it.
func field(lines []string, label string) string {
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, label); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	return ""
}

// startServe runs the CLI with args (a serve command) until it prints "stop with", and
// returns the lines it printed by then and a function that stops it and waits for it to
// end (startServeOutput, without what it prints on stopping).
func startServe(t *testing.T, args ...string) (lines []string, stop func()) {
	t.Helper()
	head, stopOutput := startServeOutput(t, args...)
	return strings.Split(strings.TrimSuffix(head, "\n"), "\n"), func() { stopOutput() }
}
