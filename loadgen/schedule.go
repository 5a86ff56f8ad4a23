package loadgen

import (
	"math"
	"math/rand/v2"
	"time"
)

// arrivals yields one client's intended send times in an open-loop stage.
//
// The stage's schedule is a count axis u = Λ(t), the number of requests the whole stage
// (all clients together) should have sent by t seconds after its start: the integral of
// Open.RateAt from 0 to t, with r₀ and r₁ its values at the stage's start and end:
//
//	Λ(t) = r₀·t + (r₁ − r₀)·t² / (2D)   (rate rising or falling linearly from r₀ to r₁ over D)
//	Λ(t) = r₀·t                         (constant rate)
//
// Constant gaps: the stage's n-th request (n = 0, 1, …) is due when Λ(t) = n + ½, and
// client c of C takes the requests with n ≡ c (mod C). Together the clients are exactly as
// even as one client at the full rate would be, and each is offset from the next by one
// stage-wide gap. Poisson: each client walks the u axis in exponential steps of mean C,
// which is a Poisson process of rate r(t)/C (time rescaling), so the stage is Poisson at
// r(t). Intended times are t = Λ⁻¹(u), solved in closed form.
type arrivals struct {
	r0, r1  float64 // requests per second at the start and the end of the stage, all clients
	dur     float64 // stage length in seconds; 0 when the stage is bounded by count
	clients float64 // C
	poisson bool
	// src and rng draw the Poisson gaps. They are held in the arrivals, not pointed to,
	// so a draw reads the cache lines the schedule already touched; rng reads src by
	// address, so arrivals are initialised in place (init) and never copied.
	src rand.PCG
	rng rand.Rand

	u     float64 // the position on the count axis of the next arrival
	n     int64   // arrivals yielded so far
	limit int64   // this client's share of a count-bounded stage; -1 for none
}

// init makes client c's arrivals for an open-loop stage of clients clients, in place.
// requests > 0 bounds the stage by count (then dur is ignored and the rate is constant).
// The Poisson gaps are drawn from a copy of src.
func (a *arrivals) init(o *Open, dur time.Duration, requests int64, clients, c int, src *rand.PCG) {
	if requests > 0 {
		dur = 0 // bounded by count: no duration, so a constant rate
	}
	*a = arrivals{
		r0:      o.RateAt(0, dur),
		r1:      o.RateAt(dur, dur),
		dur:     dur.Seconds(),
		clients: float64(clients),
		poisson: o.Poisson,
		src:     *src,
		limit:   -1,
	}
	a.rng = *rand.New(&a.src)
	if requests > 0 {
		a.limit = share(requests, clients, c)
	}
	if a.poisson {
		a.u = a.clients * a.rng.ExpFloat64()
	} else {
		a.u = float64(c) + 0.5
	}
}

// share is client c's part of n requests split across clients: the requests with index
// ≡ c (mod clients).
func share(n int64, clients, c int) int64 {
	if int64(c) >= n {
		return 0
	}
	return (n - int64(c) + int64(clients) - 1) / int64(clients)
}

// lambda returns Λ(t), t in seconds since the stage started.
func (a *arrivals) lambda(t float64) float64 {
	if a.dur == 0 || a.r1 == a.r0 {
		return a.r0 * t
	}
	return a.r0*t + (a.r1-a.r0)*t*t/(2*a.dur)
}

// inverse returns the t at which Λ(t) = u, or +Inf when Λ never reaches u (a zero rate,
// or a falling rate whose integral stops short of u).
func (a *arrivals) inverse(u float64) float64 {
	if u <= 0 {
		return 0
	}
	if a.dur == 0 || a.r1 == a.r0 {
		if a.r0 <= 0 {
			return math.Inf(1)
		}
		return u / a.r0
	}
	k := (a.r1 - a.r0) / (2 * a.dur) // Λ(t) = k·t² + r₀·t
	disc := a.r0*a.r0 + 4*k*u
	if disc < 0 {
		return math.Inf(1)
	}
	den := a.r0 + math.Sqrt(disc) // the stable root: 2u / (r₀ + √(r₀² + 4ku))
	if den <= 0 {
		return math.Inf(1)
	}
	t := 2 * u / den
	if k < 0 && t > a.dur {
		// Past the end the formula's rate would be negative: the schedule stops at D.
		return math.Inf(1)
	}
	return t
}

// next returns the next intended send time as an offset from the stage's start, or false
// when this client has no more requests (its share is sent, or the rate never reaches
// the next one). Callers stop at the stage's end themselves.
func (a *arrivals) next() (time.Duration, bool) {
	if a.limit >= 0 && a.n >= a.limit {
		return 0, false
	}
	t := a.inverse(a.u)
	if math.IsInf(t, 1) || t > float64(math.MaxInt64/int64(time.Second)) {
		return 0, false
	}
	a.n++
	if a.poisson {
		a.u += a.clients * a.rng.ExpFloat64()
	} else {
		a.u += a.clients
	}
	return time.Duration(t * float64(time.Second)), true
}

// skipTo moves past every arrival before offset t, for a client that joins a stage late
// (it connected after the stage started): it takes the schedule from there on, so the
// stage's rate grows as its clients connect, without a burst of catch-up requests.
func (a *arrivals) skipTo(t time.Duration) {
	if t <= 0 {
		return
	}
	target := a.lambda(t.Seconds())
	if a.u >= target {
		return
	}
	if a.poisson {
		// Memoryless: the next arrival after t is t plus an exponential gap.
		skipped := int64((target - a.u) / a.clients)
		a.n += skipped
		a.u = target + a.clients*a.rng.ExpFloat64()
	} else {
		k := math.Ceil((target - a.u) / a.clients)
		a.n += int64(k)
		a.u += k * a.clients
	}
	if a.limit >= 0 && a.n > a.limit {
		a.n = a.limit
	}
}

// remaining returns how many more arrivals fall before offset t (including the one next
// would return), without yielding them: the requests a sender that is behind could not
// send before the stage ended. Poisson arrivals give the expected number.
func (a *arrivals) remaining(t time.Duration) int64 {
	if a.limit >= 0 && a.n >= a.limit {
		return 0
	}
	target := a.lambda(t.Seconds())
	if a.u >= target {
		return 0
	}
	var n int64
	if a.poisson {
		n = 1 + int64((target-a.u)/a.clients)
	} else {
		n = int64(math.Ceil((target - a.u) / a.clients))
	}
	if a.limit >= 0 && n > a.limit-a.n {
		n = a.limit - a.n
	}
	return n
}
