package broker

import (
	"fmt"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
	"github.com/dmbench/dmbench/version"
)

// TestPerformanceReport sends a known mix and checks that PERFRPRT counts exactly that:
// per command received, completed, exceptions and malformed, service-time histograms with
// one value per request handled, PERFMNCE apart in reports.
func TestPerformanceReport(t *testing.T) {
	type want struct{ received, completed, exceptions, malformed uint64 }
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		s := startBroker(t, kind, Config{})
		c := dial(t, kind, s.Addr())
		for i := range 7 {
			c.call(groupAdd(fmt.Sprint("g", i), "c", 0)) // 7 completed
		}
		for i := range 3 {
			m := groupAdd(fmt.Sprint("n", i), "c", 0)
			c.send(m) // 3 completed, no ack
		}
		c.call(groupAdd("g", "", 0))                                             // 1 exception
		c.call(protocol.Message{ID: []byte("d"), Command: protocol.GroupDiscard, // 1 completed
			Properties: protocol.Properties{GroupName: []byte("g0"), ChannelName: []byte("c")}})
		for range 4 {
			c.heartbeat("hb") // 4 completed
		}
		c.call(protocol.Message{ID: []byte("u"), Command: "NOSUCHCM"}) // unknown: 1 exception
		c.sendFrames([][]byte{{}, []byte("m"), []byte("HARTBEAT"), {0xc1}})
		c.mustRecv()                                     // HARTBEAT malformed: 1
		c.sendFrames([][]byte{[]byte("x"), []byte("y")}) // no delimiter: Report.Malformed 1
		c.call(protocol.Message{ID: []byte("p1"), Command: protocol.Performance})
		r := c.call(protocol.Message{ID: []byte("p2"), Command: protocol.Performance})
		if r.Command != protocol.PerformanceReport || string(r.ID) != "p2" {
			t.Fatalf("reply %s id %q, want PERFRPRT p2", r.Command, r.ID)
		}
		rep, err := protocol.DecodeReport(r.RawProperties)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Missing) != 0 || len(rep.Extra) != 0 {
			t.Errorf("report missing %v, extra %v", rep.Missing, rep.Extra)
		}
		wants := map[string]want{
			"GROUPADD": {11, 10, 1, 0}, "GROUPDIS": {1, 1, 0, 0}, "HARTBEAT": {4, 4, 0, 1},
			"FLUSHXXX": {}, "PRINTXXX": {}, protocol.UnknownCommand: {1, 0, 1, 0},
		}
		if len(rep.Commands) != len(wants) {
			t.Errorf("commands %v, want %d entries", keys(rep.Commands), len(wants))
		}
		for name, w := range wants {
			got := rep.Commands[name]
			if g := (want{got.Received, got.Completed, got.Exceptions, got.Malformed}); g != w {
				t.Errorf("%s: received, completed, exceptions, malformed = %v, want %v", name, g, w)
			}
			h, err := protocol.DecodeHistogram(got.ServiceTime)
			if err != nil {
				t.Fatalf("%s: service time: %v", name, err)
			}
			if n := histCount(h); n != int64(w.received) {
				t.Errorf("%s: service time histogram holds %d values, want %d", name, n, w.received)
			}
		}
		if g := rep.Reports; g.Received != 2 || g.Completed != 2 || g.Exceptions != 0 {
			t.Errorf("reports %+v, want 2 received and completed", g)
		}
		if rep.Malformed != 1 {
			t.Errorf("malformed %d, want 1", rep.Malformed)
		}
		if rep.Schema != protocol.ReportSchema || rep.Server != ServerName || rep.Version != version.Read().String() ||
			rep.Mode != string(Reference) || rep.HistogramUnit != protocol.HistogramUnit || len(rep.Instance) != 16 {
			t.Errorf("identity: schema %d server %q version %q mode %q unit %q instance %q",
				rep.Schema, rep.Server, rep.Version, rep.Mode, rep.HistogramUnit, rep.Instance)
		}
		if rep.Groups != 9 || rep.Memberships != 9 || rep.Peers != 1 {
			t.Errorf("groups %d memberships %d peers %d, want 9, 9, 1", rep.Groups, rep.Memberships, rep.Peers)
		}
		if rep.UptimeSeconds <= 0 || rep.CPUSeconds <= 0 || rep.RSSBytes <= 0 {
			t.Errorf("uptime %v cpu %v rss %d, want all positive", rep.UptimeSeconds, rep.CPUSeconds, rep.RSSBytes)
		}
		if local := s.Report(); local.Instance != rep.Instance || local.Commands["GROUPADD"].Received != 11 {
			t.Errorf("Server.Report instance %q GROUPADD %+v, want the PERFRPRT's", local.Instance, local.Commands["GROUPADD"])
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// histCount is h's total count; a nil histogram (nothing recorded) holds none.
func histCount(h *hdrhistogram.Histogram) int64 {
	if h == nil {
		return 0
	}
	return h.TotalCount()
}
