package dmbench_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"
)

// benchRun is what one `go test -bench 'Scenario/pipeline' -benchtime 1x` printed, with the
// environment it ran in.
type benchRun struct {
	broker string   // DMBENCH_LABELS's broker
	env    []string // the rest of its environment
	out    []byte
	err    error
}

// TestBenchmarkOutputForBenchstat runs BenchmarkScenario/pipeline in two processes, one
// labelled broker=fast against the plain embedded broker and one labelled broker=slow
// against an embedded broker whose replies are delayed by 3 ms (DMBENCH_FAULTS). It reads
// both outputs with benchfmt and checks every configuration key and every metric is
// there, in the tidied units benchstat scales; then `go tool benchstat -col broker
// -ignore target` (go.mod's tool directive; the targets differ, as two brokers' addresses
// do in CI) must print one comparison whose p50 row shows the fast broker in µs and the
// slow one in ms.
func TestBenchmarkOutputForBenchstat(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "dmbench.test")
	if out, err := exec.Command("go", "test", "-c", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	runs := []*benchRun{
		{broker: "fast"},
		{broker: "slow", env: []string{"DMBENCH_FAULTS=latency=3ms"}},
	}
	done := make(chan struct{})
	for _, r := range runs { // at once: the slow side is idle most of the time
		go func() {
			defer func() { done <- struct{}{} }()
			cmd := exec.Command(bin, "-test.run", "^$", "-test.bench", "^BenchmarkScenario$/^pipeline$", "-test.benchtime", "1x")
			cmd.Dir = dir
			cmd.Env = append(benchEnv(), append(r.env, "DMBENCH_LABELS=broker="+r.broker)...)
			r.out, r.err = cmd.CombinedOutput()
		}()
	}
	for range runs {
		<-done
	}

	files := make([]string, len(runs))
	p50 := map[string]float64{}
	for i, r := range runs {
		if r.err != nil {
			t.Fatalf("broker %s: %v\n%s", r.broker, r.err, r.out)
		}
		files[i] = filepath.Join(dir, r.broker+".txt")
		if err := os.WriteFile(files[i], r.out, 0o644); err != nil {
			t.Fatal(err)
		}
		res := readBenchResults(t, r.out)
		if len(res) != 1 {
			t.Fatalf("broker %s: %d results, want 1:\n%s", r.broker, len(res), r.out)
		}
		got := res[0]
		if name := string(got.Name.Full()); name != "Scenario/pipeline-2" && !strings.HasPrefix(name, "Scenario/pipeline") {
			t.Errorf("broker %s: result %q, want Scenario/pipeline", r.broker, name)
		}
		for key, want := range map[string]string{"broker": r.broker, "transport": "native", "target": "embedded"} {
			if v := got.GetConfig(key); !strings.HasPrefix(v, want) {
				t.Errorf("broker %s: config %s: %q, want %q…", r.broker, key, v, want)
			}
		}
		units := map[string]float64{}
		for _, v := range got.Values {
			units[v.Unit] = v.Value
		}
		// Reader tidies units as benchstat does: ns becomes sec.
		for _, unit := range []string{"sec/op", "ok/s", "p50-sec", "p99-sec", "p99.9-sec", "errors-%", "timeouts-%"} {
			if _, ok := units[unit]; !ok {
				t.Errorf("broker %s: no %s among %v", r.broker, unit, units)
			}
		}
		if s := units["sec/op"]; s < 4.9 || s > 30 { // the short overlay: one 5 s stage (warm-up included)
			t.Errorf("broker %s: sec/op = %g, want the run's wall time, 5 s or a little more", r.broker, s)
		}
		if units["ok/s"] <= 0 || !(units["p50-sec"] <= units["p99-sec"] && units["p99-sec"] <= units["p99.9-sec"]) {
			t.Errorf("broker %s: implausible figures %v", r.broker, units)
		}
		p50[r.broker] = units["p50-sec"]
	}
	if p50["slow"] < 3e-3 || p50["fast"] >= 1e-3 {
		t.Errorf("p50: fast %gs, slow %gs; want under 1 ms and at least the 3 ms delay", p50["fast"], p50["slow"])
	}

	out, err := exec.Command("go", "tool", "benchstat", "-col", "broker", "-ignore", "target", files[0], files[1]).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool benchstat: %v\n%s", err, out)
	}
	t.Logf("benchstat -col broker -ignore target:\n%s", out)
	// One table per unit, each with the two brokers as columns; the p50 one reads like
	//	                    │     fast     │               slow                │
	//	                    │   p50-sec    │    p50-sec      vs base           │
	//	Scenario/pipeline-2   37.00µ ± ∞ ¹   3431.00µ ± ∞ ¹  ~ (p=1.000 n=1) ²
	// (one run a side is too few for a significant difference: -count 6 in CI).
	tables := strings.Split(string(out), "\n\n")
	var p50Table string
	for _, tb := range tables {
		if strings.Contains(tb, "p50-sec") {
			p50Table = tb
		}
	}
	if !strings.Contains(p50Table, "fast") || !strings.Contains(p50Table, "slow") || !strings.Contains(p50Table, "vs base") {
		t.Fatalf("benchstat printed no fast-vs-slow p50 comparison:\n%s", out)
	}
	row := regexp.MustCompile(`(?m)^Scenario/pipeline\S*\s+([0-9.]+)(\S*) ± \S+\s+\S*\s+([0-9.]+)(\S*) ± `).FindStringSubmatch(p50Table)
	if row == nil {
		t.Fatalf("no p50 row for Scenario/pipeline:\n%s", p50Table)
	}
	// benchstat scales a row by its smallest value, so both sides carry its prefix.
	scale := map[string]float64{"µ": 1e-6, "m": 1e-3}
	if _, ok := scale[row[2]]; !ok || row[2] != row[4] {
		t.Fatalf("p50 row %q: want both sides scaled to µs or ms, not raw ns or seconds", row[0])
	}
	fast, _ := strconv.ParseFloat(row[1], 64)
	slow, _ := strconv.ParseFloat(row[3], 64)
	if fast, slow = fast*scale[row[2]], slow*scale[row[4]]; slow < 3e-3 || slow < 10*fast {
		t.Errorf("p50 row %q: fast %gs, slow %gs; want the slow broker's 3 ms delay to show", row[0], fast, slow)
	}
}

// benchEnv is the test's environment without DMBENCH_ variables, so the outer run's
// settings do not leak into the benchmarks.
func benchEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DMBENCH_") {
			env = append(env, kv)
		}
	}
	return env
}

// readBenchResults parses go test -bench output with benchfmt, failing on syntax errors.
func readBenchResults(t *testing.T, out []byte) []*benchfmt.Result {
	t.Helper()
	var res []*benchfmt.Result
	r := benchfmt.NewReader(bytes.NewReader(out), "bench.txt")
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.Result:
			res = append(res, rec.Clone())
		case *benchfmt.SyntaxError:
			t.Errorf("benchfmt: %v", rec)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return res
}
