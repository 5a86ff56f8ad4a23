//go:build linux

package loadgen

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// schedWait returns how long this process's threads have waited, runnable, for a CPU
// and how many times they were scheduled, summed from /proc/self/task/*/schedstat
// (fields: time on CPU, time waiting on a run queue, timeslices, in ns). Threads that
// exited are not counted, so a difference of two readings can only understate the wait.
func schedWait() (wait time.Duration, runs uint64, ok bool) {
	files, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil || len(files) == 0 {
		return 0, 0, false
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited meanwhile
		}
		fields := bytes.Fields(b)
		if len(fields) < 3 {
			return 0, 0, false
		}
		w, err1 := strconv.ParseUint(string(fields[1]), 10, 64)
		n, err2 := strconv.ParseUint(string(fields[2]), 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, false
		}
		wait += time.Duration(w)
		runs += n
		ok = true
	}
	return wait, runs, ok
}
