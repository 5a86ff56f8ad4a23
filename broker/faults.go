package broker

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Faults are deliberate misbehaviours of the broker, off by default, so that dmbench's
// measurements can be checked against values worked out on paper (MEASUREMENT.md). The
// zero value injects nothing.
//
// Faults implements flag.Value: Set parses the String format ("pause=400ms/5s
// latency=2ms", items separated by spaces or commas) and adds to what is already set.
type Faults struct {
	// Pause stops all processing for Pause once every PauseEvery, in windows aligned to
	// the server's start: [start + k·PauseEvery, start + k·PauseEvery + Pause) for
	// k = 1, 2, .... A request taken inside a window waits for its end; the rest wait in
	// the transport. This is what DMB 0.2.1's expiry walk does to a large store.
	Pause, PauseEvery time.Duration
	// ServiceTime makes each request occupy the single processing goroutine for at least
	// this long, measured from when it is taken (sleeping, then spinning for the last
	// stretch so the time is exact). Throughput is capped at 1/ServiceTime.
	ServiceTime time.Duration
	// Latency delays every reply by this long without occupying the processing goroutine,
	// like network delay: replies wait in a queue served by one timer goroutine.
	Latency time.Duration
	// DropRequests is the fraction of requests discarded on arrival, before decoding
	// (counted in Report.Dropped.Requests, not in Received).
	DropRequests float64
	// DropReplies is the fraction of replies discarded after processing (counted in
	// Report.Dropped.Replies; the request counts as handled). Only requests that would be
	// answered draw from this fraction.
	DropReplies float64
	// Seed seeds the random number generators of the drop faults, one per fault, so a run
	// drops the same requests each time (request i is dropped when the i-th draw of a PCG
	// seeded with (Seed, 1) for requests, (Seed, 2) for replies, is below the fraction).
	Seed uint64
	// Stall reproduces DMB 0.2.1's stall: when the processing goroutine takes a request
	// from a connection that has another request already waiting in the same batch (the
	// messages read from the transport but not yet processed), that connection is stuck:
	// this request and every later one from it are held, unanswered, until a request from
	// a different connection arrives; then the held requests are processed, in order,
	// before that one. A connection with one request in flight never stalls.
	Stall bool
}

// Enabled reports whether any fault is set (a Seed alone injects nothing).
func (f Faults) Enabled() bool {
	f.Seed = 0
	return f != Faults{}
}

// Validate checks the faults and says which setting is wrong.
func (f Faults) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"pause", f.Pause}, {"pause period", f.PauseEvery}, {"service time", f.ServiceTime}, {"latency", f.Latency}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("fault %s %v is negative", d.name, d.v))
		}
	}
	switch {
	case f.Pause > 0 && f.PauseEvery <= f.Pause:
		errs = append(errs, fmt.Errorf("fault pause %v every %v: the period must be longer than the pause (e.g. pause=400ms/5s)", f.Pause, f.PauseEvery))
	case f.Pause == 0 && f.PauseEvery != 0:
		errs = append(errs, fmt.Errorf("fault pause period %v without a pause length (e.g. pause=400ms/5s)", f.PauseEvery))
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"drop-requests", f.DropRequests}, {"drop-replies", f.DropReplies}} {
		if !(p.v >= 0 && p.v <= 1) {
			errs = append(errs, fmt.Errorf("fault %s %v: want a fraction in 0..1", p.name, p.v))
		}
	}
	return errors.Join(errs...)
}

// String describes the faults in the format Set and ParseFaults read, for result files
// and logs: "none" when no fault is set, else items such as "pause=400ms/5s service=1ms
// latency=2ms drop-requests=0.01 drop-replies=0.02 seed=7 stall".
func (f Faults) String() string {
	if f == (Faults{}) {
		return "none"
	}
	var items []string
	if f.Pause > 0 || f.PauseEvery > 0 {
		items = append(items, "pause="+f.Pause.String()+"/"+f.PauseEvery.String())
	}
	if f.ServiceTime > 0 {
		items = append(items, "service="+f.ServiceTime.String())
	}
	if f.Latency > 0 {
		items = append(items, "latency="+f.Latency.String())
	}
	if f.DropRequests > 0 {
		items = append(items, "drop-requests="+strconv.FormatFloat(f.DropRequests, 'g', -1, 64))
	}
	if f.DropReplies > 0 {
		items = append(items, "drop-replies="+strconv.FormatFloat(f.DropReplies, 'g', -1, 64))
	}
	if f.Seed != 0 {
		items = append(items, "seed="+strconv.FormatUint(f.Seed, 10))
	}
	if f.Stall {
		items = append(items, "stall")
	}
	return strings.Join(items, " ")
}

// ParseFaults reads faults in the String format. "" and "none" are no faults.
func ParseFaults(s string) (Faults, error) {
	var f Faults
	if err := f.Set(s); err != nil {
		return Faults{}, err
	}
	return f, nil
}

// Set parses faults in the String format and adds them to f (a later item overrides an
// earlier one), so that a repeated command-line flag accumulates. It validates the result.
func (f *Faults) Set(s string) error {
	next := *f
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		key, val, hasVal := strings.Cut(item, "=")
		var err error
		switch key {
		case "none":
			if hasVal {
				err = errors.New("none takes no value")
			}
		case "pause":
			next.Pause, next.PauseEvery, err = ParsePause(val)
		case "service":
			next.ServiceTime, err = parseDuration(val)
		case "latency":
			next.Latency, err = parseDuration(val)
		case "drop-requests":
			next.DropRequests, err = strconv.ParseFloat(val, 64)
		case "drop-replies":
			next.DropReplies, err = strconv.ParseFloat(val, 64)
		case "seed":
			next.Seed, err = strconv.ParseUint(val, 10, 64)
		case "stall":
			next.Stall = true
			if hasVal {
				next.Stall, err = strconv.ParseBool(val)
			}
		default:
			err = errors.New("unknown fault (want pause=P/T, service=D, latency=D, drop-requests=F, drop-replies=F, seed=N or stall)")
		}
		if err != nil {
			return fmt.Errorf("fault %q: %w", item, err)
		}
	}
	if err := next.Validate(); err != nil {
		return err
	}
	*f = next
	return nil
}

// ParsePause reads a pause fault written "P/T", for example "400ms/5s": processing stops
// for P once every T.
func ParsePause(s string) (pause, every time.Duration, err error) {
	ps, ts, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("pause %q: want LENGTH/PERIOD, e.g. 400ms/5s", s)
	}
	if pause, err = parseDuration(ps); err != nil {
		return 0, 0, fmt.Errorf("pause %q: length: %w", s, err)
	}
	if every, err = parseDuration(ts); err != nil {
		return 0, 0, fmt.Errorf("pause %q: period: %w", s, err)
	}
	if pause <= 0 || every <= pause {
		return 0, 0, fmt.Errorf("pause %q: want 0 < length < period, e.g. 400ms/5s", s)
	}
	return pause, every, nil
}

// parseDuration is time.ParseDuration refusing negative values.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %s is negative", s)
	}
	return d, nil
}
