package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dmbench/dmbench/scenarios"
)

// fdsReserved are the file descriptors a run needs besides its clients' connections:
// standard streams, the result files, the server-view connection, the runtime's own.
const fdsReserved = 64

// checkFDs refuses a scenario whose largest stage needs more connections than the
// process's file-descriptor limit allows: each client takes one descriptor, and one more
// with the embedded broker, which serves it in this process. Without the check every
// connection beyond the limit fails, over and over, with "too many open files".
func checkFDs(sc *scenarios.Scenario, embedded bool) error {
	limit, ok := fdLimit()
	if !ok {
		return nil
	}
	clients := 0
	for _, st := range sc.Plan().Stages {
		clients = max(clients, st.Clients)
	}
	per := uint64(1)
	if embedded {
		per = 2
	}
	need := uint64(clients)*per + fdsReserved
	if need <= limit {
		return nil
	}
	fit := (limit - min(limit, fdsReserved)) / per
	if embedded {
		return fmt.Errorf("%d clients need about %d file descriptors with the embedded broker in this process (one for each end of each connection), but the limit is %d: "+
			"run the broker in a process of its own (dmbench serve, then --target), or use at most %d clients (--clients)", clients, need, limit, fit)
	}
	return fmt.Errorf("%d clients need about %d file descriptors, but this process may open %d: use at most %d clients (--clients), or shard the load over several processes", clients, need, limit, fit)
}

// maxUnfinishedListed bounds how many unfinished run folders are named.
const maxUnfinishedListed = 5

// reportUnfinished says on w which temporary run folders in outDir (and in the result
// sets directly under it) were left by runs that did not finish: a dmbench that was
// killed, or one still running. Each holds the interval logs of what it measured.
func reportUnfinished(w io.Writer, outDir string) {
	dirs := unfinishedIn(outDir)
	if entries, err := os.ReadDir(outDir); err == nil {
		for i, e := range entries {
			if i >= 10_000 {
				break
			}
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				dirs = append(dirs, unfinishedIn(filepath.Join(outDir, e.Name()))...)
			}
		}
	}
	if len(dirs) == 0 {
		return
	}
	names := dirs
	if len(names) > maxUnfinishedListed {
		names = names[:maxUnfinishedListed]
	}
	more := ""
	if len(dirs) > len(names) {
		more = fmt.Sprintf(" and %d more", len(dirs)-len(names))
	}
	fmt.Fprintf(w, "dmbench: %d unfinished run folder(s) from runs that were killed (or are still running): %s%s. "+
		"Each holds the interval logs (.hlog) of what it measured but no result.json; remove them when done.\n",
		len(dirs), strings.Join(names, ", "), more)
}

// unfinishedIn lists the temporary run folders (".<name>.tmp-*") directly in dir, with
// their age.
func unfinishedIn(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for i, e := range entries {
		if i >= 10_000 {
			break
		}
		if !e.IsDir() || !strings.HasPrefix(e.Name(), ".") || !strings.Contains(e.Name(), ".tmp-") {
			continue
		}
		name := filepath.Join(dir, e.Name())
		if fi, err := e.Info(); err == nil {
			name += fmt.Sprintf(" (%s old)", time.Since(fi.ModTime()).Round(time.Second))
		}
		out = append(out, fmt.Sprintf("%q", name))
	}
	return out
}
