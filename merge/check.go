package merge

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dmbench/dmbench/internal/words"
)

// MaxShards is the most shards a run may have (as many as a Kubernetes Indexed Job runs
// at once); a result that says more is damaged.
const MaxShards = 100_000

// runInfo is what the shards agree on.
type runInfo struct {
	count   int
	startAt time.Time
	missing []int // indexes absent, with Options.AllowMissing
}

// check refuses inputs that are not the shards of one sharded run: results without
// Meta.Shard or already merged, different scenarios, shard counts or start instants, an
// index out of range or given twice, different stages, and a missing index unless
// opts.AllowMissing.
func check(in []Input, opts Options) (runInfo, error) {
	var run runInfo
	if len(in) == 0 {
		return run, errors.New("merging: no shard results given: give the run folder of every shard of one sharded run")
	}
	var notShards, merged []string
	for i := range in {
		switch m := in[i].Result.Meta; {
		case m.Merge != nil:
			merged = append(merged, fmt.Sprintf("%s (a merge of %s)", in[i].Dir, words.Plural(len(m.Merge.Shards), "shard", "shards")))
		case m.Shard == nil:
			notShards = append(notShards, in[i].Dir)
		}
	}
	switch {
	case len(merged) > 0:
		return run, fmt.Errorf("merging: %s %s already merged: give the shards' own results", words.ListSome(merged, 6), isAre(len(merged)))
	case len(notShards) > 0:
		return run, fmt.Errorf("merging: %s %s no shard of a sharded run (its meta.shard is absent: it was not run with --shard i/N): merge joins the shards of one sharded run",
			words.ListSome(notShards, 6), isAre(len(notShards)))
	}

	if err := agree(in, "ran different scenarios (by the scenario file's SHA-256)", func(in *Input) string {
		s := in.Result.Meta.Scenario
		return fmt.Sprintf("%s (sha256 %.12s)", s.Name, s.SHA256)
	}); err != nil {
		return run, err
	}
	if err := agree(in, "have different shard counts", func(in *Input) string {
		return fmt.Sprintf("%d shards", in.Result.Meta.Shard.Count)
	}); err != nil {
		return run, err
	}
	if err := agree(in, "started their schedules at different instants (--start-at)", func(in *Input) string {
		return "start at " + in.Result.Meta.Shard.StartAt.UTC().Format(time.RFC3339Nano)
	}); err != nil {
		return run, err
	}
	first := in[0].Result.Meta.Shard
	run.count, run.startAt = first.Count, first.StartAt
	if run.count < 1 || run.count > MaxShards {
		return run, fmt.Errorf("merging: %s says its run had %d shards, not 1 to %d: the result is damaged", in[0].Dir, run.count, MaxShards)
	}

	byIndex := map[int]string{}
	for i := range in {
		s := in[i].Result.Meta.Shard
		if s.Index < 0 || s.Index >= s.Count {
			return run, fmt.Errorf("merging: %s has shard index %d, outside 0..%d of its %d shards: the result is damaged", in[i].Dir, s.Index, s.Count-1, s.Count)
		}
		if prev, dup := byIndex[s.Index]; dup {
			return run, fmt.Errorf("merging: %s is given twice: %s and %s (a shard run twice, or a retried pod?): give each shard's result once", s, prev, in[i].Dir)
		}
		byIndex[s.Index] = in[i].Dir
	}
	for k := range run.count {
		if _, ok := byIndex[k]; !ok {
			run.missing = append(run.missing, k)
		}
	}
	if len(run.missing) > 0 && !opts.AllowMissing {
		return run, fmt.Errorf("merging: %s of %d %s missing (%s given): give every shard's result, or --allow-missing to merge those given (the counts are then short by the missing shards' share, and the server's counts are not joined)",
			shardList(run.missing, run.count), run.count, isAre(len(run.missing)), words.Plural(len(in), "shard", "shards"))
	}
	return run, samePlan(in)
}

// agree fails when key differs between inputs, listing which input has which value.
func agree(in []Input, verb string, key func(*Input) string) error {
	var values []string
	by := map[string][]string{}
	for i := range in {
		k := key(&in[i])
		if _, ok := by[k]; !ok {
			values = append(values, k)
		}
		by[k] = append(by[k], in[i].name())
	}
	if len(values) <= 1 {
		return nil
	}
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = v + ": " + words.ListSome(by[v], 4)
	}
	return fmt.Errorf("merging: the results %s, so they are not the shards of one run: %s", verb, strings.Join(parts, "; "))
}

// samePlan fails when the shards' warm-up or stages differ in presence, number or name.
func samePlan(in []Input) error {
	plan := func(in *Input) []string {
		var names []string
		if in.Result.Warmup != nil {
			names = append(names, "warm-up")
		}
		for _, s := range in.Result.Stages {
			names = append(names, fmt.Sprintf("%q", s.Name))
		}
		return names
	}
	want := plan(&in[0])
	for i := 1; i < len(in); i++ {
		if got := plan(&in[i]); !slices.Equal(got, want) {
			return fmt.Errorf("merging: %s ran [%s] but %s ran [%s]: the shards did not run the same plan (--short on some of them?)",
				in[0].name(), strings.Join(want, ", "), in[i].name(), strings.Join(got, ", "))
		}
	}
	return nil
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
