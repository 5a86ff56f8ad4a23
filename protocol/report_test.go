package protocol

import (
	"reflect"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

func TestReportRoundTrip(t *testing.T) {
	h := hdrhistogram.New(1, 3_600_000_000, 3)
	for _, v := range []int64{3, 5, 8, 13, 21, 1000} {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	st, err := EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	in := &Report{Schema: ReportSchema, Server: "dmbench-broker", Version: "v0", Instance: "abc", Mode: "reference",
		UptimeSeconds: 1.5, CPUSeconds: 0.25, RSSBytes: 1 << 20, Peers: 3, Groups: 2, Memberships: 5,
		HistogramUnit: HistogramUnit,
		Commands:      map[string]CommandCounts{"GROUPADD": {Received: 6, Completed: 5, Exceptions: 1, ServiceTime: st}},
		Reports:       CommandCounts{Received: 1, Completed: 1}, Malformed: 2, Dropped: Dropped{Requests: 1, Replies: 2}}
	b, err := EncodeReport(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeReport(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Missing) != 0 || len(out.Extra) != 0 {
		t.Errorf("missing %v, extra %v; want none", out.Missing, out.Extra)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
	back, err := DecodeHistogram(out.Commands["GROUPADD"].ServiceTime)
	if err != nil {
		t.Fatal(err)
	}
	if back.TotalCount() != 6 || back.Max() != h.Max() || back.ValueAtQuantile(50) != h.ValueAtQuantile(50) {
		t.Errorf("histogram: count %d max %d p50 %d; want 6, %d, %d", back.TotalCount(), back.Max(),
			back.ValueAtQuantile(50), h.Max(), h.ValueAtQuantile(50))
	}
}

// TestDecodeReportLenient reads a report from a different server: unknown fields are kept,
// missing ones listed, a field of the wrong type kept raw while the rest decode.
func TestDecodeReportLenient(t *testing.T) {
	frame := mustMsgpack(t, map[string]any{
		"server": "dmb", "version": "0.3.0", "groups": 7,
		"peers":          "three", // wrong type
		"queue_len":      12,      // unknown
		"commands":       map[string]any{"GROUPADD": map[string]any{"received": 4, "p99": 1.5}},
		"histogram_unit": "us",
	})
	r, err := DecodeReport(frame)
	if err != nil {
		t.Fatal(err)
	}
	if r.Server != "dmb" || r.Version != "0.3.0" || r.Groups != 7 || r.Commands["GROUPADD"].Received != 4 {
		t.Errorf("known fields not decoded: %+v", r)
	}
	if r.Extra["queue_len"] == nil || r.Extra["peers"] != "three" {
		t.Errorf("extra = %v, want queue_len and the raw peers", r.Extra)
	}
	wantMissing := []string{"cpu_s", "dropped", "instance", "malformed", "memberships", "mode", "reports", "rss_bytes", "schema", "uptime_s"}
	if !reflect.DeepEqual(r.Missing, wantMissing) {
		t.Errorf("missing = %v, want %v", r.Missing, wantMissing)
	}
	for _, bad := range [][]byte{{0xc1}, mustMsgpack(t, nil), mustMsgpack(t, []int{1})} {
		if _, err := DecodeReport(bad); err == nil {
			t.Errorf("DecodeReport(%x) = nil error, want one", bad)
		}
	}
}
