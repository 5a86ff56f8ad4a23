package loadgen

import (
	"sort"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Recording.
//
// Senders and receivers never touch a histogram. Each appends small fixed-size events to
// a batch of its own and hands a full batch (or one older than maxBatchAge) to a shared
// channel. A few recorder goroutines (GOMAXPROCS of them) read that channel; each owns
// its histograms, so the hot path takes no lock. A recorder keeps, per bucket (the
// warm-up, or a stage) and command, cumulative counts and corrected, uncorrected and
// send-delay histograms, and per open one-second interval and command, counts and
// corrected and uncorrected histograms, for the warm-up's requests apart from the
// stages' (so that an interval log can be read without the warm-up, as the summary
// is). The interval closer asks every recorder for
// interval k once k has ended and a grace period has passed, merges their parts, hands
// the result to Config.Intervals and forgets it, so memory does not grow with the run.
// At the end the recorders' cumulative state is merged into the Result.
//
// Histograms are created lazily, only for the (bucket, command) pairs and intervals that
// see events: with N recorders, B buckets and K commands at most 3·N·B·K cumulative
// histograms exist, whatever the number of clients.

// evKind is what an event says happened.
type evKind uint8

const (
	evSent        evKind = iota + 1 // a request went out; v1 = send delay µs
	evSentNoAck                     // a request without ack went out; v1 = send delay µs
	evSendErr                       // the transport refused a request
	evOK                            // the expected reply; v1 corrected, v2 uncorrected µs
	evException                     // EXCEPTON; v1, v2 as evOK
	evUnexpected                    // a reply with another command; v1, v2 as evOK
	evTimeout                       // no reply by the deadline; v1 = deadline − intended µs
	evAbandoned                     // outstanding when the run ended
	evLate                          // a reply to a request that had timed out
	evDuplicate                     // a second reply to an answered request
	evUndecodable                   // a frame that is not a signalling message (bucket only)
	evUnmatched                     // an id this client never sent (bucket only)
)

// event is one thing that happened, at ns since the run's start. 32 bytes.
type event struct {
	at     int64 // ns since Result.Start: the send, the reply, or a timeout's deadline
	v1, v2 int64 // µs, as evKind says
	bucket uint16
	cmd    uint8
	kind   evKind
}

// Batching limits: a batch goes to the recorders when it holds batchSize events or its
// oldest event is maxBatchAge old (a receiver sets its receive deadline for that moment,
// and sends a batch at once when nothing can join it before then); intervals close
// intervalGrace after they end, which must exceed maxBatchAge plus the receivers' wake
// delay (timer slack, a few ms; a timeout is found when its deadline passes, or within
// the engine's tick, at most 100 ms, while a connection is down) so that events arrive
// in time.
// A batcher that many clients share (the pacer's, an I/O loop's) holds up to
// sharedBatchSize: each batch wakes a recorder's goroutine, which on this VM costs tens
// of µs of CPU across the threads involved, so a keepalive storm's 10,000 events a second
// make ~10 wake-ups, not ~40.
const (
	batchSize       = 256
	sharedBatchSize = 1024
	maxBatchAge     = 100 * time.Millisecond
	intervalLen     = time.Second
	intervalGrace   = time.Second
)

// batch is a slice of events on its way to a recorder.
type batch struct {
	ev []event
}

var batchPool = sync.Pool{New: func() any { return &batch{ev: make([]event, 0, batchSize)} }}

// batcher is a goroutine's local batch. Not safe for concurrent use.
type batcher struct {
	out chan<- *batch
	b   *batch
	// first is when the oldest event in b was appended, in ns since the run's start.
	first int64
	size  int // events per batch; 0: batchSize
}

// add appends e, sending the batch on when it is full.
func (bt *batcher) add(e event, now int64) {
	if bt.b == nil {
		bt.b = batchPool.Get().(*batch)
		bt.first = now
	}
	bt.b.ev = append(bt.b.ev, e)
	if n := len(bt.b.ev); n >= batchSize && n >= bt.size {
		bt.flush()
	}
}

// flushIfOld sends the batch on when its oldest event would be older than maxBatchAge
// at time until (ns): a goroutine about to wait calls it with the time it will wake.
func (bt *batcher) flushIfOld(until int64) {
	if bt.b != nil && until-bt.first >= int64(maxBatchAge) {
		bt.flush()
	}
}

// flush sends the batch on, if there is one.
func (bt *batcher) flush() {
	if bt.b == nil {
		return
	}
	bt.out <- bt.b
	bt.b = nil
}

// recorded are the figures of one (bucket, command) pair.
type recorded struct {
	counts                 Counts
	corrected, uncorrected *hdrhistogram.Histogram
	sendDelay              *hdrhistogram.Histogram
}

// bucketRec is a bucket's figures: per command, and the replies that could not be tied to
// a command.
type bucketRec struct {
	cmds        []*recorded // by command index; nil until the command is seen
	undecodable uint64
	unmatched   uint64
}

// intervalRec is one interval's figures, per command index: of the stages' requests
// (buckets 1 and up) in cmds, of the warm-up's (bucket 0) in warmup, which stays nil
// while the interval sees none. Replies tied to no command (undecodable, unmatched) are
// counted only in the bucket's cumulative figures.
type intervalRec struct {
	k      int64
	cmds   []*recorded
	warmup []*recorded
}

// recorder owns histograms and is fed batches. One goroutine per recorder.
type recorder struct {
	in    <-chan *batch
	ctl   chan recReq
	ncmd  int
	cum   []bucketRec // by bucket
	open  map[int64]*intervalRec
	last  *intervalRec // the interval of the previous event, to skip the map lookup
	floor int64        // intervals below floor are closed: later events go to floor
}

// recReq asks a recorder for interval k (close) or for everything (final).
type recReq struct {
	final bool
	k     int64
	reply chan recReply
}

// recReply is a recorder's answer: the interval asked for (nil if it saw nothing), or,
// for a final request, every open interval in order and the cumulative figures.
type recReply struct {
	iv   *intervalRec
	rest []*intervalRec
	cum  []bucketRec
}

func newRecorder(in <-chan *batch, buckets, ncmd int) *recorder {
	return &recorder{
		in:   in,
		ctl:  make(chan recReq),
		ncmd: ncmd,
		cum:  make([]bucketRec, buckets),
		open: make(map[int64]*intervalRec),
	}
}

// run consumes batches until a final request, which it answers after the input channel
// is closed and drained.
func (r *recorder) run() {
	in := r.in
	for {
		select {
		case b, ok := <-in:
			if !ok {
				in = nil // closed: wait for the final request
				continue
			}
			r.consume(b)
		case req := <-r.ctl:
			if !req.final {
				req.reply <- recReply{iv: r.close(req.k)}
				continue
			}
			for b := range r.in {
				r.consume(b)
			}
			rest := make([]*intervalRec, 0, len(r.open))
			for _, iv := range r.open {
				rest = append(rest, iv)
			}
			sort.Slice(rest, func(i, j int) bool { return rest[i].k < rest[j].k })
			req.reply <- recReply{rest: rest, cum: r.cum}
			return
		}
	}
}

// close removes and returns interval k; later events for k or earlier go to k+1.
func (r *recorder) close(k int64) *intervalRec {
	if k+1 > r.floor {
		r.floor = k + 1
	}
	iv := r.open[k]
	delete(r.open, k)
	if r.last != nil && r.last.k <= k {
		r.last = nil
	}
	return iv
}

func (r *recorder) consume(b *batch) {
	for i := range b.ev {
		r.record(&b.ev[i])
	}
	b.ev = b.ev[:0]
	batchPool.Put(b)
}

// record adds one event to the cumulative figures and to its interval.
func (r *recorder) record(e *event) {
	br := &r.cum[e.bucket]
	switch e.kind {
	case evUndecodable:
		br.undecodable++
		return
	case evUnmatched:
		br.unmatched++
		return
	}
	if int(e.cmd) >= r.ncmd {
		return // cannot happen: ids are checked before events are made
	}
	k := e.at / int64(intervalLen)
	if k < r.floor {
		k = r.floor
	}
	iv := r.last
	if iv == nil || iv.k != k {
		iv = r.open[k]
		if iv == nil {
			iv = &intervalRec{k: k, cmds: make([]*recorded, r.ncmd)}
			r.open[k] = iv
		}
		r.last = iv
	}
	if br.cmds == nil {
		br.cmds = make([]*recorded, r.ncmd)
	}
	c := br.cmds[e.cmd]
	if c == nil {
		c = &recorded{corrected: NewHistogram(), uncorrected: NewHistogram(), sendDelay: NewHistogram()}
		br.cmds[e.cmd] = c
	}
	apply(c, e)
	slots := iv.cmds
	if e.bucket == 0 {
		if iv.warmup == nil {
			iv.warmup = make([]*recorded, r.ncmd)
		}
		slots = iv.warmup
	}
	ic := slots[e.cmd]
	if ic == nil {
		ic = &recorded{corrected: getHist(), uncorrected: getHist(), sendDelay: getHist()}
		slots[e.cmd] = ic
	}
	apply(ic, e)
}

// apply counts e in c and records its values.
func apply(c *recorded, e *event) {
	switch e.kind {
	case evSent, evSentNoAck:
		c.counts.Sent++
		if e.kind == evSentNoAck {
			c.counts.NoAck++
		}
		if c.sendDelay != nil {
			recordClamped(c.sendDelay, e.v1)
		}
	case evSendErr:
		c.counts.SendErrors++
	case evOK, evException, evUnexpected:
		switch e.kind {
		case evOK:
			c.counts.OK++
		case evException:
			c.counts.Exceptions++
		default:
			c.counts.Unexpected++
		}
		recordClamped(c.corrected, e.v1)
		recordClamped(c.uncorrected, e.v2)
	case evTimeout:
		c.counts.Timeouts++
		recordClamped(c.corrected, e.v1)
	case evAbandoned:
		c.counts.Abandoned++
	case evLate:
		c.counts.Late++
	case evDuplicate:
		c.counts.Duplicates++
	}
}

// recordClamped records v µs, clamped into the histogram's range, so that no value is
// silently lost: a value past MaxLatency reads as MaxLatency.
func recordClamped(h *hdrhistogram.Histogram, v int64) {
	if v < 0 {
		v = 0
	}
	if hi := h.HighestTrackableValue(); v > hi {
		v = hi
	}
	_ = h.RecordValue(v) // in range, so it cannot fail
}

// histPool recycles interval histograms, which are merged and dropped every second.
var histPool = sync.Pool{New: func() any { return NewHistogram() }}

func getHist() *hdrhistogram.Histogram { return histPool.Get().(*hdrhistogram.Histogram) }

func putHist(h *hdrhistogram.Histogram) {
	h.Reset()
	histPool.Put(h)
}

// mergeIntervals merges the recorders' parts of one interval into the first part's
// figures (allocating where it has none) and returns the merged per-command figures of
// the stages' requests and of the warm-up's (nil when no part has any), recycling the
// other parts' histograms.
func mergeIntervals(ncmd int, parts []*intervalRec) (stages, warmup []*recorded) {
	stages = make([]*recorded, ncmd)
	for _, p := range parts {
		if p == nil {
			continue
		}
		mergeInto(stages, p.cmds)
		if p.warmup != nil {
			if warmup == nil {
				warmup = make([]*recorded, ncmd)
			}
			mergeInto(warmup, p.warmup)
		}
	}
	return stages, warmup
}

// mergeInto merges an interval part's per-command figures into dst, taking src's
// figures where dst has none and recycling src's histograms otherwise.
func mergeInto(dst, src []*recorded) {
	for i, c := range src {
		if c == nil {
			continue
		}
		if dst[i] == nil {
			dst[i] = c
			continue
		}
		dst[i].counts.Add(c.counts)
		dst[i].corrected.Merge(c.corrected)
		dst[i].uncorrected.Merge(c.uncorrected)
		dst[i].sendDelay.Merge(c.sendDelay)
		putHist(c.corrected)
		putHist(c.uncorrected)
		putHist(c.sendDelay)
	}
}

// mergeCumulative merges the recorders' cumulative figures bucket by bucket.
func mergeCumulative(buckets, ncmd int, parts [][]bucketRec) []bucketRec {
	out := make([]bucketRec, buckets)
	for _, p := range parts {
		for b := range p {
			src := &p[b]
			dst := &out[b]
			dst.undecodable += src.undecodable
			dst.unmatched += src.unmatched
			for i, c := range src.cmds {
				if c == nil {
					continue
				}
				if dst.cmds == nil {
					dst.cmds = make([]*recorded, ncmd)
				}
				if dst.cmds[i] == nil {
					dst.cmds[i] = c
					continue
				}
				d := dst.cmds[i]
				d.counts.Add(c.counts)
				d.corrected.Merge(c.corrected)
				d.uncorrected.Merge(c.uncorrected)
				d.sendDelay.Merge(c.sendDelay)
			}
		}
	}
	return out
}
