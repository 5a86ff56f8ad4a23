package resultfmt_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/resultfmt"
)

func TestJSONValue(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string // JSON
	}{
		{"nil", nil, "null"},
		{"int", int64(-3), "-3"},
		{"finite float", 1.5, "1.5"},
		{"NaN", math.NaN(), `"NaN"`},
		{"-Inf float32", float32(math.Inf(-1)), `"-Inf"`},
		{"bytes", []byte("hi"), `"aGk="`},
		{"time", time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), `"2026-01-02T02:04:05Z"`},
		{"map with other keys", map[any]any{uint8(2): "b", true: nil}, `{"2":"b","true":null}`},
		{"nested", map[string]any{"a": []any{math.Inf(1), map[any]any{1: 2}}}, `{"a":["+Inf",{"1":2}]}`},
		{"unmarshalable", make(chan int), `"` + "0x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(resultfmt.JSONValue(tt.in))
			if err != nil {
				t.Fatalf("jsonValue(%v) still cannot be marshalled: %v", tt.in, err)
			}
			if !strings.HasPrefix(string(b), tt.want) {
				t.Errorf("got %s, want %s", b, tt.want)
			}
		})
	}
}
