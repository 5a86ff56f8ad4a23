package loadgen

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// TestArrivalsOnPaper checks intended times worked out by hand.
func TestArrivalsOnPaper(t *testing.T) {
	tests := []struct {
		name     string
		open     Open
		dur      time.Duration
		requests int64
		clients  int
		client   int
		join     time.Duration
		want     []time.Duration // every arrival before dur (or all, when count-bounded)
	}{
		{
			name: "constant 10/s, one client: midpoints of 100 ms slots",
			open: Open{Rate: 10}, dur: time.Second, clients: 1,
			want: []time.Duration{ms(50), ms(150), ms(250), ms(350), ms(450), ms(550), ms(650), ms(750), ms(850), ms(950)},
		},
		{
			name: "constant 10/s over 2 clients: client 0 takes the even slots",
			open: Open{Rate: 10}, dur: time.Second, clients: 2, client: 0,
			want: []time.Duration{ms(50), ms(250), ms(450), ms(650), ms(850)},
		},
		{
			name: "constant 10/s over 2 clients: client 1 takes the odd slots",
			open: Open{Rate: 10}, dur: time.Second, clients: 2, client: 1,
			want: []time.Duration{ms(150), ms(350), ms(550), ms(750), ms(950)},
		},
		{
			// Λ(t) = 10t², arrival n at Λ = n + ½: t = √((n+½)/10).
			name: "ramp 0 to 20/s over 1 s",
			open: Open{Rate: 0, RampTo: 20}, dur: time.Second, clients: 1,
			want: func() []time.Duration {
				var w []time.Duration
				for n := 0; n < 10; n++ {
					w = append(w, time.Duration(math.Sqrt((float64(n)+0.5)/10)*float64(time.Second)))
				}
				return w
			}(),
		},
		{
			// Λ(t) = 20t − 10t²: t = 1 − √(1 − (n+½)/10).
			name: "ramp 20 down to 0/s over 1 s",
			open: Open{Rate: 20, RampTo: 1e-12}, dur: time.Second, clients: 1,
			want: func() []time.Duration {
				var w []time.Duration
				for n := 0; n < 10; n++ {
					w = append(w, time.Duration((1-math.Sqrt(1-(float64(n)+0.5)/10))*float64(time.Second)))
				}
				return w
			}(),
		},
		{
			name: "count-bounded: 5 requests at 100/s over 2 clients, client 0 has 3",
			open: Open{Rate: 100}, requests: 5, clients: 2, client: 0,
			want: []time.Duration{ms(5), ms(25), ms(45)},
		},
		{
			name: "count-bounded: client 1 has 2",
			open: Open{Rate: 100}, requests: 5, clients: 2, client: 1,
			want: []time.Duration{ms(15), ms(35)},
		},
		{
			name: "count-bounded: more clients than requests",
			open: Open{Rate: 100}, requests: 2, clients: 4, client: 3,
			want: nil,
		},
		{
			name: "joining late takes the schedule from there on",
			open: Open{Rate: 10}, dur: time.Second, clients: 1, join: ms(500),
			want: []time.Duration{ms(550), ms(650), ms(750), ms(850), ms(950)},
		},
		{
			name: "zero rate sends nothing",
			open: Open{Rate: 0}, dur: time.Second, clients: 1,
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newArrivals(&tc.open, tc.dur, tc.requests, tc.clients, tc.client, rand.NewPCG(1, 2))
			a.skipTo(tc.join)
			var got []time.Duration
			for {
				off, ok := a.next()
				if !ok || (tc.requests == 0 && off >= tc.dur) {
					break
				}
				got = append(got, off)
				if len(got) > 1000 {
					t.Fatal("runaway schedule")
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d arrivals %v, want %d %v", len(got), got, len(tc.want), tc.want)
			}
			for i := range got {
				if d := got[i] - tc.want[i]; d < -time.Microsecond || d > time.Microsecond {
					t.Errorf("arrival %d at %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestArrivalsPoisson checks that Poisson arrivals have the scheduled mean rate and
// exponential gaps (coefficient of variation ≈ 1), split over clients or not, and repeat
// with their seed.
func TestArrivalsPoisson(t *testing.T) {
	tests := []struct {
		name    string
		open    Open
		dur     time.Duration
		clients int
		want    float64 // expected arrivals over all clients
	}{
		{"1 client at 1000/s for 20 s", Open{Rate: 1000, Poisson: true}, 20 * time.Second, 1, 20000},
		{"4 clients at 1000/s for 20 s", Open{Rate: 1000, Poisson: true}, 20 * time.Second, 4, 20000},
		{"ramp 0 to 2000/s over 20 s", Open{Rate: 0, RampTo: 2000, Poisson: true}, 20 * time.Second, 2, 20000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			total := 0
			var gaps []float64
			for c := 0; c < tc.clients; c++ {
				a := newArrivals(&tc.open, tc.dur, 0, tc.clients, c, rand.NewPCG(7, uint64(c)))
				b := newArrivals(&tc.open, tc.dur, 0, tc.clients, c, rand.NewPCG(7, uint64(c)))
				prev := time.Duration(-1)
				for {
					off, ok := a.next()
					off2, _ := b.next()
					if off != off2 {
						t.Fatalf("same seed, different arrivals: %v and %v", off, off2)
					}
					if !ok || off >= tc.dur {
						break
					}
					if off < prev {
						t.Fatalf("arrival %v before the previous %v", off, prev)
					}
					if prev >= 0 && tc.open.RampTo == 0 {
						gaps = append(gaps, (off - prev).Seconds())
					}
					prev = off
					total++
				}
			}
			// Poisson count: sd = √20000 ≈ 141; allow 5 sd.
			if math.Abs(float64(total)-tc.want) > 5*math.Sqrt(tc.want) {
				t.Errorf("%d arrivals, want %.0f ± %.0f", total, tc.want, 5*math.Sqrt(tc.want))
			}
			if len(gaps) > 0 {
				var sum, sq float64
				for _, g := range gaps {
					sum += g
				}
				mean := sum / float64(len(gaps))
				for _, g := range gaps {
					sq += (g - mean) * (g - mean)
				}
				cv := math.Sqrt(sq/float64(len(gaps))) / mean
				if cv < 0.9 || cv > 1.1 {
					t.Errorf("gaps' coefficient of variation %.3f, want ≈ 1 (exponential)", cv)
				}
			}
		})
	}
}

// TestArrivalsRemaining checks the count of arrivals a late sender missed.
func TestArrivalsRemaining(t *testing.T) {
	tests := []struct {
		name     string
		open     Open
		requests int64
		clients  int
		taken    int // arrivals taken with next before asking
		until    time.Duration
		want     int64
	}{
		{"constant 10/s, none taken, to 1 s", Open{Rate: 10}, 0, 1, 0, time.Second, 10},
		{"constant 10/s, 3 taken, to 1 s", Open{Rate: 10}, 0, 1, 3, time.Second, 7},
		{"constant 10/s over 2 clients, to 1 s", Open{Rate: 10}, 0, 2, 0, time.Second, 5},
		{"constant 10/s, to 0.5 s", Open{Rate: 10}, 0, 1, 0, ms(500), 5},
		{"count-bounded share caps it", Open{Rate: 10}, 4, 1, 1, time.Hour, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newArrivals(&tc.open, time.Second, tc.requests, tc.clients, 0, rand.NewPCG(1, 1))
			for range tc.taken {
				a.next()
			}
			if got := a.remaining(tc.until); got != tc.want {
				t.Errorf("remaining(%v) = %d, want %d", tc.until, got, tc.want)
			}
		})
	}
}

func TestShare(t *testing.T) {
	tests := []struct {
		n       int64
		clients int
		want    []int64
	}{
		{10, 3, []int64{4, 3, 3}},
		{2, 4, []int64{1, 1, 0, 0}},
		{9, 3, []int64{3, 3, 3}},
	}
	for _, tc := range tests {
		var sum int64
		for c := 0; c < tc.clients; c++ {
			got := share(tc.n, tc.clients, c)
			sum += got
			if got != tc.want[c] {
				t.Errorf("share(%d, %d, %d) = %d, want %d", tc.n, tc.clients, c, got, tc.want[c])
			}
		}
		if sum != tc.n {
			t.Errorf("shares of %d over %d add up to %d", tc.n, tc.clients, sum)
		}
	}
}

// newArrivals returns client c's arrivals, made by init.
func newArrivals(o *Open, dur time.Duration, requests int64, clients, c int, src *rand.PCG) *arrivals {
	a := new(arrivals)
	a.init(o, dur, requests, clients, c, src)
	return a
}
