package promexport

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
)

// fedRun returns a Run fed with one stage, one interval of each kind and a progress
// snapshot, so that every family it registers has a series.
func fedRun(t *testing.T) *Run {
	t.Helper()
	r := NewRun("tiny", "")
	start := time.Now()
	r.Stage(0, "ramp", start)
	h := loadgen.NewHistogram()
	for v := int64(100); v < 5000; v += 7 {
		_ = h.RecordValue(v)
	}
	u := loadgen.NewHistogram()
	_ = u.RecordValue(250)
	c := loadgen.Counts{Sent: 10, OK: 7, Exceptions: 1, Timeouts: 1, Late: 1, SendErrors: 1}
	r.Interval(loadgen.Interval{Start: start, End: start.Add(time.Second), Command: protocol.GroupAdd, Warmup: true, Corrected: h, Uncorrected: u, SendDelay: u, Counts: c})
	if err := (Tee{Run: r}).Interval(loadgen.Interval{Start: start.Add(time.Second), End: start.Add(2 * time.Second), Command: protocol.GroupAdd, Corrected: h, Uncorrected: u, SendDelay: u, Counts: c}); err != nil {
		t.Fatal(err)
	}
	r.Progress(loadgen.Progress{Stage: "ramp", InFlight: 3, Connected: 2, TargetRate: 100, AchievedRate: 99, Elapsed: time.Second, Stalls: 1, Stalled: true})
	r.Ended(time.Now())
	return r
}

func brokerRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewBrokerCollector(func() protocol.Report {
		st := loadgen.NewHistogram()
		_ = st.RecordValue(120)
		enc, _ := st.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		return protocol.Report{Server: "dmbench-broker", Commands: map[string]protocol.CommandCounts{"GROUPADD": {Received: 3, Completed: 2, Exceptions: 1, ServiceTime: enc}}}
	}))
	return reg
}

func families(t *testing.T, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func TestNamesAndLint(t *testing.T) {
	for name, tc := range map[string]struct {
		g    prometheus.Gatherer
		want []string
	}{
		"run":    {fedRun(t).Registry(), RunMetricNames},
		"broker": {brokerRegistry(), BrokerMetricNames},
	} {
		mfs := families(t, tc.g)
		var got []string
		for _, mf := range mfs {
			got = append(got, mf.GetName())
		}
		if !slices.Equal(sorted(got), sorted(tc.want)) {
			t.Errorf("%s: families %v, want %v", name, sorted(got), sorted(tc.want))
		}
		problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: lint: %s: %s", name, p.Metric, p.Text)
		}
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// TestLatencyHistogram checks that an interval's latencies land in both the classic and
// the native buckets, in seconds.
func TestLatencyHistogram(t *testing.T) {
	r := fedRun(t)
	for _, mf := range families(t, r.Registry()) {
		if mf.GetName() != "dmbench_latency_seconds" {
			continue
		}
		for _, m := range mf.Metric {
			h := m.GetHistogram()
			if h.GetSampleCount() != 700 {
				t.Errorf("count %d, want 700", h.GetSampleCount())
			}
			if s := h.GetSampleSum(); s < 0.7*0.0025 || s > 700*0.006 {
				t.Errorf("sum %v s: not in seconds?", s)
			}
			if len(h.GetBucket()) != len(LatencyBuckets) {
				t.Errorf("%d classic buckets, want %d", len(h.GetBucket()), len(LatencyBuckets))
			}
			if h.GetSchema() == 0 && len(h.GetPositiveSpan()) == 0 {
				t.Error("no native buckets")
			}
		}
		return
	}
	t.Fatal("no dmbench_latency_seconds")
}

// TestDashboard decodes the Grafana dashboard and checks that its queries name only
// metrics dmbench serves.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("../examples/grafana/dmbench.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("not a dashboard: title %q uid %q, %d panels", dash.Title, dash.UID, len(dash.Panels))
	}
	served := map[string]bool{}
	for _, n := range append(slices.Clone(RunMetricNames), BrokerMetricNames...) {
		served[n] = true
	}
	word := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	var exprs []string
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	used := 0
	for _, e := range exprs {
		for _, w := range word.FindAllString(e, -1) {
			if !strings.HasPrefix(w, "dmbench_") {
				continue
			}
			used++
			base := w
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if s, ok := strings.CutSuffix(w, suf); ok && served[s] {
					base = s
				}
			}
			if !served[base] {
				t.Errorf("query %q names %s, which dmbench does not serve", e, w)
			}
		}
	}
	if used == 0 {
		t.Error("no query names a dmbench metric")
	}
}

// TestClassicBuckets: an HdrHistogram in µs becomes Prometheus buckets in seconds, each
// value counted in the first bucket whose bound it does not pass (worked by hand).
func TestClassicBuckets(t *testing.T) {
	h := loadgen.NewHistogram()
	for v, n := range map[int64]int{50: 2, 100: 5, 2000: 3, 20000: 1} {
		for range n {
			_ = h.RecordValue(v)
		}
	}
	count, sum, buckets := classicBuckets(h)
	want := map[float64]uint64{.0001: 7, .00025: 7, .0005: 7, .001: 7, .0025: 10, .005: 10, .01: 10, .025: 11, 120: 11}
	for le, n := range want {
		if buckets[le] != n {
			t.Errorf("bucket le=%v: %d, want %d", le, buckets[le], n)
		}
	}
	if count != 11 {
		t.Errorf("count %d, want 11", count)
	}
	if wantSum := (2*50 + 5*100 + 3*2000 + 20000) / 1e6; sum < wantSum*0.999 || sum > wantSum*1.001 {
		t.Errorf("sum %v s, want %v within 0.1%%", sum, wantSum)
	}
}

// TestServeRuntimeMetrics: the HTTP endpoint serves the process's own figures beside the
// registry's, the live heap after GC among them (what a soak watches).
func TestServeRuntimeMetrics(t *testing.T) {
	s, err := Serve("127.0.0.1:0", fedRun(t).Registry())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Get("http://" + s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, name := range append(RuntimeMetricNames, "process_resident_memory_bytes", "dmbench_requests_total") {
		m := regexp.MustCompile(`(?m)^` + name + `(\{[^}]*\})? ([0-9.e+]+)`).FindSubmatch(body)
		if m == nil {
			t.Errorf("%s not served", name)
			continue
		}
		if v, _ := strconv.ParseFloat(string(m[2]), 64); v <= 0 && name != "dmbench_requests_total" {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
}
