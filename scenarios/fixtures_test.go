package scenarios

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.bad.want and testdata/*.good.golden from the current output")

// TestBadFixtures parses every testdata/*.bad.yaml and checks that it produces exactly
// the problems listed in its sibling .want file, one per line, in order, with file,
// line, column, path and message.
func TestBadFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad fixtures found (%v)", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			wantFile := strings.TrimSuffix(file, ".yaml") + ".want"
			name := filepath.Base(file)
			sc, err := Parse(name, data, LoadOptions{})
			if err == nil {
				t.Fatalf("Parse accepted a bad file: %+v", sc)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse returned %T (%v), want an ErrorList", err, err)
			}
			got := list.Error() + "\n"
			if len(list) == 0 {
				t.Fatalf("Parse returned an empty ErrorList")
			}
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v; run go test -run TestBadFixtures -update and review the file", err)
			}
			if got != string(want) {
				t.Errorf("problems differ\n got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestGoodFixtures parses every testdata/*.good.yaml, in full and with its short overlay
// when it has one, and compares the decoded scenario (every default filled in) with
// testdata/*.good.golden.
func TestGoodFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good fixtures found (%v)", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, short := range []bool{false, true} {
				sc, err := Parse(filepath.Base(file), data, LoadOptions{Short: short})
				if short && !bytes.Contains(data, []byte("\nshort:")) {
					if err == nil {
						t.Errorf("Parse with Short accepted a file without a short overlay")
					}
					continue
				}
				if err != nil {
					t.Fatalf("Parse(short=%v): %v", short, err)
				}
				fmt.Fprintf(&b, "## short=%v\n%s", short, dump(sc))
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v; run go test -run TestGoodFixtures -update and review the file", err)
			}
			if b.String() != string(want) {
				t.Errorf("decoded scenario differs from %s\n got:\n%s\nwant:\n%s", golden, b.String(), want)
			}
		})
	}
}

// dump renders every decoded field of sc (not its Source) in a stable text form.
func dump(sc *Scenario) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name=%q description=%q seed=%d warmup=%s target=%q timeout=%s file=%q short=%v hash=%s\n",
		sc.Name, sc.Description, sc.Seed, sc.Warmup, sc.Target, sc.Timeout, sc.File, sc.Short, sc.Hash[:12])
	for _, st := range sc.Stages {
		fmt.Fprintf(&b, "stage %q duration=%s requests=%d clients=%d connect_rate=%s", st.Name, st.Duration, st.Requests, st.Clients, st.ConnectRate)
		if st.Open != nil {
			fmt.Fprintf(&b, " open{rate=%s per_client=%v ramp_to=%s arrival=%s}", st.Open.Rate, st.Open.PerClient, st.Open.RampTo, st.Open.Arrival)
		}
		if st.Closed != nil {
			fmt.Fprintf(&b, " closed{in_flight=%d think=%s}", st.Closed.InFlight, st.Closed.Think)
		}
		b.WriteString("\n")
		for _, r := range st.Mix {
			fmt.Fprintf(&b, "  %s weight=%d name_type=%s ttl=%s ack=%v timeout=%s\n", r.Command, r.Weight, r.NameType, r.TTL, r.Ack, r.Timeout)
			for _, g := range []struct {
				role string
				gen  NameGen
			}{{"group", r.Group}, {"channel", r.Channel}} {
				if g.gen.Kind == NoName {
					continue
				}
				fmt.Fprintf(&b, "    %s %s value=%q n=%d s=%g prefix=%q per_client=%v length=%d\n",
					g.role, g.gen.Kind, g.gen.Value, g.gen.N, g.gen.S, g.gen.Prefix, g.gen.PerClient, g.gen.Length)
			}
		}
	}
	return b.String()
}
