package promexport

import (
	"sort"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dmbench/dmbench/protocol"
)

// BrokerMetricNames are the metric families a BrokerCollector serves.
var BrokerMetricNames = []string{
	"dmbench_broker_info",
	"dmbench_broker_uptime_seconds",
	"dmbench_broker_cpu_seconds_total",
	"dmbench_broker_resident_memory_bytes",
	"dmbench_broker_peers",
	"dmbench_broker_groups",
	"dmbench_broker_memberships",
	"dmbench_broker_requests_received_total",
	"dmbench_broker_requests_completed_total",
	"dmbench_broker_exceptions_total",
	"dmbench_broker_malformed_requests_total",
	"dmbench_broker_report_requests_total",
	"dmbench_broker_malformed_messages_total",
	"dmbench_broker_dropped_requests_total",
	"dmbench_broker_dropped_replies_total",
	"dmbench_broker_replies_dropped_queue_full_total",
	"dmbench_broker_service_time_seconds",
}

// BrokerCollector serves a broker's report (protocol.Report, what it answers PERFMNCE
// with) as metrics, reading it afresh on every scrape.
type BrokerCollector struct {
	report func() protocol.Report

	info, uptime, cpu, rss, peers, groups, memberships *prometheus.Desc
	received, completed, exceptions, malformedReq      *prometheus.Desc
	reports, malformed, droppedReq, droppedRep         *prometheus.Desc
	serviceTime, queueFull                             *prometheus.Desc
}

// NewBrokerCollector returns a collector that calls report on every scrape (e.g.
// broker.Server.Report).
func NewBrokerCollector(report func() protocol.Report) *BrokerCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &BrokerCollector{
		report:       report,
		info:         d("dmbench_broker_info", "The broker's name, version, mode and instance (value 1).", "server", "version", "mode", "instance"),
		uptime:       d("dmbench_broker_uptime_seconds", "Time since the broker started."),
		cpu:          d("dmbench_broker_cpu_seconds_total", "The broker process's user and system CPU time."),
		rss:          d("dmbench_broker_resident_memory_bytes", "The broker process's resident memory."),
		peers:        d("dmbench_broker_peers", "Peers connected now."),
		groups:       d("dmbench_broker_groups", "Groups in the store."),
		memberships:  d("dmbench_broker_memberships", "(group, channel) pairs in the store."),
		received:     d("dmbench_broker_requests_received_total", "Requests that reached the handler, by command.", "command"),
		completed:    d("dmbench_broker_requests_completed_total", "Requests handled successfully (answered when ack), by command.", "command"),
		exceptions:   d("dmbench_broker_exceptions_total", "Requests that failed (EXCEPTON when ack), by command.", "command"),
		malformedReq: d("dmbench_broker_malformed_requests_total", "Undecodable requests naming a command, by command.", "command"),
		reports:      d("dmbench_broker_report_requests_total", "Performance report requests (PERFMNCE) received."),
		malformed:    d("dmbench_broker_malformed_messages_total", "Messages whose command could not be read."),
		droppedReq:   d("dmbench_broker_dropped_requests_total", "Requests discarded by fault injection before processing."),
		droppedRep:   d("dmbench_broker_dropped_replies_total", "Replies discarded by fault injection after processing."),
		queueFull:    d("dmbench_broker_replies_dropped_queue_full_total", "Replies dropped because the client's send queue or the broker's total was full (the client does not read)."),
		serviceTime:  d("dmbench_broker_service_time_seconds", "The broker's own time to handle each request, by command (from its HdrHistogram; classic buckets).", "command"),
	}
}

// Describe implements prometheus.Collector.
func (b *BrokerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{b.info, b.uptime, b.cpu, b.rss, b.peers, b.groups, b.memberships,
		b.received, b.completed, b.exceptions, b.malformedReq, b.reports, b.malformed, b.droppedReq, b.droppedRep,
		b.serviceTime, b.queueFull} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (b *BrokerCollector) Collect(ch chan<- prometheus.Metric) {
	r := b.report()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	c := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	g(b.info, 1, r.Server, r.Version, r.Mode, r.Instance)
	g(b.uptime, r.UptimeSeconds)
	c(b.cpu, r.CPUSeconds)
	g(b.rss, float64(r.RSSBytes))
	g(b.peers, float64(r.Peers))
	g(b.groups, float64(r.Groups))
	g(b.memberships, float64(r.Memberships))
	cmds := make([]string, 0, len(r.Commands))
	for k := range r.Commands {
		cmds = append(cmds, k)
	}
	sort.Strings(cmds)
	for _, k := range cmds {
		cc := r.Commands[k]
		c(b.received, float64(cc.Received), k)
		c(b.completed, float64(cc.Completed), k)
		c(b.exceptions, float64(cc.Exceptions), k)
		c(b.malformedReq, float64(cc.Malformed), k)
		if h, err := protocol.DecodeHistogram(cc.ServiceTime); err == nil && h != nil && h.TotalCount() > 0 {
			count, sum, buckets := classicBuckets(h)
			ch <- prometheus.MustNewConstHistogram(b.serviceTime, count, sum, buckets, k)
		}
	}
	c(b.reports, float64(r.Reports.Received))
	c(b.malformed, float64(r.Malformed))
	c(b.droppedReq, float64(r.Dropped.Requests))
	c(b.droppedRep, float64(r.Dropped.Replies))
	c(b.queueFull, float64(r.Dropped.QueueFull))
}

// classicBuckets turns h, an HdrHistogram in microseconds, into a Prometheus histogram in
// seconds: its count, its sum (count × mean) and, for each of LatencyBuckets, how many
// values are at or below it (each of h's buckets counted at its upper end, so a value is
// never put below the bound it passed).
func classicBuckets(h *hdrhistogram.Histogram) (uint64, float64, map[float64]uint64) {
	buckets := make(map[float64]uint64, len(LatencyBuckets))
	bars := h.Distribution()
	var below uint64
	i := 0
	for _, le := range LatencyBuckets {
		for ; i < len(bars) && float64(bars[i].To)/1e6 <= le; i++ {
			below += uint64(max(bars[i].Count, 0))
		}
		buckets[le] = below
	}
	count := uint64(h.TotalCount())
	return count, h.Mean() * float64(count) / 1e6, buckets
}
