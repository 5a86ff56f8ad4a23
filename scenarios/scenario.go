package scenarios

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
)

// Limits of what a file may write beyond the plan it makes. The limits of the load
// itself (clients, rates, counts, durations, timeouts, stages, mix entries) are
// loadgen's: see loadgen.Plan.Validate, which Parse applies to every scenario.
const (
	MaxNames      = 1_000_000_000_000 // N of a name generator
	MaxNameLength = 64 << 10          // bytes a name is padded to
)

// Defaults filled in by Parse when a field is left out.
const (
	DefaultSeed    = 1               // seed
	DefaultTimeout = 5 * time.Second // timeout (per request)
	DefaultWeight  = 1               // mix[].weight
	DefaultZipfS   = 1.1             // group/channel zipf exponent s
	DefaultGroup   = "group."        // prefix of generated group names
	DefaultChannel = "channel."      // prefix of generated channel names
)

// Scenario is a validated load scenario: what to send, how fast, over how many
// connections, in which stages. Every default is filled in, so the load engine reads the
// fields as they are. Parse and Load make Scenarios; only SetClients changes one after.
type Scenario struct {
	// Name identifies the scenario in results; it defaults to the file name without
	// its extension.
	Name string
	// Description is one line saying what the scenario shows; it may be empty.
	Description string
	// Seed makes the run repeatable: name generators, Poisson arrivals and the mix
	// draw derive their random streams from it. Default DefaultSeed.
	Seed int64
	// Warmup is the time at the start of the first stage whose measurements are
	// recorded separately and left out of the summary. 0 means none.
	Warmup time.Duration
	// Target is the DMB base address to load, "tcp://host:port" (the signalling port is
	// port+1; the CLI derives it). Empty means none was given: the CLI decides (an
	// embedded broker, or its --target flag, which wins over this field).
	Target string
	// Timeout is the default time a request waits for its reply before it counts as a
	// timeout; each Request carries its own (possibly overridden) value. Default
	// DefaultTimeout.
	Timeout time.Duration
	// Stages run one after another. There is at least one.
	Stages []Stage

	// File is the file name as given to Parse (bundled scenarios: "<name>.yaml").
	File string
	// Source is the exact text of the file, for the run record.
	Source []byte
	// Hash is the sha256 of Source in hex: the scenario's identity in results.
	Hash string
	// Short reports whether the file's short overlay was applied (LoadOptions.Short).
	Short bool
	// Overrides lists the changes made after parsing, such as "clients=1000" from
	// SetClients, in the order they were made, so a result can say what really ran.
	Overrides []string
}

// Stage is one part of a scenario: a set of connections sending a mix of requests in an
// open or a closed loop, until a time or a count is reached.
//
// Connections persist from one stage to the next. A stage whose Clients is higher than
// the previous stage's opens the extra connections before its clock starts, at
// ConnectRate (all at once when ConnectRate is 0); one whose Clients is lower closes the
// highest-numbered ones. Clients are numbered from 0.
//
// Exactly one of Duration and Requests is non-zero, and exactly one of Open and Closed
// is non-nil.
type Stage struct {
	// Name identifies the stage in results; it defaults to "stage-<n>", n counted from 1,
	// and is unique in the scenario.
	Name string
	// Duration ends the stage after this much time (0 when Requests bounds the stage).
	Duration time.Duration
	// Requests ends the stage once this many requests have been sent (0 when Duration
	// bounds it); the stage then waits for their replies or timeouts before the next
	// stage starts.
	Requests int64
	// Clients is the number of DEALER connections. It is filled in from the previous
	// stage when the file leaves it out (the first stage must give it).
	Clients int
	// ConnectRate paces the opening of new connections; 0 means all at once.
	ConnectRate Rate
	// Open is the open-loop arrival schedule, or nil for a closed loop.
	Open *OpenLoop
	// Closed is the closed-loop schedule, or nil for an open loop.
	Closed *ClosedLoop
	// Mix is the weighted set of requests to draw from: each request is Mix[i] with
	// probability Mix[i].Weight / TotalWeight(). There is at least one entry.
	Mix []Request
}

// OpenLoop sends requests at scheduled times whatever the server does, so a slow server
// is charged for the requests it delays (latency is measured from the scheduled time).
type OpenLoop struct {
	// Rate is the arrival rate at the start of the stage: in total across the stage's
	// clients, or per client when PerClient is set.
	Rate Rate
	// PerClient says Rate and RampTo are per client rather than in total.
	PerClient bool
	// RampTo, when non-zero, is the rate at the end of the stage: the rate moves in a
	// straight line from Rate to RampTo across the stage's Duration. Only
	// duration-bounded stages ramp.
	RampTo Rate
	// Arrival is how the scheduled times are spaced.
	Arrival Arrival
}

// ClosedLoop keeps a fixed number of requests in flight on each connection: each reply
// (or timeout) lets the next request go, after the think time.
type ClosedLoop struct {
	// InFlight is the number of requests outstanding per client, at least 1.
	InFlight int
	// Think is the pause between a reply and the next request on that slot; 0 means
	// none.
	Think time.Duration
}

// Request is one entry of a stage's mix: a command and the properties it is sent with.
type Request struct {
	// Command is one of protocol.RequestCommands.
	Command protocol.Command
	// Weight is this entry's share of the mix, at least 1. Default DefaultWeight.
	Weight int
	// Group generates the group_name property (GROUPADD and GROUPDIS only; the zero
	// NameGen, Kind NoName, for other commands).
	Group NameGen
	// Channel generates the channel_name property (GROUPADD and GROUPDIS only).
	Channel NameGen
	// NameType is the msgpack type the names are sent as. Default NameStr.
	NameType NameType
	// TTL is the ttl property in whole seconds (GROUPADD only); 0 means the property is
	// not sent and the server's default applies (86400 s on DMB 0.2.1).
	TTL time.Duration
	// Ack is the ack property. Default true. Without it DMB 0.2.1 answers nothing, so a
	// request with Ack false is counted as sent and never timed.
	Ack bool
	// Timeout is how long the request waits for its reply: the entry's own timeout or
	// the scenario's.
	Timeout time.Duration
}

// NameType is the msgpack type a request's group and channel names are sent as. DMB
// stores both types as the same UTF-8 bytes.
type NameType string

// The name types.
const (
	NameStr   NameType = "str"   // msgpack str (the default)
	NameBytes NameType = "bytes" // msgpack bin, as the 0.2.1 ChannelsClient sends them
)

// Arrival is how an open loop spaces its scheduled send times.
type Arrival string

// The arrival processes.
const (
	// Constant spaces requests evenly: 1/rate apart (the default).
	Constant Arrival = "constant"
	// Poisson draws the gaps from an exponential distribution of mean 1/rate, as
	// independent users arriving at random would.
	Poisson Arrival = "poisson"
)

// Rate is a number of events per second. In a file it is written as a count over a time,
// as people say it: "5000/s", "20k/s", "60/m", "1/100ms".
type Rate float64

// String formats r per second, e.g. "5000/s" or "0.5/s"; it parses back to r.
func (r Rate) String() string {
	return strconv.FormatFloat(float64(r), 'f', -1, 64) + "/s"
}

// Interval is the mean time between two events at rate r; 0 when r is not positive.
func (r Rate) Interval() time.Duration {
	if r <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / float64(r))
}

// ParseRate reads a rate written as "<count>/<time>": the count a number with an
// optional k (thousand) or M (million) suffix, the time a unit (ns, us, ms, s, m, min, h)
// or a Go duration ("100ms", "1m30s"). "5000/s", "2.5k/s", "60/m" and "1/100ms" are
// rates; "5000" is not (say per what).
func ParseRate(s string) (Rate, error) {
	num, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("%s is not a rate (write e.g. 5000/s)", quote(s))
	}
	n, err := parseNumber(strings.TrimSpace(num))
	if err != nil {
		return 0, fmt.Errorf("%s is not a rate (write e.g. 5000/s)", quote(s))
	}
	per = strings.TrimSpace(per)
	if per == "min" {
		per = "m"
	}
	if per != "" && (per[0] < '0' || per[0] > '9') && per[0] != '.' {
		per = "1" + per
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s is not a rate (write e.g. 5000/s)", quote(s))
	}
	r := n / d.Seconds()
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return 0, fmt.Errorf("%s is not a rate (write e.g. 5000/s)", quote(s))
	}
	return Rate(r), nil
}

// parseNumber reads a decimal number with an optional k or M suffix and "_" separators.
func parseNumber(s string) (float64, error) {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, s[:len(s)-1]
	}
	s = strings.ReplaceAll(s, "_", "")
	if s == "" || strings.ContainsAny(s, "xXpP") || strings.EqualFold(s, "inf") || strings.EqualFold(s, "nan") ||
		strings.EqualFold(s, "+inf") || strings.EqualFold(s, "-inf") || strings.EqualFold(s, "infinity") ||
		strings.EqualFold(s, "+infinity") || strings.EqualFold(s, "-infinity") {
		return 0, fmt.Errorf("%s is not a number", quote(s))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	return f * mult, nil
}

// TotalWeight is the sum of the mix's weights.
func (s *Stage) TotalWeight() int {
	t := 0
	for _, r := range s.Mix {
		t += r.Weight
	}
	return t
}

// Estimate is how long a scenario is expected to take, in parts.
type Estimate struct {
	// Connect is the time spent opening connections at their stages' connect rates.
	Connect time.Duration
	// Run is the stages' own time: each duration, and for a count-bounded open loop
	// its requests over its mean total rate; for a count-bounded closed loop, its
	// requests over the closed-loop rate given to Estimate.
	Run time.Duration
	// Drain is the longest wait for outstanding replies where a stage waits for them:
	// after a count-bounded stage and after the last stage, each counted at the largest
	// request timeout of that stage's mix. A healthy server drains in far less.
	Drain time.Duration
	// Exact is false when a count-bounded closed-loop stage's time was guessed from the
	// closed-loop rate given to Estimate (its real time depends on the server).
	Exact bool
}

// Total is Connect + Run + Drain: the longest the scenario should take when the
// estimate's assumptions hold.
func (e Estimate) Total() time.Duration { return e.Connect + e.Run + e.Drain }

// Estimate works out how long the scenario takes. closedLoopRate is the round-trip rate
// assumed for count-bounded closed-loop stages, whose time depends on the server (e.g.
// 15000/s for DMB 0.2.1); when it is not positive such stages count as 0 and the
// estimate is a lower bound. Estimate.Exact says whether such a stage was met.
func (sc *Scenario) Estimate(closedLoopRate Rate) Estimate {
	e := Estimate{Exact: true}
	prev := 0
	for i := range sc.Stages {
		st := &sc.Stages[i]
		if add := st.Clients - prev; add > 0 && st.ConnectRate > 0 {
			e.Connect += seconds(float64(add) / float64(st.ConnectRate))
		}
		prev = st.Clients
		switch {
		case st.Duration > 0:
			e.Run += st.Duration
		case st.Open != nil:
			e.Run += seconds(float64(st.Requests) / st.open().RateAt(0, st.Duration))
		default:
			e.Exact = false
			if closedLoopRate > 0 {
				e.Run += seconds(float64(st.Requests) / float64(closedLoopRate))
			}
		}
	}
	for i, st := range sc.Stages {
		if st.Requests == 0 && i < len(sc.Stages)-1 {
			continue
		}
		longest := time.Duration(0)
		for _, r := range st.Mix {
			longest = max(longest, r.Timeout)
		}
		e.Drain += longest
	}
	return e
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// SetClients changes the scenario's number of connections to n, as the CLI's --clients
// does: the stage with the most clients gets n, and the others are scaled in proportion
// (rounded, at least 1), so a scenario whose stages all have the same count gets n
// everywhere. Total open-loop rates stay as written; per-client rates now apply to the
// new count. The change is recorded in Overrides. It returns an error, and changes
// nothing, when n is not between 1 and loadgen.MaxClients.
func (sc *Scenario) SetClients(n int) error {
	if n < 1 || n > loadgen.MaxClients {
		return fmt.Errorf("scenario %s: %d clients is out of range; give between 1 and %d", sc.Name, n, loadgen.MaxClients)
	}
	most := 0
	for _, st := range sc.Stages {
		most = max(most, st.Clients)
	}
	for i := range sc.Stages {
		st := &sc.Stages[i]
		if st.Clients == most {
			st.Clients = n
			continue
		}
		st.Clients = max(1, int(math.Round(float64(st.Clients)*float64(n)/float64(most))))
	}
	sc.Overrides = append(sc.Overrides, "clients="+strconv.Itoa(n))
	return nil
}
