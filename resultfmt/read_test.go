package resultfmt_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/internal/resultfixture"
	"github.com/dmbench/dmbench/resultfmt"
)

// obj walks doc down keys (object keys, or array indexes as ints) and returns the object
// found there.
func obj(t *testing.T, doc map[string]any, path ...any) map[string]any {
	t.Helper()
	var v any = doc
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("no object at %v", path)
	}
	return m
}

// TestReadRefusesDamagedHistograms damages one histogram of a written run at a time: Read,
// ReadDecoded and LoadSet must each refuse it, naming the file and which histogram of
// which stage and command, and what is wrong with it.
func TestReadRefusesDamagedHistograms(t *testing.T) {
	// A histogram of one value, for counts that disagree with it.
	oneValue, err := resultfmt.NewLatency(spread(1, 100, 1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(t *testing.T, doc map[string]any)
		want []string
	}{
		{"not base64", func(t *testing.T, doc map[string]any) {
			obj(t, doc, "stages", 1, "commands", 0, "uncorrected")["histogram"] = "!!!not base64!!!"
		}, []string{`stage 2 "ramp" GROUPDIS uncorrected latency: decoding a histogram: illegal base64 data`, "damaged or not from dmbench"}},
		{"base64 of no histogram", func(t *testing.T, doc map[string]any) {
			obj(t, doc, "stages", 0, "commands", 1, "corrected")["histogram"] = "aGVsbG8gd29ybGQ="
		}, []string{`stage 1 "steady" GROUPADD corrected latency: decoding a histogram`}},
		{"truncated", func(t *testing.T, doc map[string]any) {
			l := obj(t, doc, "stages", 0, "commands", 0, "send_delay")
			l["histogram"] = l["histogram"].(string)[:40]
		}, []string{`stage 1 "steady" HARTBEAT send delay: decoding a histogram`}},
		{"count disagrees", func(t *testing.T, doc map[string]any) {
			obj(t, doc, "stages", 1, "commands", 1, "corrected")["count"] = 999
		}, []string{`stage 2 "ramp" HARTBEAT corrected latency: decoded histogram holds 1000 values but its count says 999`}},
		{"another run's histogram", func(t *testing.T, doc map[string]any) {
			obj(t, doc, "stages", 0, "commands", 0, "corrected")["histogram"] = oneValue.Histogram
		}, []string{`stage 1 "steady" HARTBEAT corrected latency: decoded histogram holds 1 values but its count says 30000`}},
		{"negative count", func(t *testing.T, doc map[string]any) {
			l := obj(t, doc, "stages", 0, "commands", 1, "uncorrected")
			l["count"], l["histogram"] = -5, ""
		}, []string{`stage 1 "steady" GROUPADD uncorrected latency: its count is -5, below zero`}},
		{"percentiles out of order", func(t *testing.T, doc map[string]any) {
			obj(t, doc, "stages", 0, "commands", 0, "corrected")["p99_us"] = 1
		}, []string{`stage 1 "steady" HARTBEAT corrected latency: its figures are impossible`, "p99 1,"}},
		{"negative latency", func(t *testing.T, doc map[string]any) {
			obj(t, doc, "stages", 1, "commands", 0, "send_delay")["min_us"] = -1
		}, []string{`stage 2 "ramp" GROUPDIS send delay: its figures are impossible (min -1,`}},
		{"warm-up", func(t *testing.T, doc map[string]any) {
			obj(t, doc, "warmup", "commands", 0, "send_delay")["histogram"] = "AAAA"
		}, []string{"warm-up HARTBEAT send delay: decoding a histogram"}},
		{"connect time", func(t *testing.T, doc map[string]any) {
			obj(t, doc, "connections", "connect_time")["histogram"] = "AAAA"
		}, []string{"connect time: decoding a histogram"}},
		{"server view", func(t *testing.T, doc map[string]any) {
			doc["server_view"] = map[string]any{"available": true, "snapshots": []any{},
				"total": map[string]any{"name": "whole run", "commands": []any{
					map[string]any{"command": "GROUPADD", "server_service_time": map[string]any{"count": 3, "histogram": "AAAA"}}}}}
		}, []string{"server view: whole run GROUPADD server service time: decoding a histogram"}},
		{"a command named to drive the terminal", func(t *testing.T, doc map[string]any) {
			c := obj(t, doc, "stages", 0, "commands", 1)
			c["command"] = "GROUP\x1b[2J\rADD"
			obj(t, c, "corrected")["histogram"] = "AAAA"
		}, []string{`stage 1 "steady" GROUP\x1b[2J\rADD corrected latency`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeRun(t, t.TempDir(), resultfmt.FromLoadgen(fullMeta(), fullRun()))
			resultfixture.EditResultJSON(t, dir, func(doc map[string]any) { tt.edit(t, doc) })
			file := filepath.Join(dir, resultfmt.ResultFile)
			for _, read := range []struct {
				name string
				read func(string) error
			}{
				{"Read", func(p string) error { _, err := resultfmt.Read(p); return err }},
				{"ReadDecoded", func(p string) error { _, err := resultfmt.ReadDecoded(p); return err }},
				{"LoadSet", func(p string) error { _, err := resultfmt.LoadSet(p); return err }},
			} {
				err := read.read(dir)
				if err == nil {
					t.Fatalf("%s read the damaged result", read.name)
				}
				for _, w := range append([]string{"reading results " + file + ": "}, tt.want...) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: error %q lacks %q", read.name, err, w)
					}
				}
				if strings.ContainsAny(err.Error(), "\x1b\r\n") {
					t.Errorf("%s: error %q holds control characters", read.name, err)
				}
			}
		})
	}
}

// endlessJSON returns the path of a pipe (Linux's /proc/self/fd) that gives the start of
// a valid result.json and then a string that never ends, and what stops its writer.
func endlessJSON(t *testing.T) (path string, stop func()) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	path = fmt.Sprintf("/proc/self/fd/%d", r.Fd())
	if _, err := os.Stat(path); err != nil {
		r.Close()
		w.Close()
		t.Skipf("no %s: %v", path, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer w.Close()
		if _, err := w.WriteString(`{"meta": {"schema_version": 2, "host": "`); err != nil {
			return
		}
		chunk := bytes.Repeat([]byte("a"), 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return // the reader is gone
			}
		}
	}()
	return path, func() { r.Close(); <-done }
}

// TestReadRefusesLargeFiles checks the size limit: a file larger than it is refused
// before it is read (a sparse file of MaxResultSize + 1 bytes), a stream of valid JSON
// that never ends once it has given that much (with the limit lowered, so the test is
// quick), and what is not JSON at all (/dev/zero) at its first byte.
func TestReadRefusesLargeFiles(t *testing.T) {
	dir := t.TempDir()
	sparse := filepath.Join(dir, "huge.json")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(resultfmt.MaxResultSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// A run exactly at the (lowered) limit still reads: padded out with spaces.
	atLimit := writeRun(t, dir, resultfmt.FromLoadgen(minimalMeta(), minimalRun()))
	data, err := os.ReadFile(filepath.Join(atLimit, resultfmt.ResultFile))
	if err != nil {
		t.Fatal(err)
	}
	const lowered = 1 << 20
	if err := os.WriteFile(filepath.Join(atLimit, resultfmt.ResultFile), append(data, bytes.Repeat([]byte(" "), lowered-len(data))...), 0o644); err != nil {
		t.Fatal(err)
	}

	endless, stop := endlessJSON(t)
	defer stop()

	tests := []struct {
		name    string
		path    string
		limit   int64 // 0: the real one
		wantErr string
	}{
		{"sparse file past the limit", sparse, 0, "reading results " + sparse + ": larger than 128 MiB, the most dmbench reads"},
		{"endless stream", endless, lowered, "reading results " + endless + ": larger than 1 MiB, the most dmbench reads"},
		{"/dev/zero", "/dev/zero", 0, "reading results /dev/zero: not valid JSON: invalid character '\\x00'"},
		{"a result at the limit", atLimit, lowered, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(tt.path); err != nil {
				t.Skip(err)
			}
			if tt.limit > 0 {
				defer resultfmt.SetReadLimits(tt.limit, 512<<20)()
			}
			start := time.Now()
			_, err := resultfmt.Read(tt.path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refusing took %v", d)
			}
		})
	}
}

// TestReadBoundsDecodedHistograms lowers the bound on the memory a result's histograms
// take decoded below what fullRun's take: the result is refused, naming the histogram
// that went past it.
func TestReadBoundsDecodedHistograms(t *testing.T) {
	dir := writeRun(t, t.TempDir(), resultfmt.FromLoadgen(fullMeta(), fullRun()))
	defer resultfmt.SetReadLimits(resultfmt.MaxResultSize, 1<<20)()
	_, err := resultfmt.Read(dir)
	if err == nil || !strings.Contains(err.Error(), "the result's histograms take more than 1 MiB decoded") {
		t.Fatalf("error %v, want the decoded size refused", err)
	}
}

// TestReadDecodedKeepsHistograms checks that ReadDecoded decodes each histogram once:
// Decode returns the histogram it kept, every time, and the figures from it are those of
// a fresh decode. Read keeps none.
func TestReadDecodedKeepsHistograms(t *testing.T) {
	dir := writeRun(t, t.TempDir(), resultfmt.FromLoadgen(fullMeta(), fullRun()))
	kept, err := resultfmt.ReadDecoded(dir)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := resultfmt.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	decodeTwice := func(l resultfmt.Latency) (same bool, count int64) {
		a, err := l.Decode()
		if err != nil {
			t.Fatal(err)
		}
		b, err := l.Decode()
		if err != nil {
			t.Fatal(err)
		}
		return a == b, a.TotalCount()
	}
	tests := []struct {
		name     string
		l        resultfmt.Latency
		wantSame bool
	}{
		{"ReadDecoded: stage", kept.Stages[1].Commands[0].Uncorrected, true},
		{"ReadDecoded: warm-up", kept.Warmup.Commands[0].Corrected, true},
		{"ReadDecoded: connect time", kept.Connections.ConnectTime, true},
		{"Read: stage", plain.Stages[1].Commands[0].Uncorrected, false},
	}
	for _, tt := range tests {
		same, count := decodeTwice(tt.l)
		if same != tt.wantSame || count != tt.l.Count {
			t.Errorf("%s: the same histogram twice %v (want %v), %d values (want %d)", tt.name, same, tt.wantSame, count, tt.l.Count)
		}
	}
	for _, cmd := range kept.Commands() {
		a, _, err := kept.Merged(cmd, resultfmt.Corrected)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := plain.Merged(cmd, resultfmt.Corrected)
		if err != nil {
			t.Fatal(err)
		}
		if a.TotalCount() != b.TotalCount() || a.ValueAtQuantile(99) != b.ValueAtQuantile(99) {
			t.Errorf("%s: merged from kept histograms %d values p99 %d, from fresh ones %d values p99 %d", cmd, a.TotalCount(), a.ValueAtQuantile(99), b.TotalCount(), b.ValueAtQuantile(99))
		}
	}
}

// TestReadRealResults reads every result in the repository's results/: the checks must
// pass what dmbench really wrote.
func TestReadRealResults(t *testing.T) {
	var files []string
	err := filepath.WalkDir("../results", func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == resultfmt.ResultFile {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Skipf("no results to read (%v)", err)
	}
	for _, f := range files {
		if _, err := resultfmt.Read(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
