package resultfmt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/dmbench/dmbench/version"
)

// SchemaVersion is the version of result.json's layout. It rises when a field changes its
// meaning or goes away; adding a field does not raise it.
//
// Version 2: a stage's rates (throughput_per_s, sent_per_s) divide by its measured window
// (measured_us, warm-up excluded); version 1 divided by the whole stage, warm-up included,
// so its rates were short by the warm-up's share.
const SchemaVersion = 2

// Meta describes a run: what ran, where, against what, with which settings, and when.
type Meta struct {
	SchemaVersion int    `json:"schema_version"` // SchemaVersion of the writer
	Tool          string `json:"tool"`           // "dmbench"
	ToolVersion   string `json:"tool_version"`
	GitSHA        string `json:"git_sha,omitempty"`
	GitModified   bool   `json:"git_modified,omitempty"`
	GoVersion     string `json:"go_version"`

	Host       string `json:"host"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`

	Scenario  Scenario          `json:"scenario"`
	Seed      int64             `json:"seed"`
	Target    Target            `json:"target"`
	Transport string            `json:"transport"`              // "native" or "zmq4"
	Labels    map[string]string `json:"labels,omitempty"`       // --label key=value
	Flags     map[string]string `json:"flags,omitempty"`        // flags as set, by name
	Args      []string          `json:"command_line,omitempty"` // the command line as given

	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	Interrupted     bool      `json:"interrupted"`                // stopped before the plan's end
	InterruptReason string    `json:"interrupt_reason,omitempty"` // e.g. "interrupt signal", "server gone"

	// Shard is set when the run was one share of a sharded run (run --shard i/N): its
	// counts are its share of the load, not the whole. Absent otherwise.
	Shard *Shard `json:"shard,omitempty"`
	// Merge is set on a result that dmbench merge made from a sharded run's shards.
	Merge *Merge `json:"merge,omitempty"`
}

// Shard says which share of a sharded run a result holds. The N shards of one run each
// run 1/N of the scenario's clients and rate, from one agreed instant, StartAt, on their
// own machines; dmbench merge joins their results into one.
type Shard struct {
	Index int `json:"index"` // 0-based, below Count
	Count int `json:"count"` // the run's shards, N
	// StartAt is the wall-clock instant (RFC 3339) at which every shard started its
	// schedule. It tells the shards of one run apart from those of another.
	StartAt time.Time `json:"start_at"`
}

// String returns "shard 2/3" for the shard of index 1 of 3 (counting from 1, as people
// do; the flag's index counts from 0).
func (s *Shard) String() string { return fmt.Sprintf("shard %d/%d", s.Index+1, s.Count) }

// Merge describes a result made by dmbench merge from the N results of a sharded run:
// which shards went in, how their windows and clocks compare, and what was decided on
// the way (Notes).
type Merge struct {
	Count   int           `json:"count"`             // the shards the run had (Shard.Count)
	Shards  []MergedShard `json:"shards"`            // the shards merged, by index
	Missing []int         `json:"missing,omitempty"` // indexes absent (merge --allow-missing)
	StartAt time.Time     `json:"start_at"`          // the shards' Shard.StartAt
	// ClockSkewBoundUS bounds how far apart any two shards' clocks were, from the server's
	// reports (see package merge); absent when it cannot be known, and ClockSkew says why.
	ClockSkewBoundUS *int64 `json:"clock_skew_bound_us,omitempty"`
	ClockSkew        string `json:"clock_skew"` // "bounded by the server's reports", or "unknown: why"
	// ServerViewFrom is the index of the shard whose server snapshots the merged server
	// view joins against; absent when no shard has one.
	ServerViewFrom *int `json:"server_view_from,omitempty"`
	// Notes say what the merge decided that a reader should know: windows that differ,
	// shards whose reports do not cover the run, an interval log a shard lacks.
	Notes []string `json:"notes,omitempty"`
}

// MergedShard is one shard as it went into a merge.
type MergedShard struct {
	Index int       `json:"index"`
	Dir   string    `json:"dir"` // the folder it was read from
	Host  string    `json:"host"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// ServerStart is when the server started as this shard's clock reads it: from its
	// report with the shortest round trip, the middle of that round trip less the
	// server's uptime, right to within ± ServerStartErrUS (half the round trip). Two
	// shards' readings differ by their clocks' skew; absent without a report.
	ServerStart      *time.Time `json:"server_start,omitempty"`
	ServerStartErrUS *int64     `json:"server_start_err_us,omitempty"`
	// ServerInstance is the server instance its reports came from.
	ServerInstance string `json:"server_instance,omitempty"`
}

// Scenario identifies the scenario a run executed.
type Scenario struct {
	Name   string `json:"name"`
	File   string `json:"file,omitempty"` // path given, or "bundled:<name>"
	Text   string `json:"text,omitempty"` // the file's full text
	SHA256 string `json:"sha256,omitempty"`
}

// Target is the server under load.
type Target struct {
	Address    string   `json:"address"`               // signalling address, tcp://host:port
	Embedded   bool     `json:"embedded"`              // the reference broker ran inside dmbench
	BrokerMode string   `json:"broker_mode,omitempty"` // embedded broker's mode, e.g. "dmb-0.2.1"
	Faults     []string `json:"faults,omitempty"`      // embedded broker's injected faults
}

// NewMeta returns a Meta filled with what the process can tell about itself: tool and Go
// versions, git revision, host name, OS, architecture, CPU count and GOMAXPROCS. The caller
// fills the scenario, target, seed, labels and flags.
func NewMeta() Meta {
	b := version.Read()
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return Meta{
		SchemaVersion: SchemaVersion,
		Tool:          "dmbench",
		ToolVersion:   b.Version,
		GitSHA:        b.Commit,
		GitModified:   b.Modified,
		GoVersion:     b.GoVersion,
		Host:          host,
		OS:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		NumCPU:        runtime.NumCPU(),
		GOMAXPROCS:    runtime.GOMAXPROCS(0),
	}
}

// SetScenario records the scenario's name, file and text, and the text's SHA-256 hash,
// which tells whether two runs executed the same scenario.
func (m *Meta) SetScenario(name, file string, text []byte) {
	sum := sha256.Sum256(text)
	m.Scenario = Scenario{Name: name, File: file, Text: string(text), SHA256: hex.EncodeToString(sum[:])}
}

// ParseLabels turns --label arguments of the form key=value into a map. A key is
// non-empty and has no spaces; a repeated key is an error.
func ParseLabels(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	labels := make(map[string]string, len(args))
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok:
			return nil, fmt.Errorf("label %q: want key=value, e.g. broker=0.2.1", a)
		case k == "" || strings.ContainsAny(k, " \t\n"):
			return nil, fmt.Errorf("label %q: the key must be non-empty and without spaces, e.g. broker=0.2.1", a)
		}
		if _, dup := labels[k]; dup {
			return nil, fmt.Errorf("label %q: key %q given twice; give each key once", a, k)
		}
		labels[k] = v
	}
	return labels, nil
}
