package loadgen

import (
	"testing"
	"time"
)

func TestOpenRateAt(t *testing.T) {
	tests := []struct {
		name     string
		open     Open
		elapsed  time.Duration
		duration time.Duration
		want     float64
	}{
		{"constant", Open{Rate: 100}, 3 * time.Second, 10 * time.Second, 100},
		{"constant, bounded by count", Open{Rate: 100}, 3 * time.Second, 0, 100},
		{"ramp up: start", Open{Rate: 100, RampTo: 300}, 0, 10 * time.Second, 100},
		{"ramp up: middle", Open{Rate: 100, RampTo: 300}, 5 * time.Second, 10 * time.Second, 200},
		{"ramp up: end", Open{Rate: 100, RampTo: 300}, 10 * time.Second, 10 * time.Second, 300},
		{"ramp up: held after the end", Open{Rate: 100, RampTo: 300}, 12 * time.Second, 10 * time.Second, 300},
		{"ramp up: held before the start", Open{Rate: 100, RampTo: 300}, -time.Second, 10 * time.Second, 100},
		{"ramp down: quarter", Open{Rate: 400, RampTo: 200}, 2500 * time.Millisecond, 10 * time.Second, 350},
		{"ramp from zero", Open{Rate: 0, RampTo: 50}, time.Second, 2 * time.Second, 25},
		{"ramp without a duration is constant", Open{Rate: 100, RampTo: 300}, 5 * time.Second, 0, 100},
	}
	for _, tt := range tests {
		if got := tt.open.RateAt(tt.elapsed, tt.duration); got != tt.want {
			t.Errorf("%s: %+v.RateAt(%v, %v) = %v, want %v", tt.name, tt.open, tt.elapsed, tt.duration, got, tt.want)
		}
	}
}
