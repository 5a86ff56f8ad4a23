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

// RateAt returns the stage's scheduled rate, in requests per second for all clients
// together, at elapsed into a stage of length stageDuration:
//
//	r(t) = Rate + (RampTo − Rate) · clamp(t / D, 0, 1)   when RampTo > 0 and D > 0
//	r(t) = Rate                                          otherwise
//
// so a ramp holds RampTo after the stage's end and Rate before its start. A stage bounded
// by count has no duration (D = 0) and so a constant rate.
func (o *Open) RateAt(elapsed, stageDuration time.Duration) float64 {
	if o.RampTo <= 0 || stageDuration <= 0 {
		return o.Rate
	}
	f := min(max(elapsed.Seconds()/stageDuration.Seconds(), 0), 1)
	return o.Rate + (o.RampTo-o.Rate)*f
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

// ShardedNamer is a Namer whose names are drawn from a count that all clients of a stage
// share (a sequential count without a client in the name). In a sharded run the engine
// calls Shard on each, so that shard i takes the names i, i+N, i+2N, … of the count
// and the shards together name what one run would, none twice.
type ShardedNamer interface {
	Namer
	Shard(index, count int)
}
