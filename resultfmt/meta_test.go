package resultfmt_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/dmbench/dmbench/resultfmt"
)

// TestMetaShard: a result that is no shard's has no shard (nor merge) in result.json, so
// results stay as they were; a shard's and a merge's survive the file.
func TestMetaShard(t *testing.T) {
	bound := int64(1500)
	from := 0
	tests := []struct {
		name  string
		shard *resultfmt.Shard
		merge *resultfmt.Merge
		str   string // Shard.String
	}{
		{name: "not sharded"},
		{name: "a shard", shard: &resultfmt.Shard{Index: 1, Count: 3, StartAt: t0}, str: "shard 2/3"},
		{name: "a merge", merge: &resultfmt.Merge{Count: 2, StartAt: t0, ClockSkewBoundUS: &bound, ClockSkew: "bounded", ServerViewFrom: &from,
			Shards: []resultfmt.MergedShard{{Index: 0, Dir: "a", Host: "h0", Start: t0, End: t0}, {Index: 1, Dir: "b", Host: "h1", Start: t0, End: t0}},
			Notes:  []string{"a note"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fullMeta()
			m.Shard, m.Merge = tt.shard, tt.merge
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(data), `"shard":`); got != (tt.shard != nil) {
				t.Errorf("result.json has a shard: %v, want %v:\n%s", got, tt.shard != nil, data)
			}
			if got := strings.Contains(string(data), `"merge":`); got != (tt.merge != nil) {
				t.Errorf("result.json has a merge: %v, want %v", got, tt.merge != nil)
			}
			var back resultfmt.Meta
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Shard, m.Shard) || !reflect.DeepEqual(back.Merge, m.Merge) {
				t.Errorf("read back shard %+v merge %+v, wrote %+v %+v", back.Shard, back.Merge, m.Shard, m.Merge)
			}
			if tt.shard != nil && tt.shard.String() != tt.str {
				t.Errorf("String() = %q, want %q", tt.shard.String(), tt.str)
			}
			if tt.shard != nil && !strings.Contains(string(data), `"start_at":"2026-01-02T03:04:05Z"`) {
				t.Errorf("start_at is not RFC 3339: %s", data)
			}
		})
	}
}
