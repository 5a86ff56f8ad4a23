package resultfmt

import (
	"time"

	"github.com/dmbench/dmbench/serverview"
)

// ServerView is the server's own view of the run beside the client's, in result.json's
// server_view: every performance report (PERFRPRT) dmbench asked for on a connection of
// its own, kept whole, and per stage and for the whole run the client's figures joined
// with the differences of the server's reports.
//
// The whole run (Total) goes from the snapshot taken before the load began to the one
// taken after it drained, so on a healthy server its counts join exactly: requests the
// client sent equal those the server received. A stage goes from the snapshot at its
// start (the run's first for stage 1) to the next stage's (the last for the last stage);
// requests in flight at a boundary fall on either side, so a stage joins approximately.
type ServerView struct {
	Addr        string `json:"addr,omitempty"` // the signalling address asked
	PollEveryUS int64  `json:"poll_every_us"`  // periodic snapshots; 0: none
	TimeoutUS   int64  `json:"timeout_us"`     // wait for each reply
	// Available is true when the server sent at least one report.
	Available bool `json:"available"`
	// NoReport says why the server sent no report or stopped being asked (e.g. it echoed
	// PERFMNCE, as DMB 0.2.1 does, or did not answer in time); empty when every request
	// was answered.
	NoReport  string           `json:"no_report,omitempty"`
	Sent      int              `json:"sent"` // PERFMNCE requests sent
	Snapshots []ServerSnapshot `json:"snapshots"`
	Stages    []ServerJoin     `json:"stages,omitempty"` // as Result.Stages
	Total     *ServerJoin      `json:"total,omitempty"`  // the whole run, warm-up included
	OverRun   ServerOverRun    `json:"over_run"`
}

// ServerSnapshot is one PERFMNCE request and the report that answered it.
type ServerSnapshot struct {
	Label      string     `json:"label"`                 // start, stage N start, periodic, end
	StageIndex *int       `json:"stage_index,omitempty"` // 0-based, for a stage's snapshot
	At         time.Time  `json:"at"`                    // the moment it stands for (a stage's start)
	OffsetUS   int64      `json:"offset_us"`             // At − the run's start; < 0 before the load
	Sent       *time.Time `json:"sent,omitempty"`        // absent: could not be sent
	Received   *time.Time `json:"received,omitempty"`    // absent: no reply
	// RoundTripUS is the reply's time after the request's.
	RoundTripUS int64         `json:"round_trip_us,omitempty"`
	Polls       int           `json:"polls"`           // PERFMNCE sent by dmbench so far, this one included
	Reply       string        `json:"reply,omitempty"` // the reply's command
	Report      *ServerReport `json:"report,omitempty"`
	Error       string        `json:"error,omitempty"` // why there is no report
}

// ServerReport is a PERFRPRT's properties as dmbench read them (protocol.Report, schema
// 1). Extra keeps every key the schema does not know, and any known key whose value had
// a type the schema cannot read, raw (msgpack bin as base64, other maps with their keys
// as text, non-finite floats as text); Missing lists the schema's keys the report lacked.
// A known key in either reads as absent, not as zero.
type ServerReport struct {
	Schema        int                            `json:"schema"`
	Server        string                         `json:"server"`
	Version       string                         `json:"version"`
	Instance      string                         `json:"instance"`
	Mode          string                         `json:"mode"`
	UptimeS       float64                        `json:"uptime_s"`
	CPUS          float64                        `json:"cpu_s"`
	RSSBytes      int64                          `json:"rss_bytes"`
	Peers         int64                          `json:"peers"`
	Groups        int64                          `json:"groups"`
	Memberships   int64                          `json:"memberships"`
	HistogramUnit string                         `json:"histogram_unit"`
	Commands      map[string]ServerCommandCounts `json:"commands"`
	Reports       ServerCommandCounts            `json:"reports"`
	Malformed     uint64                         `json:"malformed"`
	Dropped       ServerDropped                  `json:"dropped"`
	Extra         map[string]any                 `json:"extra,omitempty"`
	Missing       []string                       `json:"missing,omitempty"`
}

// ServerCommandCounts are one command's cumulative counts in a report.
type ServerCommandCounts struct {
	Received   uint64 `json:"received"`
	Completed  uint64 `json:"completed"`
	Exceptions uint64 `json:"exceptions"`
	Malformed  uint64 `json:"malformed"`
	// ServiceTime is the histogram as sent: HdrHistogram's V2 compressed encoding in base64
	// text (as Latency.Histogram). Bytes that are not text are kept in Extra instead.
	ServiceTime string `json:"service_time,omitempty"`
}

// ServerDropped counts what the server's fault injection discarded.
type ServerDropped struct {
	Requests uint64 `json:"requests"`
	Replies  uint64 `json:"replies"`
}

// ServerJoin is a stretch of the run seen from both sides.
type ServerJoin struct {
	Name string `json:"name"` // the stage's name, or "whole run"
	// From and To are the snapshots (labels and indexes in Snapshots) whose difference is
	// the server's side; -1 when there was none.
	From         string `json:"from"`
	To           string `json:"to"`
	FromSnapshot int    `json:"from_snapshot"`
	ToSnapshot   int    `json:"to_snapshot"`
	// Exact is true when the join runs from before the load to after it drained, so
	// every request is on the same side of both ends.
	Exact          bool `json:"exact"`
	IncludesWarmup bool `json:"includes_warmup,omitempty"` // the client's side adds the warm-up, which the server cannot tell apart
	// Problem says why the server's side is absent (no snapshot, a restart, no counts).
	Problem  string              `json:"problem,omitempty"`
	Commands []ServerCommandJoin `json:"commands"`
	// Others are requests the server received that dmbench did not send in this
	// stretch (other clients), by the server's command key.
	Others map[string]uint64 `json:"others,omitempty"`
	// The server's state at To; absent when its report lacked them.
	Groups      *int64         `json:"groups,omitempty"`
	Memberships *int64         `json:"memberships,omitempty"`
	RSSBytes    *int64         `json:"rss_bytes,omitempty"`
	Dropped     *ServerDropped `json:"dropped,omitempty"` // by fault injection within the stretch
}

// ServerCommandJoin is one command seen from both sides.
type ServerCommandJoin struct {
	Command string `json:"command"`
	// ServerKey is the report's key for the command when it is not its name (commands the
	// server does not know are counted under "unknown").
	ServerKey   string `json:"server_key,omitempty"`
	ClientSent  uint64 `json:"client_sent"`
	ClientNoAck uint64 `json:"client_no_ack"` // of sent, without ack: never answered
	ClientOK    uint64 `json:"client_ok"`
	// ClientReplies are the replies that came back: OK, exceptions, unexpected and late.
	ClientReplies uint64 `json:"client_replies"`
	// Server is the server's side; absent when its reports do not give it (see Note).
	Server *ServerCounts `json:"server,omitempty"`
	// LossBeforeServer is client sent − server received: requests that never reached
	// the server's handler. LossAfterServer is the server's completed and failed requests
	// − the client's requests without ack − the replies the client got: replies that
	// never came back. Requests without ack are taken to reach the server; when some are
	// lost before it, LossAfterServer reads that many too low.
	LossBeforeServer *int64 `json:"loss_before_server"`
	LossAfterServer  *int64 `json:"loss_after_server"`
	// Client round trip (uncorrected latency: reply − actual send) beside the server's
	// service time (from decoding the request to handing the reply to the transport):
	// the difference is queueing, network and the generator.
	ClientRTTCount int64   `json:"client_rtt_count"`
	ClientRTTP50US int64   `json:"client_rtt_p50_us"`
	ClientRTTP99US int64   `json:"client_rtt_p99_us"`
	ServiceTime    Latency `json:"server_service_time"` // the server's own histogram for the stretch
	ServiceProblem string  `json:"service_problem,omitempty"`
	Note           string  `json:"note,omitempty"`
}

// ServerCounts are what the server counted of one command within a stretch.
type ServerCounts struct {
	Received   uint64 `json:"received"`
	Completed  uint64 `json:"completed"`
	Exceptions uint64 `json:"exceptions"`
	Malformed  uint64 `json:"malformed"`
}

// ServerOverRun is the server's state over the run, from every report in order.
type ServerOverRun struct {
	Groups      *ServerGauge `json:"groups,omitempty"`
	Memberships *ServerGauge `json:"memberships,omitempty"`
	RSSBytes    *ServerGauge `json:"rss_bytes,omitempty"`
	Peers       *ServerGauge `json:"peers,omitempty"`
	// CPUSeconds is the server process's CPU from the first report to the last, over
	// UptimeSeconds of its clock; absent when either lacks it or the server restarted.
	CPUSeconds    *float64 `json:"cpu_seconds,omitempty"`
	UptimeSeconds *float64 `json:"uptime_seconds,omitempty"`
}

// ServerGauge is a figure at the first and last report that gave it, and its highest.
type ServerGauge struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	Max   int64 `json:"max"`
}

// SetServerView records what a serverview.Poller gathered (or, with no snapshot, only
// why there is none) and joins it with the result's stages. Call it after FromLoadgen;
// nil removes the section.
func (r *Result) SetServerView(v *serverview.View) {
	if v == nil {
		r.ServerView = nil
		return
	}
	sv := &ServerView{
		Addr:        v.Addr,
		PollEveryUS: us(v.Every),
		TimeoutUS:   us(v.Timeout),
		Available:   v.Available,
		NoReport:    v.NoReport,
		Snapshots:   []ServerSnapshot{},
	}
	for i := range v.Snapshots {
		s := &v.Snapshots[i]
		if !s.Sent.IsZero() {
			sv.Sent++
		}
		sv.Snapshots = append(sv.Snapshots, snapshotFrom(s, r.Meta.Start))
	}
	if v.Available {
		sv.OverRun = overRun(v.Snapshots)
		r.joinServer(v, sv)
	}
	r.ServerView = sv
}
