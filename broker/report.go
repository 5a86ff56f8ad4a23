package broker

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dmbench/dmbench/version"

	"github.com/dmbench/dmbench/protocol"
)

// Report returns a snapshot of the broker's counters, the same report PERFMNCE is answered
// with in the reference mode. It takes the processing lock once, so it waits for the
// message being handled (or a compat walk) to finish.
func (s *Server) Report() protocol.Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reportLocked()
}

// reportLocked is Report for a caller that holds the processing lock.
func (s *Server) reportLocked() protocol.Report {
	return protocol.Report{
		Schema:        protocol.ReportSchema,
		Server:        ServerName,
		Version:       version.Read().String(),
		Instance:      s.instance,
		Mode:          string(s.cfg.Compat),
		UptimeSeconds: time.Since(s.start).Seconds(),
		CPUSeconds:    processCPU(),
		RSSBytes:      processRSS(),
		Peers:         int64(s.router.Stats().Peers),
		Groups:        int64(len(s.store.groups)),
		Memberships:   int64(s.store.memberships),
		HistogramUnit: protocol.HistogramUnit,
		Commands:      s.stats.commandCounts(),
		Reports:       s.stats.reports.counts(),
		Malformed:     s.stats.malformed,
		Dropped:       s.stats.dropped,
	}
}

// processCPU returns the process's user + system CPU time in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// processRSS returns the process's resident memory now, from /proc/self/statm, or its peak
// (getrusage's maxrss) where /proc is not available.
func processRSS() int64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return pages * int64(os.Getpagesize())
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024
}
