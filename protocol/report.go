package protocol

import (
	"fmt"
	"sort"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/vmihailenco/msgpack/v5"
)

// ReportSchema is the version of the Report layout this package writes.
const ReportSchema = 1

// HistogramUnit is the unit of every value in a Report's service-time histograms.
const HistogramUnit = "us"

// Report is the performance report the reference broker sends in reply to PERFMNCE: the
// properties frame of a PERFRPRT message is this map, with the msgpack keys shown.
//
// Counts and histograms are cumulative since the server started, so a client differences
// two snapshots of the same Instance to get what happened between them. Service time is
// the time from a request's decoding to its reply being handed to the transport, recorded
// in microseconds (HistogramUnit) in an HdrHistogram, carried in HdrHistogram's V2
// compressed encoding (hdrhistogram-go's Encode; DecodeHistogram reads it back).
//
// PERFMNCE requests are counted in Reports, apart from Commands, so polling for reports
// does not show up as load. The real DMB 0.2.1 server sends no report: it echoes PERFMNCE.
type Report struct {
	Schema        int                      `msgpack:"schema"`         // ReportSchema
	Server        string                   `msgpack:"server"`         // server name, e.g. "dmbench-broker"
	Version       string                   `msgpack:"version"`        // server version
	Instance      string                   `msgpack:"instance"`       // new at every start
	Mode          string                   `msgpack:"mode"`           // e.g. "reference"
	UptimeSeconds float64                  `msgpack:"uptime_s"`       // since start
	CPUSeconds    float64                  `msgpack:"cpu_s"`          // process user + system CPU
	RSSBytes      int64                    `msgpack:"rss_bytes"`      // process resident memory
	Peers         int64                    `msgpack:"peers"`          // connected now
	Groups        int64                    `msgpack:"groups"`         // groups in the store
	Memberships   int64                    `msgpack:"memberships"`    // (group, channel) pairs
	HistogramUnit string                   `msgpack:"histogram_unit"` // HistogramUnit
	Commands      map[string]CommandCounts `msgpack:"commands"`       // by wire name; "unknown" for the rest
	Reports       CommandCounts            `msgpack:"reports"`        // PERFMNCE requests
	Malformed     uint64                   `msgpack:"malformed"`      // messages whose command could not be read
	Dropped       Dropped                  `msgpack:"dropped"`        // by fault injection or a full send queue

	// Extra holds keys of the map that this schema does not know, as decoded; Missing
	// lists this schema's keys the map lacked. Neither is sent.
	Extra   map[string]any `msgpack:"-"`
	Missing []string       `msgpack:"-"`
}

// UnknownCommand is the Commands key under which a report counts commands it does not know.
const UnknownCommand = "unknown"

// CommandCounts are one command's counters and service-time histogram.
type CommandCounts struct {
	Received   uint64 `msgpack:"received"`   // requests that reached the handler
	Completed  uint64 `msgpack:"completed"`  // handled successfully (answered when ack)
	Exceptions uint64 `msgpack:"exceptions"` // failed (EXCEPTON when ack)
	Malformed  uint64 `msgpack:"malformed"`  // undecodable requests naming this command
	// ServiceTime is an HdrHistogram in V2 compressed encoding, in microseconds.
	ServiceTime []byte `msgpack:"service_time"`
}

// Dropped counts what the server discarded: by fault injection (Requests, Replies), and
// replies its transport refused (QueueFull).
type Dropped struct {
	Requests uint64 `msgpack:"requests"` // discarded before processing (not in Received)
	Replies  uint64 `msgpack:"replies"`  // discarded after processing (in Completed)
	// QueueFull counts replies dropped because the peer's send queue, or every peer's
	// together, was at its cap (a peer that does not read its replies). Their requests
	// are in Received but not in Completed or Exceptions: they were not answered. A
	// server that predates it sends no such key, read as 0.
	QueueFull uint64 `msgpack:"queue_full"`
}

// reportKeys are the top-level keys of the schema, for Missing and Extra.
var reportKeys = []string{
	"schema", "server", "version", "instance", "mode", "uptime_s", "cpu_s", "rss_bytes",
	"peers", "groups", "memberships", "histogram_unit", "commands", "reports", "malformed", "dropped",
}

// EncodeReport returns r as a msgpack map, the properties frame of a PERFRPRT.
func EncodeReport(r *Report) ([]byte, error) {
	return msgpack.Marshal(r)
}

// DecodeReport reads a PERFRPRT properties frame leniently: the fields of this schema are
// filled where present and of the right type, keys it does not know are kept in Extra,
// and keys it expects but did not find are listed in Missing. Only a frame that is not a
// msgpack map at all is an error, so a future server with its own report does not break a
// run.
func DecodeReport(frame []byte) (*Report, error) {
	var raw map[string]any
	if err := msgpack.Unmarshal(frame, &raw); err != nil {
		return nil, fmt.Errorf("performance report is not a msgpack map with string keys: %w", err)
	}
	if raw == nil {
		return nil, fmt.Errorf("performance report is nil, not a map")
	}
	r := &Report{}
	for _, k := range reportKeys {
		v, ok := raw[k]
		if !ok {
			r.Missing = append(r.Missing, k)
			continue
		}
		delete(raw, k)
		// Decode each known field on its own, so that one field of an unexpected
		// type leaves the others readable; such a field is kept raw in Extra.
		one, err := msgpack.Marshal(map[string]any{k: v})
		if err == nil {
			err = msgpack.Unmarshal(one, r)
		}
		if err != nil {
			if r.Extra == nil {
				r.Extra = map[string]any{}
			}
			r.Extra[k] = v
		}
	}
	for k, v := range raw {
		if r.Extra == nil {
			r.Extra = map[string]any{}
		}
		r.Extra[k] = v
	}
	sort.Strings(r.Missing)
	return r, nil
}

// EncodeHistogram returns h in HdrHistogram's V2 compressed encoding, as Report carries it.
func EncodeHistogram(h *hdrhistogram.Histogram) ([]byte, error) {
	return h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
}

// DecodeHistogram reads a histogram written by EncodeHistogram (or by any HdrHistogram
// implementation's V2 compressed encoding). An empty slice decodes to nil.
func DecodeHistogram(b []byte) (*hdrhistogram.Histogram, error) {
	if len(b) == 0 {
		return nil, nil
	}
	return hdrhistogram.Decode(b)
}
