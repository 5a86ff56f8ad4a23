package resultfmt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/loadgen"
)

// ResultFile is the name of the result document inside a run's folder.
const ResultFile = "result.json"

// Result is the document written to result.json: the run's metadata and, per stage and
// command, counts, rates, percentiles and the cumulative histograms they came from.
type Result struct {
	Meta        Meta          `json:"meta"`
	Warmup      *StageResult  `json:"warmup,omitempty"` // recorded apart, excluded from Stages
	Stages      []StageResult `json:"stages"`
	Stalls      []Stall       `json:"stalls"`
	Drain       Drain         `json:"drain"`
	Connections Connections   `json:"connections"`
	Generator   Generator     `json:"generator"`
	// ServerView is the server's own view beside the client's (SetServerView); absent
	// when the run did not set it.
	ServerView *ServerView `json:"server_view,omitempty"`
	// Warnings are problems met while building the result (e.g. a histogram that could not
	// be encoded); the figures they concern are missing.
	Warnings []string `json:"warnings,omitempty"`
}

// StageResult is one stage's figures, by the stage in which each request was sent.
type StageResult struct {
	Name       string    `json:"name"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	DurationUS int64     `json:"duration_us"`
	// The measured window: the requests counted here were intended in [MeasuredStart,
	// MeasuredStart + MeasuredUS). It leaves out the warm-up where the warm-up overlaps the
	// stage, and ends at the stage's scheduled end (or its last send when bounded by count
	// or interrupted). Every rate of the stage divides by it.
	MeasuredStart time.Time       `json:"measured_start"`
	MeasuredUS    int64           `json:"measured_us"`
	Commands      []CommandResult `json:"commands"`
	// Replies that could not be tied to a request of the stage.
	Undecodable uint64 `json:"undecodable"` // frames that are not a signalling message
	Unmatched   uint64 `json:"unmatched"`   // an id no client sent
}

// Duration returns the stage's length.
func (s *StageResult) Duration() time.Duration { return time.Duration(s.DurationUS) * time.Microsecond }

// Measured returns the length of the window the stage's counts cover (warm-up excluded).
func (s *StageResult) Measured() time.Duration { return time.Duration(s.MeasuredUS) * time.Microsecond }

// CommandResult is one command's figures within a stage.
type CommandResult struct {
	Command        string  `json:"command"`
	Counts         Counts  `json:"counts"`
	ThroughputPerS float64 `json:"throughput_per_s"` // OK replies per second of the stage's measured window
	SentPerS       float64 `json:"sent_per_s"`       // requests sent per second of the stage's measured window
	Corrected      Latency `json:"corrected"`        // reply − intended send; timeouts at their deadline
	Uncorrected    Latency `json:"uncorrected"`      // reply − actual send
	SendDelay      Latency `json:"send_delay"`       // actual − intended send
}

// Counts are a command's outcomes, as loadgen counts them: one type, with one definition
// of an error (Counts.Errors), for the summary, thresholds, compare and the benchmarks.
type Counts = loadgen.Counts

// Latency is a latency distribution: its percentiles in microseconds and the whole
// histogram in HdrHistogram's V2 compressed encoding.
type Latency struct {
	Count  int64   `json:"count"`
	MinUS  int64   `json:"min_us"`
	MeanUS float64 `json:"mean_us"`
	P50US  int64   `json:"p50_us"`
	P90US  int64   `json:"p90_us"`
	P99US  int64   `json:"p99_us"`
	P999US int64   `json:"p99_9_us"`
	MaxUS  int64   `json:"max_us"`
	// Histogram is the base64 V2 compressed histogram of microseconds (Histogram.Encode);
	// empty when nothing was recorded.
	Histogram string `json:"histogram,omitempty"`

	// decoded is Histogram decoded, when ReadDecoded has decoded it already (to check it):
	// Decode returns it rather than decoding again.
	decoded *hdrhistogram.Histogram
}

// summaryPercentiles are the percentiles a Latency keeps, in Latency's field order.
var summaryPercentiles = []float64{50, 90, 99, 99.9}

// NewLatency summarises h, which holds microseconds, and keeps its encoding. A nil or
// empty histogram gives a zero Latency.
func NewLatency(h *hdrhistogram.Histogram) (Latency, error) {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}, nil
	}
	enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return Latency{}, fmt.Errorf("encoding a histogram of %d values: %w", h.TotalCount(), err)
	}
	p := h.ValueAtPercentilesSlice(summaryPercentiles)
	return Latency{
		Count:     h.TotalCount(),
		MinUS:     h.Min(),
		MeanUS:    math.Round(h.Mean()*1000) / 1000, // to the ns: the last bits vary with FMA
		P50US:     p[0],
		P90US:     p[1],
		P99US:     p[2],
		P999US:    p[3],
		MaxUS:     h.Max(),
		Histogram: string(enc),
	}, nil
}

// Decode returns the histogram l was made from, or an empty one (with loadgen's bounds)
// when l has none. It fails when the histogram does not decode or holds another number of
// values than l.Count.
//
// A Latency that ReadDecoded returned holds its histogram decoded already, and Decode
// returns that one, shared: merge it into a histogram of your own rather than change it.
func (l Latency) Decode() (*hdrhistogram.Histogram, error) {
	if l.decoded != nil {
		return l.decoded, nil
	}
	if l.Histogram == "" {
		return loadgen.NewHistogram(), nil
	}
	h, err := hdrhistogram.Decode([]byte(l.Histogram))
	if err != nil {
		return nil, fmt.Errorf("decoding a histogram: %w (the result file is damaged or not from dmbench)", err)
	}
	if h.TotalCount() != l.Count {
		return nil, fmt.Errorf("decoded histogram holds %d values but its count says %d: the result file is inconsistent", h.TotalCount(), l.Count)
	}
	return h, nil
}

// Stall is a time in which requests were outstanding and no reply came for at least the
// stall threshold.
type Stall struct {
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	OffsetUS    int64     `json:"offset_us"` // Start − the run's start
	DurationUS  int64     `json:"duration_us"`
	Outstanding int64     `json:"outstanding"`         // requests outstanding, at most, during the stall
	UntilEnd    bool      `json:"until_end,omitempty"` // still going when the run ended: the server fell silent
}

// Drain is the wait for outstanding replies after the stages (or after an interrupt).
type Drain struct {
	LimitUS     int64 `json:"limit_us"`      // the longest the run would wait
	WaitedUS    int64 `json:"waited_us"`     // how long it waited
	Outstanding int64 `json:"outstanding"`   // requests outstanding when it began
	Cut         bool  `json:"cut,omitempty"` // ended at once by a second interrupt
}

// Connections are the clients' connection figures for the whole run.
type Connections struct {
	Connected      uint64  `json:"connected"`
	ConnectFailed  uint64  `json:"connect_failed"`
	Disconnects    uint64  `json:"disconnects"`
	DisconnectsMax uint64  `json:"disconnects_max"` // the most in any one interval
	ConnectTime    Latency `json:"connect_time"`    // TCP connect plus handshake
	// Why connections were lost and why attempts failed, by cause (loadgen's Cause
	// constants, e.g. "reset by the server", "refused").
	DisconnectCauses  map[string]uint64 `json:"disconnect_causes,omitempty"`
	ConnectFailCauses map[string]uint64 `json:"connect_fail_causes,omitempty"`
	// The last stage's clients, and how many of them had a connection as the stages
	// ended; ServerLost when none had (the server died or closed every connection).
	ClientsAtEnd   int  `json:"clients_at_end"`
	ConnectedAtEnd int  `json:"connected_at_end"`
	ServerLost     bool `json:"server_lost,omitempty"`
}

// Generator is the generator watching itself. When Bound is true the figures measure
// dmbench rather than the server, and Reasons says why.
type Generator struct {
	Bound          bool     `json:"bound"`
	Reasons        []string `json:"reasons,omitempty"`
	CPUSeconds     float64  `json:"cpu_seconds"` // this process, user + system; includes an embedded broker
	GOMAXPROCS     int      `json:"gomaxprocs"`
	GCPauseTotalUS int64    `json:"gc_pause_total_us"`
	GCPauseMaxUS   int64    `json:"gc_pause_max_us"`
	SendDelayP99US int64    `json:"send_delay_p99_us"`
	AchievedRatio  float64  `json:"achieved_ratio"` // requests sent / scheduled (open loop); 1 when closed
	Pacer          Pacer    `json:"pacer"`
	Replies        Replies  `json:"replies"`
}

// Replies is how the replies' arrival times were taken: on I/O loops (IOLoops > 0) by the
// kernel's receive timestamps (kernel_stamped of them; read_stamped timed when read, where
// the kernel gave none), so that when dmbench read a reply is not in its latency; the
// kernel wait is how long stamped replies waited to be read (the receive side's own
// lateness). With IOLoops 0 each connection's receiver goroutine timed its replies when
// it read them. pacer_serves_io: the one loop was served by the pacer's thread; io_uring:
// through an io_uring of that thread (run --io-uring).
type Replies struct {
	IOLoops          int    `json:"io_loops"`
	PacerServesIO    bool   `json:"pacer_serves_io,omitempty"`
	IOUring          bool   `json:"io_uring,omitempty"` // the pacer's loop ran on its io_uring
	KernelStamped    uint64 `json:"kernel_stamped"`
	ReadStamped      uint64 `json:"read_stamped"`
	KernelWaitMeanUS int64  `json:"kernel_wait_mean_us"`
	KernelWaitMaxUS  int64  `json:"kernel_wait_max_us"`
}

// Pacer is the run's timing thread: how it waited for due sends and what its spinning
// cost. Note, when set, says it did not hold its window.
type Pacer struct {
	Mode         string  `json:"mode"` // hybrid, sleep or spin
	SpinWindowUS int64   `json:"spin_window_us"`
	SpinBudget   float64 `json:"spin_budget"`  // cores
	SpinSeconds  float64 `json:"spin_seconds"` // CPU spent spinning, part of cpu_seconds
	Wakes        uint64  `json:"wakes"`
	BudgetSpent  uint64  `json:"budget_spent_seconds,omitempty"` // seconds whose spin budget ran out
	KeepsP       bool    `json:"keeps_p,omitempty"`              // served the I/O loop holding its P while it waited (the broker in another process)
	Note         string  `json:"note,omitempty"`
}

// FromLoadgen builds the document for a run from its metadata and what loadgen.Run
// returned. The run's start, end and interruption come from lr; meta.Interrupted stays set
// if the caller set it. lr may be nil (the run never started): the result then holds meta
// alone. A histogram that cannot be encoded is left out and named in Warnings.
func FromLoadgen(meta Meta, lr *loadgen.Result) *Result {
	meta.SchemaVersion = SchemaVersion
	if meta.Tool == "" {
		meta.Tool = "dmbench"
	}
	r := &Result{Meta: meta, Stages: []StageResult{}, Stalls: []Stall{}}
	if lr == nil {
		return r
	}
	r.Meta.Start, r.Meta.End = lr.Start.UTC(), lr.End.UTC()
	r.Meta.Interrupted = meta.Interrupted || lr.Interrupted

	latency := func(where string, h *hdrhistogram.Histogram) Latency {
		l, err := NewLatency(h)
		if err != nil {
			r.Warnings = append(r.Warnings, where+": "+err.Error())
		}
		return l
	}
	if lr.Warmup != nil {
		w := stageFrom(lr.Warmup, "warm-up", latency)
		r.Warmup = &w
	}
	for i := range lr.Stages {
		r.Stages = append(r.Stages, stageFrom(&lr.Stages[i], fmt.Sprintf("stage %d", i+1), latency))
	}
	for _, s := range lr.Stalls {
		r.Stalls = append(r.Stalls, Stall{
			Start:       s.Start.UTC(),
			End:         s.End.UTC(),
			OffsetUS:    us(s.Start.Sub(lr.Start)),
			DurationUS:  us(s.End.Sub(s.Start)),
			Outstanding: s.Outstanding,
			UntilEnd:    s.UntilEnd,
		})
	}
	r.Drain = Drain{
		LimitUS:     us(lr.Drain.Limit),
		WaitedUS:    us(lr.Drain.Waited),
		Outstanding: lr.Drain.Outstanding,
		Cut:         lr.Drain.Cut,
	}
	c := lr.Connections
	r.Connections = Connections{
		Connected:      c.Connected,
		ConnectFailed:  c.ConnectFailed,
		Disconnects:    c.Disconnects,
		DisconnectsMax: c.DisconnectsMax,
		ConnectTime:    latency("connect time", c.ConnectTime),

		DisconnectCauses:  c.DisconnectCauses,
		ConnectFailCauses: c.ConnectFailCauses,
		ClientsAtEnd:      c.ClientsAtEnd,
		ConnectedAtEnd:    c.ConnectedAtEnd,
		ServerLost:        c.ServerLost(),
	}
	g := lr.Generator
	r.Generator = Generator{
		Bound:          g.Bound,
		Reasons:        append([]string(nil), g.Reasons...),
		CPUSeconds:     g.CPUSeconds,
		GOMAXPROCS:     g.GOMAXPROCS,
		GCPauseTotalUS: us(g.GCPauseTotal),
		GCPauseMaxUS:   us(g.GCPauseMax),
		SendDelayP99US: us(g.SendDelayP99),
		AchievedRatio:  g.AchievedRatio,
		Pacer: Pacer{
			Mode:         string(g.Pacer.Mode),
			SpinWindowUS: us(g.Pacer.SpinWindow),
			SpinBudget:   g.Pacer.SpinBudget,
			SpinSeconds:  g.Pacer.SpinSeconds,
			Wakes:        g.Pacer.Wakes,
			BudgetSpent:  g.Pacer.BudgetSpent,
			KeepsP:       g.Pacer.KeepsP,
			Note:         g.PacerNote,
		},
		Replies: Replies{
			IOLoops:          g.Replies.IOLoops,
			PacerServesIO:    g.Replies.PacerIO,
			IOUring:          g.Replies.IOUring,
			KernelStamped:    g.Replies.Kernel,
			ReadStamped:      g.Replies.Read,
			KernelWaitMeanUS: us(g.Replies.KernelWaitMean),
			KernelWaitMaxUS:  us(g.Replies.KernelWaitMax),
		},
	}
	if r.Meta.GOMAXPROCS == 0 {
		r.Meta.GOMAXPROCS = g.GOMAXPROCS
	}
	return r
}

func stageFrom(s *loadgen.StageResult, where string, latency func(string, *hdrhistogram.Histogram) Latency) StageResult {
	window := s.Measured.Duration()
	out := StageResult{
		Name:          s.Name,
		Start:         s.Start.UTC(),
		End:           s.End.UTC(),
		DurationUS:    us(s.End.Sub(s.Start)),
		MeasuredStart: s.Measured.Start.UTC(),
		MeasuredUS:    us(window),
		Undecodable:   s.Undecodable,
		Unmatched:     s.Unmatched,
		Commands:      make([]CommandResult, 0, len(s.Commands)),
	}
	for _, c := range s.Commands {
		if c == nil {
			continue
		}
		name := string(c.Command)
		at := fmt.Sprintf("%s %q %s", where, s.Name, name)
		cr := CommandResult{
			Command:     name,
			Counts:      c.Counts,
			Corrected:   latency(at+" corrected", c.Corrected),
			Uncorrected: latency(at+" uncorrected", c.Uncorrected),
			SendDelay:   latency(at+" send delay", c.SendDelay),
		}
		if secs := window.Seconds(); secs > 0 {
			cr.ThroughputPerS = float64(c.OK) / secs
			cr.SentPerS = float64(c.Sent) / secs
		}
		out.Commands = append(out.Commands, cr)
	}
	return out
}

func us(d time.Duration) int64 { return int64(d / time.Microsecond) }

// Commands returns the commands of the result's stages (warm-up excluded) in the order
// they first appear.
func (r *Result) Commands() []string {
	var names []string
	seen := map[string]bool{}
	for _, s := range r.Stages {
		for _, c := range s.Commands {
			if !seen[c.Command] {
				seen[c.Command] = true
				names = append(names, c.Command)
			}
		}
	}
	return names
}

// HistogramKind selects one of a command's three histograms.
type HistogramKind int

// The three histograms of a command.
const (
	Corrected HistogramKind = iota
	Uncorrected
	SendDelay
)

func (k HistogramKind) of(c *CommandResult) Latency {
	switch k {
	case Uncorrected:
		return c.Uncorrected
	case SendDelay:
		return c.SendDelay
	default:
		return c.Corrected
	}
}

// Merged returns command's histogram of the given kind merged over all stages, warm-up
// excluded, and its counts summed the same way. A command the result does not hold gives
// an empty histogram.
func (r *Result) Merged(command string, kind HistogramKind) (*hdrhistogram.Histogram, Counts, error) {
	sum := loadgen.NewHistogram()
	var counts Counts
	for si := range r.Stages {
		s := &r.Stages[si]
		for ci := range s.Commands {
			c := &s.Commands[ci]
			if c.Command != command {
				continue
			}
			counts.Add(c.Counts)
			h, err := kind.of(c).Decode()
			if err != nil {
				return nil, counts, fmt.Errorf("stage %q %s: %w", s.Name, termtext.Escape(command), err)
			}
			if dropped := sum.Merge(h); dropped > 0 {
				return nil, counts, fmt.Errorf("stage %q %s: %d values beyond the histogram's range of %d µs were dropped while merging", s.Name, termtext.Escape(command), dropped, sum.HighestTrackableValue())
			}
		}
	}
	return sum, counts, nil
}

// MaxResultSize is the largest result.json Read reads: 128 MiB. A larger file is refused
// before it is read, and a stream (a pipe, a device) once it has given more; what is not
// JSON at all, such as /dev/zero, is refused at its first byte.
//
// It is over a thousand times the largest result in results/, 114 KB (full group-churn:
// 60 s, 15 server reports, which are half of it). What grows with a run's length is the
// server view, one report of about 4 KB every --server-poll (5 s by default): some 3 MB
// an hour, so 128 MiB holds some 40 hours of run at the default poll, 8 hours polling
// every second. The stages' histograms do not grow with the run.
const MaxResultSize = 128 << 20

// maxDecodedBytes bounds the memory one result's histograms take decoded: 512 MiB, some
// 2,900 histograms of loadgen's range (1 µs to 20 minutes at 3 digits, 182 KB each), where
// the result in results/ that holds the most holds 73 (capacity-ramp, 13 MB decoded). A
// histogram's size is set by the range its header claims, not by its length in the file:
// 100 bytes of base64 can claim a histogram of 49 MB, so a file within MaxResultSize can
// still ask for far more than this.
const maxDecodedBytes = 512 << 20

// The limits Read applies, variables so that tests can lower them.
var (
	maxResultSize  int64 = MaxResultSize
	maxDecodedSize int64 = maxDecodedBytes
)

// Read reads a run's result.json back. path is the run's folder or the file itself. A file
// larger than MaxResultSize, and a result written by a newer dmbench (a higher schema
// version), are refused.
//
// Every histogram the result stores is decoded and checked (Check): a damaged or edited
// result is refused with what is wrong and where (the stage, command and histogram).
// The decoded histograms are not kept; ReadDecoded keeps them.
func Read(path string) (*Result, error) {
	return read(path, false)
}

// ReadDecoded is Read for a caller that goes on to use the histograms (a percentile
// spectrum, thresholds over the whole run, charts): each Latency keeps the histogram Read
// decoded to check it, and Decode, Merged and WholeRun use that one rather than decode it
// again. They take some 180 KB each decoded, some 3 to 13 MB for the results in results/.
func ReadDecoded(path string) (*Result, error) {
	return read(path, true)
}

// read is Read; keep says whether the result keeps its histograms decoded.
func read(path string, keep bool) (*Result, error) {
	file := path
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		file = filepath.Join(path, ResultFile)
	}
	name := termtext.Escape(file)
	r, err := decodeCapped(file)
	if err != nil {
		return nil, err
	}
	switch v := r.Meta.SchemaVersion; {
	case v == 0:
		return nil, fmt.Errorf("reading results %s: no meta.schema_version: this is not a dmbench result", name)
	case v > SchemaVersion:
		return nil, fmt.Errorf("reading results %s: schema version %d is newer than this dmbench reads (%d): upgrade dmbench", name, v, SchemaVersion)
	}
	if err := r.check(keep); err != nil {
		return nil, fmt.Errorf("reading results %s: %w", name, err)
	}
	return r, nil
}

// decodeCapped decodes the Result in file, reading at most maxResultSize + 1 bytes of it:
// a regular file larger than that is refused before it is read, and anything else (a
// device, a pipe) once it has given more. The JSON is decoded as it is read, so that what
// is not JSON (/dev/zero) is refused at its first byte, not after the limit.
func decodeCapped(file string) (*Result, error) {
	name := termtext.Escape(file)
	f, err := os.Open(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading results: %s does not exist: give a run's folder (as printed after a run) or its %s", name, ResultFile)
		}
		return nil, fmt.Errorf("reading results: %w", fileError(err))
	}
	defer f.Close()
	tooLarge := fmt.Errorf("reading results %s: larger than %d MiB, the most dmbench reads: a run's %s is far smaller (see resultfmt.MaxResultSize); this is not one",
		name, maxResultSize>>20, ResultFile)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > maxResultSize {
		return nil, tooLarge
	}
	in := &countingReader{r: io.LimitReader(f, maxResultSize+1)}
	dec := json.NewDecoder(in)
	var r Result
	err = dec.Decode(&r)
	if err == nil {
		if _, end := dec.Token(); end != io.EOF { // only white space may follow, as json.Unmarshal wants
			err = fmt.Errorf("more after the result's object")
		}
	}
	switch {
	case in.n > maxResultSize:
		return nil, tooLarge
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("reading results: %w", fileError(err))
		}
		return nil, fmt.Errorf("reading results %s: not valid JSON: %w", name, termtext.Error(err))
	}
	return &r, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// fileError is err, from the file system, with the path it names escaped
// (termtext.Escape): a folder's name on disk is whoever made it's choice.
func fileError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", pe.Op, termtext.Escape(pe.Path), pe.Err)
	}
	return termtext.Error(err)
}

// Check decodes every histogram r stores and checks it against the figures stored beside
// it: the histogram must decode (base64, then HdrHistogram's V2 compressed encoding), hold
// as many values as its count says, and the figures must be possible (no negative count
// or latency, percentiles in order from min to max). A latency stored without a histogram
// (its figures only) passes. The histograms of the server's own reports in
// server_view.snapshots are kept as the server sent them and not checked: the run noted
// any it could not read (service_problem).
//
// The error names the first histogram that fails: the stage (or warm-up, connect time,
// server view), the command and which of its histograms. Read, ReadDecoded and LoadSet
// check every result they read.
func (r *Result) Check() error { return r.check(false) }

// check is Check; keep keeps each decoded histogram in its Latency for Decode.
func (r *Result) check(keep bool) error {
	var size int64
	return r.eachLatency(func(where string, l *Latency) error {
		h, err := l.check()
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if h == nil {
			return nil
		}
		if size += int64(h.ByteSize()); size > maxDecodedSize {
			return fmt.Errorf("%s: the result's histograms take more than %d MiB decoded, far more than any dmbench run's: the result file is damaged or not from dmbench", where, maxDecodedSize>>20)
		}
		if keep {
			l.decoded = h
		}
		return nil
	})
}

// check checks l (see Result.Check) and returns its histogram decoded, nil when it has
// none.
func (l *Latency) check() (*hdrhistogram.Histogram, error) {
	if l.Count < 0 {
		return nil, fmt.Errorf("its count is %d, below zero: the result file is damaged", l.Count)
	}
	figures := []int64{l.MinUS, l.P50US, l.P90US, l.P99US, l.P999US, l.MaxUS}
	if l.Count > 0 && (figures[0] < 0 || !slices.IsSorted(figures)) {
		return nil, fmt.Errorf("its figures are impossible (min %d, p50 %d, p90 %d, p99 %d, p99.9 %d, max %d µs: below zero or out of order): the result file is damaged",
			l.MinUS, l.P50US, l.P90US, l.P99US, l.P999US, l.MaxUS)
	}
	if l.Histogram == "" {
		return nil, nil
	}
	return Latency{Count: l.Count, Histogram: l.Histogram}.Decode()
}

// stageName names stage i (0-based) in a message: stage 2 "ramp", the name escaped.
func stageName(i int, name string) string {
	return fmt.Sprintf("stage %d \"%s\"", i+1, termtext.Escape(name))
}

// eachLatency calls f with each latency distribution r stores and where it is, in the
// order of the file, and stops at the first error.
func (r *Result) eachLatency(f func(where string, l *Latency) error) error {
	kinds := []struct {
		name string
		of   func(c *CommandResult) *Latency
	}{
		{"corrected latency", func(c *CommandResult) *Latency { return &c.Corrected }},
		{"uncorrected latency", func(c *CommandResult) *Latency { return &c.Uncorrected }},
		{"send delay", func(c *CommandResult) *Latency { return &c.SendDelay }},
	}
	stage := func(s *StageResult, title string) error {
		for ci := range s.Commands {
			c := &s.Commands[ci]
			for _, k := range kinds {
				if err := f(title+" "+termtext.Escape(c.Command)+" "+k.name, k.of(c)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if r.Warmup != nil {
		if err := stage(r.Warmup, "warm-up"); err != nil {
			return err
		}
	}
	for si := range r.Stages {
		if err := stage(&r.Stages[si], stageName(si, r.Stages[si].Name)); err != nil {
			return err
		}
	}
	if err := f("connect time", &r.Connections.ConnectTime); err != nil {
		return err
	}
	sv := r.ServerView
	if sv == nil {
		return nil
	}
	join := func(j *ServerJoin, title string) error {
		for ci := range j.Commands {
			c := &j.Commands[ci]
			if err := f("server view: "+title+" "+termtext.Escape(c.Command)+" server service time", &c.ServiceTime); err != nil {
				return err
			}
		}
		return nil
	}
	for si := range sv.Stages {
		if err := join(&sv.Stages[si], stageName(si, sv.Stages[si].Name)); err != nil {
			return err
		}
	}
	if sv.Total != nil {
		return join(sv.Total, "whole run")
	}
	return nil
}
