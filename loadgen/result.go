package loadgen

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// Histogram bounds: every latency histogram records 1 µs up to MaxLatency with 3
// significant digits, so a 72 s stall (PROTOCOL.md) and any timeout up to ten minutes fit.
const (
	MinLatency        = time.Microsecond
	MaxLatency        = 20 * time.Minute
	SignificantDigits = 3
)

// NewHistogram returns an empty latency histogram in microseconds with the bounds above.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(int64(MinLatency/time.Microsecond), int64(MaxLatency/time.Microsecond), SignificantDigits)
}

// Config is everything Run needs besides the Plan.
type Config struct {
	Plan      Plan
	Addr      string         // signalling address, "tcp://host:port"
	Transport transport.Kind // default transport.Native
	// Drain bounds how long Run waits for outstanding replies after the last stage; 0
	// means the longest request timeout.
	Drain time.Duration
	// InterruptDrain bounds the wait after an interrupt (ctx ended) instead: 0 means
	// min(Drain, DefaultInterruptDrain), so that a stopped run ends soon whatever the
	// request timeouts.
	InterruptDrain time.Duration
	// Abandon, if set, ends the drain at once when it is closed (a second Ctrl-C): the
	// requests still outstanding are counted as Abandoned.
	Abandon <-chan struct{}
	// StallThreshold: an interval with requests outstanding and no reply for at least
	// this long is a stall; 0 means 1 s.
	StallThreshold time.Duration
	// Pacer sets how the run's timing thread waits for due sends (hybrid by default).
	Pacer PacerConfig
	// Reconnect makes clients reconnect with backoff after a lost connection.
	Reconnect bool
	// IOLoops is how many I/O loops (transport.Loop) carry the clients' connections
	// instead of a receiver goroutine each, so that an idle connection costs no goroutine
	// and a reply no goroutine wake-up; replies on loops are timed by the kernel's receive
	// timestamps. 0 picks, for a plan whose stages are all open-loop, one loop served by
	// the pacer's own thread between sends (a reply costs no wake-up of its own when the
	// next send is near), and none otherwise; N > 0 runs N loops on goroutines of their
	// own; a negative number never uses them. They need the native transport on Linux;
	// elsewhere the clients run as without them.
	IOLoops int
	// PacerKeepsP lets the pacer's thread, when it serves the I/O loop, keep its P while
	// it waits (a raw system call): about a third cheaper per request at low rates, as
	// the runtime no longer hands the P to another thread and back at every wait. But
	// timers other goroutines left on that P then run only when the pacer yields (within
	// 10 ms) unless the other Ps are idle: set it only when nothing else in the process
	// is timed, i.e. the broker runs elsewhere (dmbench run --target).
	PacerKeepsP bool
	// NoIOUring keeps the pacer's I/O loop on epoll: by default its thread moves the
	// loop's sends and replies onto an io_uring of its own where the kernel allows
	// (transport.Loop.AttachRing), so that a wake-up's sends and replies cost one
	// system call.
	NoIOUring bool
	// MaxFrame closes a connection whose server sends a larger frame (counted under
	// CauseFrameTooBig); 0 means DefaultMaxFrame. RecvBudget bounds the bytes all
	// connections together hold for incoming messages (CauseRecvBudget beyond it); 0
	// means transport.DefaultRecvBudget. Together they keep a hostile or broken server
	// from taking the generator's memory.
	MaxFrame   int64
	RecvBudget int64
	// Intervals, if set, receives each second's histograms as they close, so that a
	// long run's memory stays flat.
	Intervals IntervalSink
	// Progress, if set, is called about once a second from a goroutine of Run.
	Progress func(Progress)
	// OnStage, if set, is called as each stage's clock starts, with the stage's index in
	// Plan.Stages, its name and its start (StageResult.Start): from Run's goroutine, after
	// the stage's first connections are dialled and before any of its requests is sent.
	// The stage waits for it, so it must return at once: start slow work, such as asking
	// the server for a report (serverview.Poller.Stage), without waiting for it.
	OnStage func(index int, name string, at time.Time)
	// Shard, if set, runs one share of a sharded run: the client positions p of every
	// stage with p mod Shard.Count == Shard.Index, each as in the whole run (see Shard).
	Shard Shard
	// StartAt, if set, starts the first stage's clock at this wall-clock instant, the one
	// every shard of a run is given: the first stage's clients connect first (with
	// ConnectRate 0), then Run waits for it. Run returns a LateError, having sent
	// nothing, when it has passed by then. Result.Start is then StartAt: the connecting
	// before it is not part of the run's time. Zero starts as soon as the clients are
	// connected.
	StartAt time.Time
}

// IntervalSink receives interval histograms as Run closes each interval. Calls come from
// one goroutine, in time order; the histograms are owned by the sink after the call.
// Within one interval they come in the order of the commands, and for each command the
// warm-up's part (Interval.Warmup) before the stages' part, each only when it saw events.
type IntervalSink interface {
	Interval(iv Interval) error
}

// Interval is one closed interval (normally one second) of one command: the events of
// the stages' requests or, with Warmup set, those of the warm-up's (by when each request
// was intended, as the Result counts them). An interval in which both had events comes
// as two Intervals with the same Start and End, so that the stages' intervals merged give
// the Result's stage figures without the warm-up. The histograms' start and end times are
// set to Start and End; they carry no tag.
type Interval struct {
	Start, End  time.Time
	Command     protocol.Command
	Warmup      bool                    // the warm-up's requests rather than the stages'
	Corrected   *hdrhistogram.Histogram // by reply time within the interval
	Uncorrected *hdrhistogram.Histogram
	SendDelay   *hdrhistogram.Histogram // µs, actual − intended send, of the requests sent within the interval
	Counts      Counts                  // events that happened within the interval
}

// Progress is a snapshot for a live display.
type Progress struct {
	Elapsed, Total time.Duration // Total is 0 when a stage is bounded by count
	Stage          string
	TargetRate     float64 // requests/s the schedule asks for now (0 for closed loops)
	AchievedRate   float64 // requests/s sent in the last interval
	InFlight       int64
	P99            time.Duration // corrected, last interval, all commands
	Errors         int64         // Counts.Errors of every command so far (closed intervals)
	Connected      int
	// Stalls are the stalls found so far, the one in progress included (Stalled).
	Stalls  int
	Stalled bool
}

// DefaultMaxFrame is the largest frame a server may send unless Config.MaxFrame says
// otherwise: far above any DMB reply (a request echoed, a PERFRPRT), far below the
// transport's 64 MiB.
const DefaultMaxFrame = 1 << 20

// DefaultInterruptDrain is how long an interrupted run waits for outstanding replies
// unless Config says otherwise.
const DefaultInterruptDrain = 2 * time.Second

// Result is what a run gathered. Stage results exclude the warm-up, which has its own.
type Result struct {
	Start, End  time.Time
	Interrupted bool // stopped early by ctx (Ctrl-C, SIGTERM)
	Drain       DrainStats
	Warmup      *StageResult
	Stages      []StageResult
	Stalls      []Stall
	Connections ConnectionStats
	Generator   GeneratorStats
}

// DrainStats say how the wait for outstanding replies after the stages went.
type DrainStats struct {
	Limit       time.Duration // the longest it could wait
	Waited      time.Duration // how long it waited
	Outstanding int64         // requests outstanding when it began
	Cut         bool          // ended early by Config.Abandon
}

// StageResult is one stage's figures, by the stage in which each request was sent.
type StageResult struct {
	Name       string
	Start, End time.Time
	// Measured is the window the counts cover: requests intended in [Measured.Start,
	// Measured.End) are this stage's. It starts where the warm-up ends, when the warm-up
	// overlaps the stage, and ends at the stage's scheduled end (a stage bounded by
	// duration) or when its last request was sent (one bounded by count, or an
	// interrupted one). Rates divide by its length.
	Measured Window
	Commands []*CommandResult // in the order of the stage's mix
	// Replies that could not be tied to a request of this run's stage.
	Undecodable uint64 // frames that are not a signalling message
	Unmatched   uint64 // an id this client never sent
}

// Window is a span of time [Start, End).
type Window struct{ Start, End time.Time }

// Duration returns the window's length, 0 when it is empty.
func (w Window) Duration() time.Duration { return max(0, w.End.Sub(w.Start)) }

// Counts are a command's outcomes. Every sent request with ack ends as exactly one of
// OK, Exceptions, Unexpected, Timeouts or Abandoned. The JSON keys are the result file's.
type Counts struct {
	Sent       uint64 `json:"sent"`        // requests handed to the transport
	NoAck      uint64 `json:"no_ack"`      // of Sent, without ack: never timed
	OK         uint64 `json:"ok"`          // the expected reply (protocol.Command.ExpectedReply)
	Exceptions uint64 `json:"exceptions"`  // EXCEPTON
	Unexpected uint64 `json:"unexpected"`  // a reply with another command (0.2.1 echoes its request on failure)
	Timeouts   uint64 `json:"timeouts"`    // no reply within the timeout
	Abandoned  uint64 `json:"abandoned"`   // still outstanding when the run ended (interrupt or drain limit)
	Late       uint64 `json:"late"`        // a reply after its request timed out (also counted in Timeouts)
	Duplicates uint64 `json:"duplicates"`  // a second reply to an answered request
	SendErrors uint64 `json:"send_errors"` // the transport refused the message (e.g. disconnected)
}

// Errors is the number of requests that failed: Exceptions + Unexpected + Timeouts +
// Abandoned + SendErrors. Late replies are in Timeouts already; duplicates are not
// requests that failed, and are shown apart. The progress line and the summary both
// count errors with it.
func (c Counts) Errors() uint64 {
	return c.Exceptions + c.Unexpected + c.Timeouts + c.Abandoned + c.SendErrors
}

// Add adds o to c, field by field.
func (c *Counts) Add(o Counts) {
	c.Sent += o.Sent
	c.NoAck += o.NoAck
	c.OK += o.OK
	c.Exceptions += o.Exceptions
	c.Unexpected += o.Unexpected
	c.Timeouts += o.Timeouts
	c.Abandoned += o.Abandoned
	c.Late += o.Late
	c.Duplicates += o.Duplicates
	c.SendErrors += o.SendErrors
}

// CommandResult is one command's counts and histograms within a stage.
type CommandResult struct {
	Command protocol.Command
	Counts
	Corrected   *hdrhistogram.Histogram // µs, reply − intended send, timeouts at their deadline
	Uncorrected *hdrhistogram.Histogram // µs, reply − actual send
	SendDelay   *hdrhistogram.Histogram // µs, actual − intended send
}

// Stall is a time in which requests were outstanding and no reply arrived for at least
// the stall threshold.
type Stall struct {
	Start, End  time.Time
	Outstanding int64 // requests outstanding, at most, during the stall
	UntilEnd    bool  // still going when the run ended: the server fell silent
}

// ConnectionStats are the clients' connection figures for the whole run.
type ConnectionStats struct {
	ConnectTime    *hdrhistogram.Histogram // µs, TCP connect plus handshake
	Connected      uint64
	ConnectFailed  uint64
	Disconnects    uint64
	DisconnectsMax uint64 // the most disconnects in any one interval
	// Why connections were lost, and why attempts to connect failed, by cause (the
	// Cause constants); nil when none was.
	DisconnectCauses  map[string]uint64
	ConnectFailCauses map[string]uint64
	// ConnectedAtEnd of ClientsAtEnd: the last stage's clients that had a connection
	// when the stages ended (before the drain). None of them with a server that died.
	ConnectedAtEnd, ClientsAtEnd int
	// RecvPeak is the most bytes the connections held at once for incoming messages,
	// of RecvBudget (Config.RecvBudget).
	RecvPeak, RecvBudget int64
}

// ServerLost reports whether the server was gone when the stages ended: clients had
// connected, and none of the last stage's clients had a connection then.
func (c *ConnectionStats) ServerLost() bool {
	return c.Connected > 0 && c.ClientsAtEnd > 0 && c.ConnectedAtEnd == 0
}

// GeneratorStats is the generator watching itself: when Bound is true, the figures
// measure the generator rather than the server, and Reasons says why in plain words.
type GeneratorStats struct {
	Bound         bool
	Reasons       []string
	CPUSeconds    float64 // this process, user + system (includes an embedded broker)
	GOMAXPROCS    int
	GCPauseTotal  time.Duration
	GCPauseMax    time.Duration
	SendDelayP99  time.Duration
	AchievedRatio float64 // requests sent / requests scheduled (open loop), 1 when closed
	Pacer         PacerStats
	// PacerNote says, when the pacer could not hold its window, how far off it was (the
	// figures are still true: latency counts from the intended time).
	PacerNote string
	// Replies says how the replies' arrival times were taken.
	Replies ReplyTiming
}

// ReplyTiming is how a run took its replies' arrival times. On I/O loops a reply is timed
// by the kernel's receive timestamp, so that the time dmbench took to read it is not in
// the latency; KernelWait is that time (the receive side's own lateness, as the send
// delay is the send side's). Clients with a receiver goroutine each time a reply when it
// is read.
type ReplyTiming struct {
	IOLoops        int  // I/O loops the connections ran on; 0: a receiver goroutine each
	PacerIO        bool // the one loop was served by the pacer's thread between sends
	IOUring        bool // ... through an io_uring of the pacer's thread
	Kernel, Read   uint64
	KernelWaitMean time.Duration
	KernelWaitMax  time.Duration
}
