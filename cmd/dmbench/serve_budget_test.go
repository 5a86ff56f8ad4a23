package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/goleak"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// TestServeBudgetAcceptLog feeds failed accepts to the log at given times: it writes at
// most one line per interval, counts the failures in between, and says what to do about
// running out of file descriptors.
func TestServeBudgetAcceptLog(t *testing.T) {
	emfile := fmt.Errorf("accept tcp 127.0.0.1:5557: %w", os.NewSyscallError("accept4", syscall.EMFILE))
	enfile := fmt.Errorf("accept: %w", syscall.ENFILE)
	other := errors.New("accept: something else")
	tests := []struct {
		at   time.Duration
		err  error
		want string // a fragment of the line written, "" for none
	}{
		{0, emfile, "cannot accept connections: out of file descriptors (the process's limit is"},
		{time.Millisecond, emfile, ""},
		{5 * time.Second, emfile, ""},
		{10 * time.Second, emfile, "3 failed since the last message"},
		{11 * time.Second, enfile, ""},
		{20 * time.Second, enfile, "the system's file table is full"},
		{40 * time.Second, other, "accepting a connection failed: accept: something else"},
	}
	var out bytes.Buffer
	base := time.Unix(1_700_000_000, 0)
	var now time.Time
	l := &acceptErrorLog{w: &out, every: 10 * time.Second, now: func() time.Time { return now }}
	for _, tt := range tests {
		now = base.Add(tt.at)
		out.Reset()
		l.note(tt.err)
		got := out.String()
		switch {
		case tt.want == "" && got != "":
			t.Errorf("at %v: wrote %q, want nothing (rate limit)", tt.at, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("at %v: wrote %q, want %q in it", tt.at, got, tt.want)
		case tt.want != "" && strings.Count(got, "\n") != 1:
			t.Errorf("at %v: wrote %q, want one line", tt.at, got)
		}
		if errors.Is(tt.err, syscall.EMFILE) && got != "" && (!strings.Contains(got, "raise the limit") || !strings.Contains(got, "fewer clients")) {
			t.Errorf("at %v: %q does not say what to do", tt.at, got)
		}
	}
}

// TestServeBudgetFlags checks that the budget flags reach the broker's router options,
// with the documented defaults, and count as broker flags (which run refuses with
// --target).
func TestServeBudgetFlags(t *testing.T) {
	tests := []struct {
		args []string
		want transport.ListenOptions
	}{
		{nil, transport.ListenOptions{MaxRecvRetained: 4 << 20, MaxRecvRetainedTotal: 256 << 20, MaxSendQueued: 4 << 20, MaxSendQueuedTotal: 256 << 20}},
		{[]string{"--max-recv-retained", "1MiB", "--max-recv-retained-total", "64MiB", "--max-send-queued", "512KiB", "--max-send-queued-total", "1GiB"},
			transport.ListenOptions{MaxRecvRetained: 1 << 20, MaxRecvRetainedTotal: 64 << 20, MaxSendQueued: 512 << 10, MaxSendQueuedTotal: 1 << 30}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			bf := addBrokerFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := bf.config(transport.Native, "tcp://127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.Listen
			if got.MaxRecvRetained != tt.want.MaxRecvRetained || got.MaxRecvRetainedTotal != tt.want.MaxRecvRetainedTotal ||
				got.MaxSendQueued != tt.want.MaxSendQueued || got.MaxSendQueuedTotal != tt.want.MaxSendQueuedTotal {
				t.Errorf("listen options %+v, want %+v", got, tt.want)
			}
			if set := brokerFlagsChanged(fs); len(set) != len(tt.args)/2 {
				t.Errorf("brokerFlagsChanged = %v, want the %d flags given", set, len(tt.args)/2)
			}
		})
	}
}

// TestServeBudgetDropsReported floods `dmbench serve` from clients that send GROUPADDs
// with 60 KB ids and never read their replies: the replies dropped for full send queues
// show in the PERFRPRT a reading client asks for, and serve says on stopping what it
// dropped and why.
func TestServeBudgetDropsReported(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	sigPort := freePort(t)
	out, stop := startServeOutput(t, "serve", "--port", strconv.Itoa(sigPort-1),
		"--max-send-queued", "64KiB", "--max-send-queued-total", "1MiB")
	sig := "tcp://127.0.0.1:" + strconv.Itoa(sigPort)

	req := protocol.Encode(&protocol.Message{
		ID:         bytes.Repeat([]byte{'i'}, 60_000),
		Command:    protocol.GroupAdd,
		Properties: protocol.Properties{GroupName: []byte("g"), ChannelName: []byte("c"), Ack: true},
	})
	var hostile []transport.Dealer
	var wg sync.WaitGroup
	for range 4 {
		d, err := transport.Dial(t.Context(), transport.Native, sig, transport.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		hostile = append(hostile, d)
		wg.Add(1)
		go func() { // sends and never calls Recv: the DEALER reads nothing
			defer wg.Done()
			for range 120 {
				if d.Send(req) != nil {
					return
				}
			}
		}()
	}
	good, err := transport.Dial(t.Context(), transport.Native, sig, transport.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	var reported uint64
	for deadline := time.Now().Add(20 * time.Second); reported == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no reply dropped for a full send queue in the broker's reports within 20 s")
		}
		if err := good.Send(protocol.Encode(&protocol.Message{ID: []byte("r"), Command: protocol.Performance,
			Properties: protocol.Properties{Ack: true}})); err != nil {
			t.Fatal(err)
		}
		_ = good.SetRecvDeadline(time.Now().Add(5 * time.Second))
		frames, err := good.Recv()
		if err != nil {
			t.Fatalf("PERFMNCE: %v", err)
		}
		var m protocol.Message
		if err := protocol.Decode(frames, &m); err != nil || m.Command != protocol.PerformanceReport {
			t.Fatalf("PERFMNCE answered with %s: %v", m.Command, err)
		}
		rep, err := protocol.DecodeReport(m.RawProperties)
		if err != nil {
			t.Fatal(err)
		}
		reported = rep.Dropped.QueueFull
	}
	for _, d := range hostile {
		d.Close()
	}
	wg.Wait()
	text := stop()
	line := ""
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "dropped ") {
			line = l
		}
	}
	var n uint64
	if _, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "dropped")), "%d replies", &n); err != nil || n < reported ||
		!strings.Contains(line, "full send queues") || !strings.Contains(line, "--max-send-queued 64KiB") {
		t.Errorf("serve's drop line %q: want at least the %d replies PERFRPRT reported, and why\n%s", line, reported, text)
	}
	if !strings.Contains(text, "memory budget      peaks:") {
		t.Errorf("no memory budget peaks when stopping:\n%s", text)
	}
	if !strings.Contains(out, "memory budget      received 4MiB per connection, 256MiB in all; replies queued 64KiB per client, 1MiB in all") {
		t.Errorf("the budget is not shown at start:\n%s", out)
	}
}

// startServeOutput runs the CLI with args (a serve command) until it prints "stop with",
// and returns what it printed by then and a function that stops it and returns what it
// printed after.
func startServeOutput(t *testing.T, args ...string) (string, func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(pw)
	root.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() {
		err := root.ExecuteContext(ctx)
		pw.Close()
		done <- err
	}()
	br := bufio.NewReader(pr)
	var head strings.Builder
	for {
		l, err := br.ReadString('\n')
		head.WriteString(l)
		if strings.HasPrefix(l, "stop with") {
			break
		}
		if err != nil {
			cancel()
			<-done
			t.Fatalf("serve %v did not start:\n%s", args, head.String())
		}
	}
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(br)
		rest <- string(b)
	}()
	var once sync.Once
	var tail string
	stop := func() string {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("serve did not stop within 10s of its context ending")
			}
			tail = <-rest
		})
		return tail
	}
	t.Cleanup(func() { stop() })
	return head.String(), stop
}

// TestServeBudgetDropLines checks what serve says on stopping about what it dropped, why,
// and its memory budget's peaks.
func TestServeBudgetDropLines(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	bf := addBrokerFlags(fs)
	tests := []struct {
		name   string
		d      protocol.Dropped
		rs     transport.RouterStats
		native bool
		want   []string
	}{
		{"nothing", protocol.Dropped{}, transport.RouterStats{}, true, []string{
			"dropped            nothing",
			"memory budget      peaks: 0 B received and not yet processed (never paused reading), 0 B of replies queued",
		}},
		{"full queues, PONGs and faults", protocol.Dropped{Requests: 2, Replies: 3, QueueFull: 7},
			transport.RouterStats{SendDropped: 7, SendDroppedBytes: 7 * 60_000, PongsDropped: 4, RecvPauses: 9,
				PeakRetainedRecvBytes: 3 << 20, PeakQueuedSendBytes: 1536 << 10}, true, []string{
				"dropped            7 replies (410.2 KiB) for full send queues: their clients were not reading them (caps --max-send-queued 4MiB per client, --max-send-queued-total 256MiB)",
				"                   4 PONGs (answers to ZMTP PINGs) for full send queues",
				"                   2 requests and 3 replies on purpose (the --drop-requests and --drop-replies faults)",
				"memory budget      peaks: 3.0 MiB received and not yet processed (paused reading a connection 9 times at the caps), 1.5 MiB of replies queued",
			}},
		{"zmq4 has no budget", protocol.Dropped{}, transport.RouterStats{}, false, []string{"dropped            nothing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dropLines(tt.d, tt.rs, tt.native, bf)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
