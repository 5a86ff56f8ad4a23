package comparison

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dmbench/dmbench/internal/words"
	"github.com/dmbench/dmbench/resultfmt"
)

// schemaChanges says, by schema version, what changed from the version before it that
// makes figures of the two versions incomparable. A version missing here gets a general
// reason.
var schemaChanges = map[int]string{
	2: "throughput and sent rates were computed over different windows before schema 2 " +
		"(schema 1 divided by the whole stage, warm-up included; schema 2 divides by the measured window, warm-up excluded)",
}

// CompareSets compares two sets read by LoadSet as Compare does; where an error is about
// particular runs, it names them by their folders.
func CompareSets(old, new *resultfmt.Set, opts CompareOptions) (*Comparison, error) {
	if err := checkSchemaVersions(old.Runs, new.Runs, old.Dirs, new.Dirs); err != nil {
		return nil, err
	}
	return Compare(old.Runs, new.Runs, opts)
}

// checkSchemaVersions refuses runs written with different schema versions, on either
// side or across them: the same field can mean different things in two versions.
// oldNames and newNames name the runs (their folders); nil names them by start time.
func checkSchemaVersions(old, new []*resultfmt.Result, oldNames, newNames []string) error {
	byVersion := map[int][]string{}
	sideVersions := map[string][]int{}
	for _, side := range []struct {
		tag   string
		runs  []*resultfmt.Result
		names []string
	}{{"old", old, oldNames}, {"new", new, newNames}} {
		for i, r := range side.runs {
			v := r.Meta.SchemaVersion
			byVersion[v] = append(byVersion[v], side.tag+" "+runName(r, side.names, i))
			if !slices.Contains(sideVersions[side.tag], v) {
				sideVersions[side.tag] = append(sideVersions[side.tag], v)
			}
		}
	}
	if len(byVersion) < 2 {
		return nil
	}
	versions := make([]int, 0, len(byVersion))
	for v := range byVersion {
		versions = append(versions, v)
	}
	slices.Sort(versions)
	lo, hi := versions[0], versions[len(versions)-1]

	var b strings.Builder
	b.WriteString("comparing: the runs were written with different result schemas (meta.schema_version), whose figures cannot be compared:")
	for _, v := range versions {
		fmt.Fprintf(&b, "\n  schema %d: %s", v, words.ListSome(byVersion[v], 6))
	}
	var reasons []string
	for v := lo + 1; v <= hi; v++ {
		if why, ok := schemaChanges[v]; ok {
			reasons = append(reasons, why)
		}
	}
	if len(reasons) == 0 {
		reasons = append(reasons, fmt.Sprintf("result.json's figures changed meaning between schema %d and schema %d", lo, hi))
	}
	b.WriteString("\n" + strings.Join(reasons, "; "))
	// Who has to run again: the sides with runs older than the newest, when the newest
	// is what this dmbench writes; else everything.
	var older []string
	for _, tag := range []string{"old", "new"} {
		if slices.Min(sideVersions[tag]) < hi {
			older = append(older, "the "+tag+" side")
		}
	}
	if hi == resultfmt.SchemaVersion && len(older) == 1 {
		fmt.Fprintf(&b, "\nre-run %s with this dmbench (it writes schema %d), then compare again", older[0], resultfmt.SchemaVersion)
	} else if hi == resultfmt.SchemaVersion {
		fmt.Fprintf(&b, "\nre-run the runs of schema below %d on both sides with this dmbench (it writes schema %d), then compare again", hi, resultfmt.SchemaVersion)
	} else {
		fmt.Fprintf(&b, "\nre-run both sides with this dmbench (it writes schema %d), then compare again", resultfmt.SchemaVersion)
	}
	return errors.New(b.String())
}

// runName names run i of a side: its folder when names has one, else its start.
func runName(r *resultfmt.Result, names []string, i int) string {
	if i < len(names) && names[i] != "" {
		return names[i]
	}
	if r.Meta.Start.IsZero() {
		return fmt.Sprintf("run %d", i+1)
	}
	return fmt.Sprintf("run %d (started %s on %s)", i+1, r.Meta.Start.UTC().Format(time.RFC3339), cmp.Or(r.Meta.Host, "an unknown host"))
}
