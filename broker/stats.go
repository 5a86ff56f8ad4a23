package broker

import (
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/protocol"
)

// The service-time histograms cover 1 µs to 1 h with 3 significant digits.
const (
	histLowest  = 1
	histHighest = int64(time.Hour / time.Microsecond)
	histDigits  = 3
)

// cmdStats are one command's counters and service-time histogram. They are touched under
// the server's processing lock only.
type cmdStats struct {
	received, completed, exceptions, malformed uint64
	hist                                       *hdrhistogram.Histogram // created on first use
}

// record adds one service time, rounded to the microsecond and clamped to the range.
func (cs *cmdStats) record(d time.Duration) {
	if cs.hist == nil {
		cs.hist = hdrhistogram.New(histLowest, histHighest, histDigits)
	}
	us := int64((d + time.Microsecond/2) / time.Microsecond)
	_ = cs.hist.RecordValue(min(max(us, 0), histHighest))
}

// counts returns the counters and the encoded histogram, as a Report carries them.
func (cs *cmdStats) counts() protocol.CommandCounts {
	c := protocol.CommandCounts{Received: cs.received, Completed: cs.completed,
		Exceptions: cs.exceptions, Malformed: cs.malformed}
	if cs.hist != nil {
		// Encoding a valid histogram into memory does not fail.
		c.ServiceTime, _ = protocol.EncodeHistogram(cs.hist)
	}
	return c
}

// numCommands is len(protocol.Commands), as a constant (a test checks it).
const numCommands = 10

// stats are the server's counters: one cmdStats per command (the ten of protocol.Commands,
// then one for unknown commands), PERFMNCE apart.
type stats struct {
	cmds      [numCommands + 1]cmdStats
	reports   cmdStats
	malformed uint64
	dropped   protocol.Dropped
}

// slotUnknown is the index in stats.cmds of commands that are not one of the ten.
const slotUnknown = numCommands

// of returns the counters of command c.
func (st *stats) of(c protocol.Command) *cmdStats {
	if c == protocol.Performance {
		return &st.reports
	}
	for i, k := range protocol.Commands[:numCommands] {
		if k == c {
			return &st.cmds[i]
		}
	}
	return &st.cmds[slotUnknown]
}

// alwaysReported are the commands a Report lists even before any was received.
var alwaysReported = []protocol.Command{protocol.GroupAdd, protocol.GroupDiscard, protocol.Flush, protocol.Print, protocol.Heartbeat}

// commandCounts returns the Report's commands map: the request commands always, any other
// command (and "unknown") once received.
func (st *stats) commandCounts() map[string]protocol.CommandCounts {
	m := make(map[string]protocol.CommandCounts, len(alwaysReported)+1)
	for i := range st.cmds {
		cs := &st.cmds[i]
		name := protocol.UnknownCommand
		if i < slotUnknown {
			name = string(protocol.Commands[i])
		}
		if cs.received+cs.malformed == 0 && !slices.Contains(alwaysReported, protocol.Command(name)) {
			continue
		}
		m[name] = cs.counts()
	}
	return m
}
