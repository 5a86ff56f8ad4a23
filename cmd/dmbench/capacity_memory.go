package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dmbench/dmbench/capacity"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/scenarios"
)

// memoryFill runs the fill of --memory: the stage-th stage of sc as an open loop at its
// own rate (else --start, else 1000/s) for --fill, asking the server for its report every
// second (unless --server-poll says otherwise), and fits the server's RSS against the
// groups and memberships each report gives. Where the server sends no report, RSS comes
// from /proc/PID/status for --server-pid and the counts from the fill's GROUPADD replies,
// spread over its time; without --server-pid memory cannot be sized, and the Memory says so.
func memoryFill(sig *interrupts, c *cobra.Command, sc *scenarios.Scenario, name string, stage int, set string, labels map[string]string, f *capacityFlags) *capacity.Memory {
	st := &sc.Stages[stage]
	mem := &capacity.Memory{Stage: st.Name, Project: f.project, RatePerS: 1000}
	if !slices.ContainsFunc(st.Mix, func(r scenarios.Request) bool { return r.Command == protocol.GroupAdd }) {
		mem.Cannot = fmt.Sprintf("stage %s adds no groups (no GROUPADD in its mix); give --stage with one that does", st.Name)
		return mem
	}
	if o := st.Open; o != nil && o.Rate > 0 {
		mem.RatePerS = float64(o.Rate)
		if o.PerClient {
			mem.RatePerS *= float64(st.Clients)
		}
	} else if r, err := scenarios.ParseRate(f.start); err == nil && r > 0 {
		mem.RatePerS = float64(r)
	}
	run := f.run
	if !c.Flags().Changed("server-poll") {
		run.serverPoll = time.Second
	}
	var samples []rssSample
	var readErr error
	done := make(chan struct{})
	sampled := make(chan struct{})
	if f.serverPID > 0 {
		go func() {
			defer close(sampled)
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				b, err := readRSS(f.serverPID)
				if err != nil {
					readErr = err
					return
				}
				samples = append(samples, rssSample{at: time.Now(), bytes: b})
				select {
				case <-done:
					return
				case <-t.C:
				}
			}
		}()
	} else {
		close(sampled)
	}
	scFill := stepScenario(sc, stage, st.Clients, mem.RatePerS, false, 0, f.fill)
	before := runFolders(set)
	result, err := runOnce(sig, c, scFill, name, set, labels, &run)
	close(done)
	<-sampled
	if dirs := newFolders(before, runFolders(set)); len(dirs) == 1 {
		mem.Dir = dirs[0]
	}
	if result == nil || len(result.Stages) == 0 {
		mem.Cannot = fmt.Sprintf("the fill did not run (%v)", err)
		return mem
	}
	noReport := "it was not asked (--server-view off)"
	if v := result.ServerView; v != nil {
		for _, s := range v.Snapshots {
			if r := s.Report; r != nil && r.RSSBytes > 0 {
				mem.Points = append(mem.Points, capacity.MemPoint{Groups: float64(r.Groups), Memberships: float64(r.Memberships), RSSBytes: float64(r.RSSBytes)})
			}
		}
		noReport = nonEmptyString(v.NoReport, "its reports gave no RSS")
	}
	if len(mem.Points) > 0 {
		mem.Source = "the server's reports"
		mem.Size()
		return mem
	}
	switch {
	case f.serverPID == 0:
		mem.Cannot = fmt.Sprintf("the server sent no report (%s) and no --server-pid was given; for a server on this machine, give --server-pid PID to read its RSS from /proc", noReport)
		return mem
	case readErr != nil && len(samples) == 0:
		mem.Cannot = fmt.Sprintf("the server sent no report (%s) and its RSS could not be read: %v", noReport, readErr)
		return mem
	}
	rs := &result.Stages[0]
	var adds float64
	for _, cr := range rs.Commands {
		if cr.Command == string(protocol.GroupAdd) {
			adds += float64(cr.Counts.OK)
		}
	}
	span := rs.End.Sub(rs.Start).Seconds()
	for _, s := range samples {
		frac := 0.0
		if span > 0 {
			frac = min(max(s.at.Sub(rs.Start).Seconds()/span, 0), 1)
		}
		mem.Points = append(mem.Points, capacity.MemPoint{Memberships: adds * frac, RSSBytes: s.bytes})
	}
	mem.Source, mem.Estimated = fmt.Sprintf("/proc/%d/status (VmRSS)", f.serverPID), true
	mem.Size()
	return mem
}

type rssSample struct {
	at    time.Time
	bytes float64
}

// readRSS reads a process's resident set size from /proc/PID/status (VmRSS).
func readRSS(pid int) (float64, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				return 0, fmt.Errorf("%s: VmRSS %q: %w", path, strings.TrimSpace(v), err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("%s has no VmRSS line", path)
}
