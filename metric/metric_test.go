package metric

import (
	"math"
	"testing"

	"github.com/dmbench/dmbench/resultfmt"
)

func TestUnitFormat(t *testing.T) {
	tests := []struct {
		u    Unit
		v    float64
		want string
	}{
		{Microseconds, 100.5, "100.5µs"},
		{Microseconds, 3120, "3.120ms"},
		{Microseconds, 45_678, "45.68ms"},
		{Microseconds, 1_500_000, "1.500s"},
		{PerSecond, 999.5, "999.5/s"},
		{PerSecond, 15_234, "15.23k/s"},
		{PerSecond, 2_000_000, "2.000M/s"},
		{Percent, 0, "0%"},
		{Percent, 0.1, "0.100%"},
		{Percent, 5, "5.00%"},
		{Percent, 50, "50.0%"},
		{Microseconds, math.NaN(), "?"},
	}
	for _, tt := range tests {
		if got := tt.u.Format(tt.v); got != tt.want {
			t.Errorf("%v.Format(%v) = %q, want %q", tt.u, tt.v, got, tt.want)
		}
	}
}

func TestSignificant(t *testing.T) {
	tests := []struct {
		f      float64
		digits int
		want   string
	}{
		{1.2345, 3, "1.23"}, {9.994, 3, "9.99"}, {9.996, 3, "10.0"}, {99.94, 3, "99.9"}, {99.96, 3, "100"}, {12345, 3, "12345"},
		{1.23456, 4, "1.235"}, {9.9994, 4, "9.999"}, {9.9996, 4, "10.00"}, {99.994, 4, "99.99"}, {999.94, 4, "999.9"}, {999.96, 4, "1000"},
		{-98.76, 4, "-98.76"}, {0, 3, "0.00"},
	}
	for _, tt := range tests {
		if got := Significant(tt.f, tt.digits); got != tt.want {
			t.Errorf("Significant(%v, %d) = %q, want %q", tt.f, tt.digits, got, tt.want)
		}
	}
}

// TestErrorRate: the error rate counts every failed request once, duplicates and late
// replies not at all, and stays within 100% when every send was refused.
func TestErrorRate(t *testing.T) {
	m, err := LookupMetric("errors")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		counts resultfmt.Counts
		want   float64
		ok     bool
	}{
		{"none sent", resultfmt.Counts{}, 0, false},
		{"clean", resultfmt.Counts{Sent: 100, OK: 100}, 0, true},
		{"duplicates are no errors", resultfmt.Counts{Sent: 100, OK: 100, Duplicates: 100}, 0, true},
		{"late replies are timeouts once", resultfmt.Counts{Sent: 100, OK: 90, Timeouts: 10, Late: 10}, 10, true},
		{"every send refused", resultfmt.Counts{SendErrors: 50}, 100, true},
		{"half refused", resultfmt.Counts{Sent: 50, OK: 50, SendErrors: 50}, 50, true},
	}
	for _, tt := range tests {
		c := &resultfmt.CommandResult{Counts: tt.counts}
		got, ok := m.Value(&resultfmt.Result{}, nil, c)
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s: errors = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
