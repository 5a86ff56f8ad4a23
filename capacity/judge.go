package capacity

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/resultfmt"
)

// Quantile returns the highest percentile the objectives ask for, as a fraction (p99 →
// 0.99, server-p99.9 → 0.999), or 0 when none names a percentile.
func Quantile(ts []comparison.Threshold) float64 {
	q := 0.0
	for _, t := range ts {
		if t.Metric == nil {
			continue
		}
		name := strings.TrimPrefix(t.Metric.Name, "server-")
		if !strings.HasPrefix(name, "p") {
			continue
		}
		v, err := strconv.ParseFloat(name[1:], 64)
		if err == nil && v > 0 && v < 100 {
			q = max(q, v/100)
		}
	}
	return q
}

// Judge reads a step's result: its rates and corrected latency (all commands of all
// stages merged, warm-up excluded) and each way it can fail. want is the number of
// connections the step was to hold.
func Judge(r *resultfmt.Result, objectives []comparison.Threshold) Outcome {
	var o Outcome
	h := loadgen.NewHistogram()
	for si := range r.Stages {
		for ci := range r.Stages[si].Commands {
			c := &r.Stages[si].Commands[ci]
			o.AchievedPerS += c.ThroughputPerS
			o.SentPerS += c.SentPerS
			if ch, err := c.Corrected.Decode(); err == nil {
				h.Merge(ch)
			}
		}
	}
	if h.TotalCount() > 0 {
		o.P50US, o.P99US = h.ValueAtQuantile(50), h.ValueAtQuantile(99)
	}
	for _, v := range comparison.CheckThresholds(r, objectives) {
		o.Violations = append(o.Violations, v.String())
	}
	if n := len(r.Stalls); n > 0 {
		longest := int64(0)
		for _, s := range r.Stalls {
			longest = max(longest, s.DurationUS)
		}
		o.Stalled = fmt.Sprintf("%d stall(s) with requests outstanding and no reply, the longest %v", n, time.Duration(longest)*time.Microsecond)
	}
	if r.Generator.Bound {
		o.Bound = nonEmpty(strings.Join(r.Generator.Reasons, "; "), "the generator watched itself and found it was the bottleneck")
	}
	c := &r.Connections
	var conn []string
	if c.ConnectFailed > 0 {
		conn = append(conn, fmt.Sprintf("%d connect attempt(s) failed%s", c.ConnectFailed, causes(c.ConnectFailCauses)))
	}
	if c.Disconnects > 0 {
		conn = append(conn, fmt.Sprintf("%d connection(s) lost%s", c.Disconnects, causes(c.DisconnectCauses)))
	}
	if c.ConnectedAtEnd < c.ClientsAtEnd {
		conn = append(conn, fmt.Sprintf("%d of %d clients connected at the end", c.ConnectedAtEnd, c.ClientsAtEnd))
	}
	o.Connections = strings.Join(conn, "; ")
	o.ServerLost = c.ServerLost
	o.Interrupted = r.Meta.Interrupted
	return o
}

// causes writes a cause count as " (refused 3, reset by the server 1)".
func causes(m map[string]uint64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func nonEmpty(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}
