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
