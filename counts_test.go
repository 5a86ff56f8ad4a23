package dmbench_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/report"
	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/transport"
)

// doublingServer answers every request twice (a duplicate reply) and every third one
// with EXCEPTON, so a run against it has errors and duplicates.
func doublingServer(t *testing.T) string {
	t.Helper()
	r, err := transport.Listen(transport.Native, "tcp://127.0.0.1:0", transport.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var msg protocol.Message
		for n := 0; ; n++ {
			frames, err := r.Recv()
			if err != nil {
				return
			}
			if err := protocol.DecodeHeader(frames[1:], &msg); err != nil {
				continue
			}
			reply := msg.Command.ExpectedReply()
			if n%3 == 0 {
				reply = protocol.Exception
			}
			out := [][]byte{frames[0], nil, append([]byte(nil), msg.ID...), []byte(reply), {0x80}}
			_ = r.Send(out)
			_ = r.Send(out)
		}
	}()
	t.Cleanup(func() { r.Close(); <-done })
	return r.Addr()
}

// TestErrorCountsAgree: the live progress line, the summary and the benchmark report count
// the same errors for a run with exceptions and duplicate replies, and none of them counts
// a duplicate as an error.
func TestErrorCountsAgree(t *testing.T) {
	plan := loadgen.Plan{Name: "dup", Timeout: time.Second, Stages: []loadgen.Stage{{
		Name: "steady", Duration: 2 * time.Second, Clients: 2,
		Open: &loadgen.Open{Rate: 300},
		Mix:  []loadgen.Request{{Command: protocol.Heartbeat, Weight: 1, Ack: true}},
	}}}
	var mu sync.Mutex
	var live int64
	cfg := loadgen.Config{Plan: plan, Addr: doublingServer(t), Progress: func(p loadgen.Progress) {
		mu.Lock()
		live = p.Errors
		mu.Unlock()
	}}
	res, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := resultfmt.FromLoadgen(resultfmt.Meta{}, res)
	c := r.Stages[0].Commands[0].Counts
	if c.Exceptions == 0 || c.Duplicates == 0 {
		t.Fatalf("counts %+v: want exceptions and duplicates", c)
	}
	var sum bytes.Buffer
	if err := report.Summary(&sum, r, report.SummaryOptions{Width: 120}); err != nil {
		t.Fatal(err)
	}
	var printed uint64 // the ERRORS column (errors folded into one at 120 columns)
	for _, line := range strings.Split(sum.String(), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[0] == "HARTBEAT" {
			n, err := strconv.ParseUint(f[3], 10, 64)
			if err != nil {
				t.Fatalf("summary row %q: %v", line, err)
			}
			printed += n
		}
	}
	mu.Lock()
	defer mu.Unlock()
	bench := scenarioMetrics(res).errors
	if uint64(live) != c.Errors() || printed != c.Errors() || bench != c.Errors() {
		t.Errorf("errors: progress line %d, summary %d, benchmark %d, result %d (with %d duplicates): want them equal",
			live, printed, bench, c.Errors(), c.Duplicates)
	}
}
