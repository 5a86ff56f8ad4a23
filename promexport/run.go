// Package promexport serves dmbench's live figures as Prometheus metrics: those of a run
// (`dmbench run --metrics-addr`) and those of the reference broker (`dmbench serve
// --metrics-addr`). Every name is listed in RunMetricNames or BrokerMetricNames; the
// Grafana dashboard in examples/grafana uses only these.
package promexport

import (
	"sort"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dmbench/dmbench/loadgen"
)

// WarmupStage is the stage label of the warm-up's figures.
const WarmupStage = "warmup"

// Outcomes are the values of the outcome label of dmbench_request_outcomes_total: what
// each sent request with ack came to (loadgen.Counts), plus late and duplicate replies,
// which are counted besides.
var Outcomes = []string{"ok", "exception", "unexpected", "timeout", "abandoned", "send_error", "late", "duplicate"}

// RunMetricNames are the metric families a Run registers (histograms without their
// _bucket, _sum and _count suffixes).
var RunMetricNames = []string{
	"dmbench_requests_total",
	"dmbench_requests_no_ack_total",
	"dmbench_request_outcomes_total",
	"dmbench_errors_total",
	"dmbench_latency_seconds",
	"dmbench_uncorrected_latency_seconds",
	"dmbench_send_delay_seconds",
	"dmbench_stalls_total",
	"dmbench_stalled",
	"dmbench_in_flight_requests",
	"dmbench_connections",
	"dmbench_target_rate_requests_per_second",
	"dmbench_achieved_rate_requests_per_second",
	"dmbench_elapsed_seconds",
	"dmbench_run_end_timestamp_seconds",
}

// LatencyBuckets are the classic buckets of the latency histograms, in seconds, beside
// their native buckets.
var LatencyBuckets = []float64{
	.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120,
}

// Run holds one `dmbench run`'s metrics. Feed it with Intervals (a tee in front of the
// run's IntervalSink), Progress and Stage; serve its Registry.
type Run struct {
	reg      *prometheus.Registry
	scenario string
	shard    string

	requests, noAck, outcomes, errors *prometheus.CounterVec
	latency, uncorrected, sendDelay   *prometheus.HistogramVec
	stalls                            *prometheus.CounterVec
	stalled                           *prometheus.GaugeVec
	inFlight, connections             *prometheus.GaugeVec
	targetRate, achievedRate, elapsed *prometheus.GaugeVec
	end                               *prometheus.GaugeVec

	mu         sync.Mutex
	stages     []stageStart // in start order
	stallsSeen int          // stalls counted so far (Progress reports the total)
}

type stageStart struct {
	at   time.Time
	name string
}

// NewRun returns the metrics of a run of scenario; shard labels them for a run that is
// one of several ("" otherwise).
func NewRun(scenario, shard string) *Run {
	cmdLabels := []string{"scenario", "stage", "command", "shard"}
	runLabels := []string{"scenario", "shard"}
	hist := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: name, Help: help,
			Buckets:                         LatencyBuckets,
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  160,
			NativeHistogramMinResetDuration: time.Hour,
		}, cmdLabels)
	}
	r := &Run{
		reg:      prometheus.NewRegistry(),
		scenario: scenario,
		shard:    shard,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dmbench_requests_total",
			Help: "Requests handed to the transport, by the interval they were sent in."}, cmdLabels),
		noAck: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dmbench_requests_no_ack_total",
			Help: "Requests sent without ack (never timed); also in dmbench_requests_total."}, cmdLabels),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dmbench_request_outcomes_total",
			Help: "What requests came to: ok, exception, unexpected, timeout, abandoned, send_error; late and duplicate replies besides."},
			append(cmdLabels[:4:4], "outcome")),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dmbench_errors_total",
			Help: "Requests that failed: exceptions + unexpected + timeouts + abandoned + send errors."}, cmdLabels),
		latency: hist("dmbench_latency_seconds",
			"Latency corrected for coordinated omission (reply - intended send; timeouts at their deadline)."),
		uncorrected: hist("dmbench_uncorrected_latency_seconds",
			"Latency from the actual send (reply - actual send)."),
		sendDelay: hist("dmbench_send_delay_seconds",
			"How late dmbench sent each request (actual - intended send): its own lateness, part of the corrected latency."),
		stalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dmbench_stalls_total",
			Help: "Stalls found: requests outstanding and no reply for at least the stall threshold."}, runLabels),
		stalled: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dmbench_stalled",
			Help: "1 while a stall is in progress, else 0."}, runLabels),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dmbench_in_flight_requests",
			Help: "Requests outstanding now."}, runLabels),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dmbench_connections",
			Help: "Clients connected now."}, runLabels),
		targetRate: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dmbench_target_rate_requests_per_second",
			Help: "Requests per second the schedule asks for now (0 for closed loops)."}, []string{"scenario", "stage", "shard"}),
		achievedRate: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dmbench_achieved_rate_requests_per_second",
			Help: "Requests per second sent in the last closed interval."}, runLabels),
		elapsed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dmbench_elapsed_seconds",
			Help: "Time since the run started."}, runLabels),
		end: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dmbench_run_end_timestamp_seconds",
			Help: "When the run (all --repeat runs) ended and its result was written, in Unix seconds; absent while it runs."}, runLabels),
	}
	r.reg.MustRegister(r.requests, r.noAck, r.outcomes, r.errors, r.latency, r.uncorrected,
		r.sendDelay, r.stalls, r.stalled, r.inFlight, r.connections, r.targetRate, r.achievedRate, r.elapsed, r.end)
	return r
}

// Registry returns the registry that holds the run's metrics.
func (r *Run) Registry() *prometheus.Registry { return r.reg }

// Stage records that the stage name started at at: intervals from then on are labelled
// with it. It has loadgen.Config.OnStage's signature and returns at once.
func (r *Run) Stage(_ int, name string, at time.Time) {
	r.mu.Lock()
	r.stages = append(r.stages, stageStart{at: at, name: name})
	r.mu.Unlock()
}

// stageAt returns the name of the stage running at t: the last one started by then.
func (r *Run) stageAt(t time.Time) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := sort.Search(len(r.stages), func(i int) bool { return r.stages[i].at.After(t) })
	if i == 0 {
		if len(r.stages) > 0 {
			return r.stages[0].name
		}
		return ""
	}
	return r.stages[i-1].name
}

// Progress updates the gauges from a progress snapshot. It has loadgen.Config.Progress's
// signature.
func (r *Run) Progress(p loadgen.Progress) {
	r.inFlight.WithLabelValues(r.scenario, r.shard).Set(float64(p.InFlight))
	r.connections.WithLabelValues(r.scenario, r.shard).Set(float64(p.Connected))
	r.achievedRate.WithLabelValues(r.scenario, r.shard).Set(p.AchievedRate)
	r.elapsed.WithLabelValues(r.scenario, r.shard).Set(p.Elapsed.Seconds())
	r.mu.Lock()
	r.stalls.WithLabelValues(r.scenario, r.shard).Add(float64(max(0, p.Stalls-r.stallsSeen)))
	r.stallsSeen = max(r.stallsSeen, p.Stalls)
	r.mu.Unlock()
	stalled := 0.0
	if p.Stalled {
		stalled = 1
	}
	r.stalled.WithLabelValues(r.scenario, r.shard).Set(stalled)
	if p.Stage != "" {
		r.targetRate.WithLabelValues(r.scenario, p.Stage, r.shard).Set(p.TargetRate)
	}
}

// Interval adds one closed interval's counts and latencies.
func (r *Run) Interval(iv loadgen.Interval) {
	stage := WarmupStage
	if !iv.Warmup {
		stage = r.stageAt(iv.Start)
	}
	l := []string{r.scenario, stage, string(iv.Command), r.shard}
	c := iv.Counts
	r.requests.WithLabelValues(l...).Add(float64(c.Sent))
	r.noAck.WithLabelValues(l...).Add(float64(c.NoAck))
	r.errors.WithLabelValues(l...).Add(float64(c.Errors()))
	for i, n := range []uint64{c.OK, c.Exceptions, c.Unexpected, c.Timeouts, c.Abandoned, c.SendErrors, c.Late, c.Duplicates} {
		r.outcomes.WithLabelValues(r.scenario, stage, string(iv.Command), r.shard, Outcomes[i]).Add(float64(n))
	}
	observe(r.latency.WithLabelValues(l...), iv.Corrected)
	observe(r.uncorrected.WithLabelValues(l...), iv.Uncorrected)
	observe(r.sendDelay.WithLabelValues(l...), iv.SendDelay)
}

// Ended sets dmbench_run_end_timestamp_seconds: the run is over and its result written.
func (r *Run) Ended(at time.Time) {
	r.end.WithLabelValues(r.scenario, r.shard).Set(float64(at.UnixNano()) / 1e9)
}

// observe adds the values of h, an HdrHistogram in microseconds, to o in seconds: each
// of h's buckets as its midpoint, as often as it counts.
func observe(o prometheus.Observer, h *hdrhistogram.Histogram) {
	if h == nil || h.TotalCount() == 0 {
		return
	}
	for _, b := range h.Distribution() {
		if b.Count <= 0 {
			continue
		}
		v := float64(b.From+b.To) / 2 / 1e6
		for range b.Count {
			o.Observe(v)
		}
	}
}

// Tee is an IntervalSink that adds each interval to Run and then hands it to Sink.
type Tee struct {
	Run  *Run
	Sink loadgen.IntervalSink // may be nil
}

// Interval implements loadgen.IntervalSink. The metrics take the interval before Sink,
// which owns its histograms after the call.
func (t Tee) Interval(iv loadgen.Interval) error {
	t.Run.Interval(iv)
	if t.Sink == nil {
		return nil
	}
	return t.Sink.Interval(iv)
}
