package loadgen

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestCountsErrors(t *testing.T) {
	tests := []struct {
		name string
		c    Counts
		want uint64
	}{
		{"none", Counts{Sent: 10, OK: 10}, 0},
		{"every kind of failure", Counts{Sent: 15, Exceptions: 1, Unexpected: 2, Timeouts: 3, Abandoned: 4, SendErrors: 5}, 15},
		{"late replies are in Timeouts already", Counts{Sent: 3, Timeouts: 3, Late: 2}, 3},
		{"duplicates are not errors", Counts{Sent: 3, OK: 3, Duplicates: 7}, 0},
		{"no ack is not an error", Counts{Sent: 3, NoAck: 3}, 0},
	}
	for _, tt := range tests {
		if got := tt.c.Errors(); got != tt.want {
			t.Errorf("%s: %+v.Errors() = %d, want %d", tt.name, tt.c, got, tt.want)
		}
	}
}

func TestCountsAdd(t *testing.T) {
	a := Counts{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	a.Add(Counts{10, 20, 30, 40, 50, 60, 70, 80, 90, 100})
	if want := (Counts{11, 22, 33, 44, 55, 66, 77, 88, 99, 110}); a != want {
		t.Errorf("Add: %+v, want %+v", a, want)
	}
}

// TestCountsJSON pins the result file's keys.
func TestCountsJSON(t *testing.T) {
	b, err := json.Marshal(Counts{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"abandoned", "duplicates", "exceptions", "late", "no_ack", "ok", "send_errors", "sent", "timeouts", "unexpected"}
	if !slices.Equal(keys, want) {
		t.Errorf("JSON keys %v, want %v", keys, want)
	}
}
