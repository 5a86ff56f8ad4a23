// Package loadgen drives DEALER clients through the stages of a plan against a DMB
// signalling address and records every round trip. It knows nothing of YAML or files: the
// CLI turns a scenario into a Plan, and package report writes what Run returns.
//
// # What is measured
//
// Every request has an intended send time. In an open loop it comes from the arrival
// schedule; in a closed loop it is the previous reply on that slot plus the think time.
// Per command, three HDR histograms are recorded, in microseconds:
//
//	corrected   = reply − intended send   (what a user of the server waits; wrk2's rule)
//	uncorrected = reply − actual send     (what a naive client would report)
//	send delay  = actual − intended send  (how far the generator fell behind)
//
// A request that times out is counted and recorded in the corrected histogram at its
// deadline (timeout plus its send delay), so a server that stops answering raises the tail
// instead of vanishing from it. A request sent without ack is counted as sent and never
// timed, since the real server answers nothing without it.
package loadgen

import (
	"time"

	"github.com/dmbench/dmbench/protocol"
)

// Plan is what Run executes: stages in order, on clients that persist across stages
// unless a stage changes their number.
type Plan struct {
	Name    string
	Seed    int64         // seeds arrivals, command choice and names
	Warmup  time.Duration // recorded apart and excluded from stage results; counts from the start of stage 0
	Timeout time.Duration // default request timeout; > 0
	Stages  []Stage
}

// Stage is one phase of load. Exactly one of Duration and Requests is set, and exactly
// one of Open and Closed.
type Stage struct {
	Name        string
	Duration    time.Duration // the stage ends after this long, or
	Requests    int64         // after this many requests sent (all clients together)
	Clients     int           // DEALER connections during the stage
	ConnectRate float64       // new connections per second; 0 connects all at once
	Open        *Open         // open loop: requests at scheduled times
	Closed      *Closed       // closed loop: a fixed number in flight per client
	Mix         []Request     // weighted command mix; at least one entry
}

// Open is an open-loop arrival schedule for the whole stage, split evenly across clients.
type Open struct {
	Rate    float64 // requests per second, all clients together, at the start of the stage
	RampTo  float64 // if > 0, the rate rises (or falls) linearly to this by the stage's end
	Poisson bool    // exponential gaps instead of constant ones
}

// Closed is a closed loop: each client keeps InFlight requests outstanding, sending the
// next one Think after a reply (or a timeout) frees a slot.
type Closed struct {
	InFlight int
	Think    time.Duration
}

// Request is one entry of a command mix.
type Request struct {
	Command protocol.Command
	Weight  float64 // relative weight; > 0
	// Group and Channel make a name source for a client; nil leaves the key out. They
	// are called once per client and stage, and the Namer once per request.
	Group       func(client int) Namer
	Channel     func(client int) Namer
	StringNames bool          // send names as msgpack str rather than bin (protocol.Encoder.StringNames)
	TTL         int64         // seconds; 0 leaves the key out (the server's default applies)
	Ack         bool          // false: counted as sent, never timed
	Timeout     time.Duration // 0 means Plan.Timeout
}

// Namer yields names for one client. Next may reuse the returned slice's memory on the
// next call.
type Namer interface {
	Next() []byte
}
