package loadgen

import (
	"testing"
	"time"

	"github.com/dmbench/dmbench/protocol"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		req, reply protocol.Command
		want       evKind
	}{
		{protocol.GroupAdd, protocol.Complete, evOK},
		{protocol.GroupDiscard, protocol.Complete, evOK},
		{protocol.Flush, protocol.Complete, evOK},
		{protocol.Print, protocol.Complete, evOK},
		{protocol.Heartbeat, protocol.Heartbeat, evOK}, // 0.2.1's echo is the right answer
		{protocol.Performance, protocol.PerformanceReport, evOK},
		{protocol.Performance, protocol.Performance, evUnexpected}, // 0.2.1 echoes: not a report
		{protocol.GroupAdd, protocol.GroupAdd, evUnexpected},       // 0.2.1's echo on failure
		{protocol.GroupAdd, protocol.Exception, evException},
		{protocol.Heartbeat, protocol.Exception, evException},
		{protocol.Heartbeat, protocol.Complete, evUnexpected},
		{protocol.GroupAdd, "", evUnexpected},
		{"BOGUSCMD", "BOGUSCMD", evUnexpected},
		{"BOGUSCMD", protocol.Exception, evException},
		{"BOGUSCMD", "", evUnexpected},
	}
	for _, tc := range tests {
		if got := classify(tc.req, tc.reply); got != tc.want {
			t.Errorf("classify(%q, %q) = %d, want %d", tc.req, tc.reply, got, tc.want)
		}
	}
}

// testEngine is an engine with two stages and two commands, for id tests.
func testEngine() *engine {
	e := &engine{plan: &Plan{Stages: make([]Stage, 2)}, cmds: []protocol.Command{protocol.GroupAdd, protocol.Heartbeat}}
	copy(e.nonce[:], "NONCE123")
	return e
}

// TestHandleMatching drives a client's receiver side directly: each reply is matched,
// classified and counted exactly once.
func TestHandleMatching(t *testing.T) {
	e := testEngine()
	e.base = time.Now()
	e.plan.Warmup = 0
	batches := make(chan *batch, 16)
	e.batches = batches
	c := newClient(e, 0)
	c.fifos = []*fifo{{timeout: int64(time.Second)}}

	// Outstanding: seq 0 (GROUPADD, stage 0), seq 1 (HARTBEAT, stage 1), seq 2 timed out.
	now := e.now()
	later := now + int64(time.Hour)
	c.out.put(0, pending{intended: now - 2000, sent: now - 1000, deadline: later, bucket: 1, cmd: 0})
	c.out.put(1, pending{intended: now, sent: now, deadline: later, bucket: 2, cmd: 1})
	c.out.put(2, pending{intended: now, sent: now, deadline: now - 1, bucket: 1, cmd: 0})
	c.fifos[0].push(fifoEntry{seq: 2, deadline: now - 1}) // deadlines are in queue order
	c.fifos[0].push(fifoEntry{seq: 0, deadline: now + int64(time.Second)})
	c.fifos[0].push(fifoEntry{seq: 1, deadline: now + int64(time.Second)})
	c.outstanding.Store(3)
	c.nextSeq.Store(3)
	c.expire(e.now()) // seq 2 times out

	frames := func(id []byte, cmd protocol.Command) [][]byte {
		return [][]byte{{}, id, []byte(cmd), {0x80}}
	}
	var msg protocol.Message
	steps := []struct {
		name   string
		frames [][]byte
		want   evKind
		bucket uint16
		cmd    uint8
	}{
		{"GROUPADD answered COMPLETE", frames(makeID("NONCE123", 0, 1, 0), protocol.Complete), evOK, 1, 0},
		{"the same reply again", frames(makeID("NONCE123", 0, 1, 0), protocol.Complete), evDuplicate, 1, 0},
		{"HARTBEAT echoed as GROUPADD", frames(makeID("NONCE123", 1, 2, 1), protocol.GroupAdd), evUnexpected, 2, 1},
		{"a reply after its timeout", frames(makeID("NONCE123", 2, 1, 0), protocol.Complete), evLate, 1, 0},
		{"a sequence never issued", frames(makeID("NONCE123", 99, 1, 0), protocol.Complete), evUnmatched, 1, 0},
		{"another run's id", frames(makeID("OTHERRUN", 0, 1, 0), protocol.Complete), evUnmatched, 1, 0},
		{"no delimiter", [][]byte{[]byte("x"), []byte("y")}, evUndecodable, 1, 0},
		{"too few frames", [][]byte{{}, makeID("NONCE123", 0, 1, 0)}, evUndecodable, 1, 0},
	}
	for _, st := range steps {
		c.handle(st.frames, e.now(), &msg)
	}
	c.rb.flush()
	b := <-batches
	// The timeout comes first (from expire), then one event per step.
	if len(b.ev) != 1+len(steps) {
		t.Fatalf("%d events, want %d", len(b.ev), 1+len(steps))
	}
	if ev := b.ev[0]; ev.kind != evTimeout || ev.cmd != 0 || ev.bucket != 1 {
		t.Errorf("first event %+v, want the timeout of seq 2", ev)
	}
	for i, st := range steps {
		ev := b.ev[i+1]
		if ev.kind != st.want {
			t.Errorf("%s: kind %d, want %d", st.name, ev.kind, st.want)
		}
		if st.want != evUnmatched && st.want != evUndecodable && (ev.bucket != st.bucket || ev.cmd != st.cmd) {
			t.Errorf("%s: bucket %d cmd %d, want %d and %d", st.name, ev.bucket, ev.cmd, st.bucket, st.cmd)
		}
	}
	if ev := b.ev[1]; ev.v1 < 2 || ev.v2 < 1 || ev.v1 < ev.v2 {
		t.Errorf("OK reply latencies corrected %d µs, uncorrected %d µs: want corrected ≥ uncorrected ≥ 1", ev.v1, ev.v2)
	}
	if n := c.outstanding.Load(); n != 0 || c.out.len() != 0 {
		t.Errorf("%d outstanding (%d in the table) after every request ended, want 0", n, c.out.len())
	}
}

// TestExpireExact checks that a timeout is recorded at deadline − intended, however late
// the check runs, and that answered requests leave the timeout queue.
func TestExpireExact(t *testing.T) {
	e := testEngine()
	e.base = time.Now()
	batches := make(chan *batch, 4)
	e.batches = batches
	c := newClient(e, 0)
	f := c.fifoFor(int64(time.Second))
	// seq 0: intended 0, sent 5 ms later, deadline sent + 1 s. seq 1 answered already.
	c.out.put(0, pending{intended: 0, sent: int64(5 * time.Millisecond), bucket: 1})
	f.push(fifoEntry{seq: 0, deadline: int64(1005 * time.Millisecond)})
	f.push(fifoEntry{seq: 1, deadline: int64(1006 * time.Millisecond)})
	c.outstanding.Store(1)

	c.expire(int64(1004 * time.Millisecond)) // not yet
	if c.outstanding.Load() != 1 {
		t.Fatal("timed out before the deadline")
	}
	c.expire(int64(1300 * time.Millisecond)) // detected 295 ms late
	c.rb.flush()
	b := <-batches
	if len(b.ev) != 1 || b.ev[0].kind != evTimeout {
		t.Fatalf("events %+v, want one timeout", b.ev)
	}
	if got, want := b.ev[0].v1, int64(1005000); got != want {
		t.Errorf("timeout recorded at %d µs, want %d (deadline − intended)", got, want)
	}
	if b.ev[0].at != int64(1005*time.Millisecond) {
		t.Errorf("timeout dated %d ns, want the deadline", b.ev[0].at)
	}
	if !f.empty() {
		t.Errorf("timeout queue still holds %d entries", len(f.q)-f.head)
	}
}

// TestRecorderMerge feeds two recorders and checks that merged cumulative figures and
// intervals hold every event once, intervals by event time and the warm-up's requests
// (bucket 0) apart from the stages'.
func TestRecorderMerge(t *testing.T) {
	in := make(chan *batch, 8)
	r1, r2 := newRecorder(in, 2, 2), newRecorder(in, 2, 2)
	s := func(at time.Duration, kind evKind, cmd uint8, v1, v2 int64) event {
		return event{at: int64(at), kind: kind, bucket: 1, cmd: cmd, v1: v1, v2: v2}
	}
	w := func(at time.Duration, kind evKind, cmd uint8, v1, v2 int64) event {
		ev := s(at, kind, cmd, v1, v2)
		ev.bucket = 0
		return ev
	}
	b1 := &batch{ev: []event{
		s(100*time.Millisecond, evSent, 0, 10, 0),
		s(200*time.Millisecond, evOK, 0, 500, 400),
		s(1500*time.Millisecond, evSent, 1, 20, 0),
	}}
	b2 := &batch{ev: []event{
		s(300*time.Millisecond, evSent, 0, 30, 0),
		s(1200*time.Millisecond, evTimeout, 0, 2000000, 0),
		s(1600*time.Millisecond, evException, 1, 700, 600),
		{at: int64(1700 * time.Millisecond), kind: evUnmatched, bucket: 1},
		w(1100*time.Millisecond, evOK, 0, 900, 800), // a warm-up request answered in interval 1
	}}
	r1.consume(b1)
	r2.consume(b2)

	// Interval 0 from both recorders.
	iv, warm := mergeIntervals(2, []*intervalRec{r1.close(0), r2.close(0)})
	if warm != nil {
		t.Errorf("interval 0 has a warm-up part %+v, want none", warm)
	}
	if iv[0] == nil || iv[0].counts.Sent != 2 || iv[0].counts.OK != 1 || iv[0].corrected.TotalCount() != 1 {
		t.Errorf("interval 0 GROUPADD: %+v, want 2 sent and 1 OK", iv[0])
	}
	if iv[1] != nil {
		t.Errorf("interval 0 has HARTBEAT %+v, want none", iv[1])
	}
	// A late event for interval 0 goes to the oldest open one.
	r1.consume(&batch{ev: []event{s(900*time.Millisecond, evOK, 0, 800, 700)}})
	iv, warm = mergeIntervals(2, []*intervalRec{r1.close(1), r2.close(1)})
	if iv[0].counts.Timeouts != 1 || iv[0].counts.OK != 1 || iv[0].corrected.TotalCount() != 2 {
		t.Errorf("interval 1 GROUPADD: %+v, want the timeout and the late OK", iv[0].counts)
	}
	if iv[1].counts.Sent != 1 || iv[1].counts.Exceptions != 1 {
		t.Errorf("interval 1 HARTBEAT %+v; want 1 sent, 1 exception", iv[1].counts)
	}
	if warm == nil || warm[0] == nil || warm[1] != nil {
		t.Fatalf("interval 1 warm-up part %+v, want GROUPADD only", warm)
	}
	if warm[0].counts.OK != 1 || warm[0].counts.Sent != 0 || warm[0].corrected.TotalCount() != 1 || warm[0].corrected.Max() < 900 {
		t.Errorf("interval 1 warm-up GROUPADD %+v (corrected max %d), want the one OK at 900 µs", warm[0].counts, warm[0].corrected.Max())
	}

	cum := mergeCumulative(2, 2, [][]bucketRec{r1.cum, r2.cum})
	ga, hb := cum[1].cmds[0], cum[1].cmds[1]
	if ga.counts.Sent != 2 || ga.counts.OK != 2 || ga.counts.Timeouts != 1 {
		t.Errorf("cumulative GROUPADD %+v", ga.counts)
	}
	if ga.sendDelay.TotalCount() != 2 || ga.sendDelay.Max() < 30 || ga.corrected.TotalCount() != 3 || ga.uncorrected.TotalCount() != 2 {
		t.Errorf("cumulative GROUPADD histograms: %d send delays (max %d), %d corrected, %d uncorrected",
			ga.sendDelay.TotalCount(), ga.sendDelay.Max(), ga.corrected.TotalCount(), ga.uncorrected.TotalCount())
	}
	if got := ga.corrected.Max(); got < 1990000 {
		t.Errorf("corrected max %d µs, want the 2 s timeout", got)
	}
	if hb.counts.Sent != 1 || hb.counts.Exceptions != 1 || cum[1].unmatched != 1 {
		t.Errorf("cumulative HARTBEAT %+v, unmatched %d", hb.counts, cum[1].unmatched)
	}
	if wga := cum[0].cmds[0]; wga == nil || wga.counts.OK != 1 || wga.corrected.TotalCount() != 1 {
		t.Errorf("cumulative warm-up GROUPADD %+v, want the one OK", wga)
	}
}

// TestRecordClamped checks that values outside the histogram's range are kept at its
// bounds, so a 72 s stall and any timeout are recordable and nothing is lost.
func TestRecordClamped(t *testing.T) {
	tests := []struct {
		v    int64
		want int64 // approximate (3 significant digits)
	}{
		{-5, 0},
		{1, 1},
		{int64(72 * time.Second / time.Microsecond), int64(72 * time.Second / time.Microsecond)},
		{int64(MaxLatency/time.Microsecond) * 10, int64(MaxLatency / time.Microsecond)},
	}
	for _, tc := range tests {
		h := NewHistogram()
		recordClamped(h, tc.v)
		if h.TotalCount() != 1 {
			t.Errorf("recordClamped(%d) dropped the value", tc.v)
			continue
		}
		if got := h.Max(); !h.ValuesAreEquivalent(got, tc.want) && got < tc.want-tc.want/1000 {
			t.Errorf("recordClamped(%d): max %d, want ≈ %d", tc.v, got, tc.want)
		}
	}
}
