package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/resultfmt"
)

// startServeProcess runs `bin serve` in a process of its own on a free port and returns
// its base address; it is stopped with SIGTERM at the end of the test.
func startServeProcess(t *testing.T, bin string) string {
	t.Helper()
	base := freePort(t) - 1 // the signalling port, base + 1, was free a moment ago
	cmd := exec.Command(bin, "serve", "--port", strconv.Itoa(base))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "stop with") {
			go func() {
				for sc.Scan() {
				}
			}()
			return "tcp://127.0.0.1:" + strconv.Itoa(base)
		}
	}
	t.Fatalf("dmbench serve --port %d did not start", base)
	return ""
}

// shardsRun is what `run --shards N` left in its folder: each shard's result and the
// merged one.
type shardsRun struct {
	shards []*resultfmt.Result
	merged *resultfmt.Result
}

// readShardsRun reads the one sharded run under out.
func readShardsRun(t *testing.T, out string, n int) shardsRun {
	t.Helper()
	dir := onlyRun(t, out)
	if !strings.HasSuffix(dir, "-shards"+strconv.Itoa(n)) {
		t.Fatalf("the run's folder is %s, want one ending in -shards%d", dir, n)
	}
	var r shardsRun
	for i := range n {
		res, err := resultfmt.Read(onlyRun(t, filepath.Join(dir, "shard-"+strconv.Itoa(i))))
		if err != nil {
			t.Fatal(err)
		}
		r.shards = append(r.shards, res)
	}
	merged, err := resultfmt.Read(filepath.Join(dir, "merged"))
	if err != nil {
		t.Fatal(err)
	}
	r.merged = merged
	return r
}

// TestRunShards runs `dmbench run --shards 3` as a real process (its shards are child
// processes of it) against `dmbench serve` in a process of its own. A whole run: every
// shard started at the one --start-at, the merged counts are the sum of the shards' and
// the scenario's (rate × duration), the server received and completed exactly the
// requests the shards sent (the merged server view's whole-run join), and no connection
// was lost. An interrupted one: SIGINT to the parent reaches every shard once (they
// drain rather than abandon), and the merged result is marked interrupted, exit 130.
//
// Whether the broker saw a request id twice is not observable: the broker keeps no ids
// (it echoes each request's id in its reply), and ids are unique per connection only
// (a client's sequence number after the run's random nonce, loadgen/ids.go), so across
// connections, and across shards but for their different nonces, they may repeat by
// design; replies are matched per connection.
func TestRunShards(t *testing.T) {
	bin := dmbenchBinary(t)
	target := startServeProcess(t, bin)
	tests := []struct {
		name      string
		args      []string
		interrupt time.Duration // SIGINT to the parent this long after it started; 0 none
		wantCode  int
		wantSent  uint64 // the merged run's requests; 0: not checked
	}{
		{name: "whole run", args: []string{"testdata/tiny.yaml", "--short", "--clients", "6"}, wantCode: exitOK, wantSent: 100}, // 200/s for 500 ms
		{name: "interrupted", args: []string{"testdata/steady.yaml", "--clients", "3"}, interrupt: 5 * time.Second, wantCode: exitInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"run"}, tt.args...)
			args = append(args, "--shards", "3", "--target", target, "-o", out)
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), "CI=true")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if tt.interrupt > 0 {
				time.Sleep(tt.interrupt)
				if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
			}
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(25 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("dmbench run --shards did not end within 25 s\n%s", stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != tt.wantCode {
				t.Fatalf("exit code %d, want %d\n%s", code, tt.wantCode, stderr.String())
			}
			r := readShardsRun(t, out, 3)
			m := r.merged

			if m.Meta.Merge == nil || m.Meta.Merge.Count != 3 || len(m.Meta.Merge.Shards) != 3 {
				t.Fatalf("merged meta.merge %+v, want the 3 shards", m.Meta.Merge)
			}
			if m.Meta.Interrupted != (tt.interrupt > 0) {
				t.Errorf("merged result interrupted: %v (%s)", m.Meta.Interrupted, m.Meta.InterruptReason)
			}
			startAt := r.shards[0].Meta.Shard.StartAt
			for i, s := range r.shards {
				sh := s.Meta.Shard
				if sh == nil || sh.Index != i || sh.Count != 3 || !sh.StartAt.Equal(startAt) || sh.StartAt.IsZero() {
					t.Errorf("shard %d: meta.shard %+v, want index %d of 3 at %v", i, sh, i, startAt)
				}
				if tt.interrupt == 0 && !s.Meta.Start.Equal(startAt) {
					t.Errorf("shard %d started at %v, not at --start-at %v", i, s.Meta.Start, startAt)
				}
				if strings.Contains(stderr.String(), "abandon") {
					t.Errorf("a shard abandoned its outstanding replies: it got the interrupt twice\n%s", stderr.String())
				}
			}

			// Counts: the merged ones are the shards' sums, per stage and command.
			var sent, ok uint64
			for k, st := range m.Stages {
				for _, c := range st.Commands {
					var sumSent, sumOK uint64
					for i, s := range r.shards {
						if s.Stages[k].Name != st.Name {
							t.Errorf("shard %d's stage %d is %q, the merged one's %q", i, k, s.Stages[k].Name, st.Name)
						}
						for _, sc := range s.Stages[k].Commands {
							if sc.Command == c.Command {
								sumSent += sc.Counts.Sent
								sumOK += sc.Counts.OK
							}
						}
					}
					// Histograms: the merged one is hdrhistogram-go's Merge of the shards', exactly.
					for _, kind := range []struct {
						name string
						of   func(*resultfmt.CommandResult) resultfmt.Latency
					}{
						{"corrected", func(c *resultfmt.CommandResult) resultfmt.Latency { return c.Corrected }},
						{"uncorrected", func(c *resultfmt.CommandResult) resultfmt.Latency { return c.Uncorrected }},
						{"send delay", func(c *resultfmt.CommandResult) resultfmt.Latency { return c.SendDelay }},
					} {
						got, err := kind.of(&c).Decode()
						if err != nil {
							t.Fatalf("stage %s %s merged %s: %v", st.Name, c.Command, kind.name, err)
						}
						want := loadgen.NewHistogram()
						for _, sh := range r.shards {
							for _, sc := range sh.Stages[k].Commands {
								if sc.Command == c.Command {
									h, err := kind.of(&sc).Decode()
									if err != nil {
										t.Fatalf("a shard's %s: %v", kind.name, err)
									}
									want.Merge(h)
								}
							}
						}
						if !slices.Equal(got.Export().Counts, want.Export().Counts) || got.TotalCount() != want.TotalCount() {
							t.Errorf("stage %s %s: the merged %s histogram (%d values) is not the Merge of the shards' (%d)", st.Name, c.Command, kind.name, got.TotalCount(), want.TotalCount())
						}
					}
					if c.Counts.Sent != sumSent || c.Counts.OK != sumOK {
						t.Errorf("stage %s %s: merged sent %d ok %d, the shards' sum %d and %d", st.Name, c.Command, c.Counts.Sent, c.Counts.OK, sumSent, sumOK)
					}
					if tt.interrupt == 0 && c.Counts.Errors() != 0 {
						t.Errorf("stage %s %s: %d errors against a healthy server", st.Name, c.Command, c.Counts.Errors())
					}
					sent += c.Counts.Sent
					ok += c.Counts.OK
				}
			}
			if tt.wantSent > 0 && sent != tt.wantSent {
				t.Errorf("the merged run sent %d requests, the scenario %d", sent, tt.wantSent)
			}
			if sent == 0 {
				t.Error("nothing was sent")
			}
			t.Logf("merged: %d sent, %d OK", sent, ok)

			// The server's count: the merged view joins the shards' sum exactly.
			if tt.interrupt == 0 {
				sv := m.ServerView
				if sv == nil || sv.Total == nil || !sv.Total.Exact {
					t.Fatalf("no exact whole-run server join in the merged result: %+v (notes %q)", sv, m.Meta.Merge.Notes)
				}
				var received, completed uint64
				for _, c := range sv.Total.Commands {
					if c.Server == nil || c.ClientSent != c.Server.Received || c.ClientOK != c.Server.Completed {
						t.Errorf("%s: the shards sent %d (%d OK), the server %+v: they should join exactly", c.Command, c.ClientSent, c.ClientOK, c.Server)
						continue
					}
					received += c.Server.Received
					completed += c.Server.Completed
				}
				if received != sent || completed != ok {
					t.Errorf("the server received %d and completed %d, the shards sent %d with %d OK", received, completed, sent, ok)
				}
				t.Logf("server: %d received, %d completed (from %s's reports)", received, completed, r.shards[*m.Meta.Merge.ServerViewFrom].Meta.Shard)
			}

			conns := m.Connections
			if conns.Connected != 6 && tt.interrupt == 0 || conns.Disconnects != 0 || conns.ConnectFailed != 0 || conns.ServerLost {
				t.Errorf("connections %+v: want every client connected once and none lost", conns)
			}
		})
	}
}

// TestRunShardRefusals checks what `run --shard` and `--shards` refuse before starting
// anything: exit 2 for bad usage, and exit 1 for a --start-at that has passed (a shard
// that cannot start with the others), with nothing written in either case.
func TestRunShardRefusals(t *testing.T) {
	t.Setenv("CI", "true")
	target := "tcp://127.0.0.1:" + strconv.Itoa(freePort(t)-1) // no server: nothing may connect
	passed := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"shard without target", []string{"--shard", "0/2"}, exitUsage},
		{"shard index out of range", []string{"--shard", "2/2", "--target", target}, exitUsage},
		{"shard not i/N", []string{"--shard", "1", "--target", target}, exitUsage},
		{"more shards than clients", []string{"--shard", "0/3", "--target", target}, exitUsage},
		{"start-at without shard", []string{"--start-at", passed, "--target", target}, exitUsage},
		{"start-at not RFC 3339", []string{"--shard", "0/2", "--start-at", "noon", "--target", target}, exitUsage},
		{"shard with repeat", []string{"--shard", "0/2", "--repeat", "2", "--target", target}, exitUsage},
		{"start-at passed", []string{"--shard", "1/2", "--start-at", passed, "--target", target}, exitFailed},
		{"shards without target", []string{"--shards", "2"}, exitUsage},
		{"shards with shard", []string{"--shards", "2", "--shard", "0/2", "--target", target}, exitUsage},
		{"more shards than clients (--shards)", []string{"--shards", "3", "--target", target}, exitUsage},
		{"zero shards", []string{"--shards", "0", "--target", target}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"run", "testdata/tiny.yaml", "--short", "-o", out}, tt.args...)
			if got := run(args); got != tt.want {
				t.Errorf("exit code %d, want %d", got, tt.want)
			}
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Errorf("a refused run wrote %v", entries)
			}
		})
	}
}
