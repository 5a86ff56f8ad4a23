package serverview

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// Defaults of a Poller.
const (
	DefaultEvery   = 5 * time.Second // periodic snapshots
	DefaultTimeout = 2 * time.Second // wait for each PERFRPRT
)

// Labels of the snapshots a Poller names itself; a stage's is StageLabel's.
const (
	LabelStart    = "start"    // the usual label for Poll before the load begins
	LabelPeriodic = "periodic" // taken every View.Every
	LabelEnd      = "end"      // taken by Stop, after the load
)

// StageLabel is the label of the snapshot taken as stage index (0-based) starts:
// "stage 1 start" for index 0.
func StageLabel(index int) string { return fmt.Sprintf("stage %d start", index+1) }

// EchoReason is View.NoReport for a server that echoes PERFMNCE, as DMB 0.2.1 does.
const EchoReason = "the server echoed PERFMNCE: it sends no performance report (DMB 0.2.1 behaves so)"

// Snapshot is one request for the server's report and what came of it.
type Snapshot struct {
	Label     string    // "start", StageLabel(i), "periodic", "end", or Poll's label
	Stage     int       // the stage's index for a stage's snapshot, else -1
	StageName string    // the stage's name for a stage's snapshot
	At        time.Time // the moment it stands for: the stage's start for a stage's, else Sent
	Sent      time.Time // when PERFMNCE was handed to the transport (zero: not sent)
	Received  time.Time // when the reply came (zero: none)
	// Polls counts the PERFMNCE requests this poller has sent, this one included; the
	// server counts them too (in Report.Reports), so Between can take them out.
	Polls  int
	Reply  protocol.Command // the reply's command; "" when none came
	Report *protocol.Report // the decoded PERFRPRT, with Extra and Missing; nil when none
	Err    string           // why there is no report
}

// View is what a Poller gathered: every snapshot it asked for, in the order sent.
type View struct {
	Addr           string        // the signalling address asked
	Every, Timeout time.Duration // the poller's settings
	Snapshots      []Snapshot
	// Available is true when at least one report came.
	Available bool
	// NoReport says why the poller stopped asking (or never could), e.g. EchoReason or
	// "no reply to PERFMNCE within 2s"; empty when every request was answered.
	NoReport string
}

// Poller asks one server for its report on a connection of its own. Its methods are safe
// for concurrent use.
type Poller struct {
	addr           string
	d              transport.Dealer
	every, timeout time.Duration
	nonce          [8]byte

	mu      sync.Mutex
	queue   []request
	stopped bool // Stop was called: nothing more is queued
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}

	stopOnce sync.Once
	view     *View

	// Owned by the polling goroutine (read by Stop once it has ended).
	enc      protocol.Encoder
	msg      protocol.Message
	snaps    []Snapshot
	polls    int
	noReport string
}

// request is one snapshot to take.
type request struct {
	label     string
	stage     int
	stageName string
	at        time.Time
	reply     chan Snapshot // nil: nobody waits
}

// Start connects a DEALER to the server's signalling address addr with the given
// transport and starts the polling goroutine, which takes a "periodic" snapshot every
// every (0: none) and waits up to timeout (0: DefaultTimeout) for each reply. It takes no
// snapshot itself: call Poll("start") before the load begins. ctx bounds the connection
// attempt only; Stop ends the Poller.
func Start(ctx context.Context, addr string, kind transport.Kind, every, timeout time.Duration) (*Poller, error) {
	if every < 0 {
		return nil, fmt.Errorf("server view: poll interval %v is negative: give 0 (only at the start, stage boundaries and the end) or more", every)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	d, err := transport.Dial(ctx, kind, addr, transport.DialOptions{Reconnect: true})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s to ask for its performance reports: %w; the run can go on without the server's view", addr, err)
	}
	p := &Poller{
		addr:    addr,
		d:       d,
		every:   every,
		timeout: timeout,
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if _, err := crand.Read(p.nonce[:]); err != nil {
		binary.BigEndian.PutUint64(p.nonce[:], uint64(time.Now().UnixNano()))
	}
	go p.run()
	return p, nil
}

// Poll takes a snapshot now, labelled label, and returns it once its reply came or the
// timeout passed. Once the server has shown that it sends no report, or after Stop, Poll
// sends nothing and returns a Snapshot whose Err says so (and which the View does not
// hold).
func (p *Poller) Poll(label string) Snapshot {
	r := request{label: label, stage: -1, reply: make(chan Snapshot, 1)}
	if !p.enqueue(r, false) {
		return Snapshot{Label: label, Stage: -1, Err: "not asked: the poller was stopped"}
	}
	return <-r.reply
}

// Stage asks for a snapshot for the start of stage index, named name, which started at
// at, and returns at once: the snapshot is taken by the polling goroutine, after those
// asked for earlier. Its signature is loadgen.Config.OnStage's.
func (p *Poller) Stage(index int, name string, at time.Time) {
	p.enqueue(request{label: StageLabel(index), stage: index, stageName: name, at: at}, false)
}

// Stop takes the "end" snapshot, waits for it, closes the connection and returns what
// the Poller gathered. Later calls return the same View.
func (p *Poller) Stop() *View {
	p.stopOnce.Do(func() {
		r := request{label: LabelEnd, stage: -1, reply: make(chan Snapshot, 1)}
		p.enqueue(r, true)
		<-r.reply
		close(p.quit)
		<-p.done
		_ = p.d.Close()
		v := &View{Addr: p.addr, Every: p.every, Timeout: p.timeout, Snapshots: p.snaps, NoReport: p.noReport}
		for i := range v.Snapshots {
			if v.Snapshots[i].Report != nil {
				v.Available = true
				break
			}
		}
		p.view = v
	})
	return p.view
}

// enqueue queues r unless the poller is stopped; last marks the final request.
func (p *Poller) enqueue(r request, last bool) bool {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return false
	}
	p.queue = append(p.queue, r)
	p.stopped = last
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return true
}

// next takes the oldest queued request.
func (p *Poller) next() (request, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		return request{}, false
	}
	r := p.queue[0]
	p.queue = p.queue[1:]
	return r, true
}

func (p *Poller) isStopped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

// run is the polling goroutine: queued requests in order, and a periodic one every
// p.every, until Stop.
func (p *Poller) run() {
	defer close(p.done)
	var tick <-chan time.Time
	if p.every > 0 {
		t := time.NewTicker(p.every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-p.quit:
			return
		case <-p.wake:
			for {
				r, ok := p.next()
				if !ok {
					break
				}
				s := p.take(r)
				if r.reply != nil {
					r.reply <- s
				}
			}
		case <-tick:
			if !p.isStopped() {
				p.take(request{label: LabelPeriodic, stage: -1})
			}
		}
	}
}

// take sends one PERFMNCE, waits for its reply and records the snapshot.
func (p *Poller) take(r request) Snapshot {
	s := Snapshot{Label: r.label, Stage: r.stage, StageName: r.stageName, At: r.at}
	if p.noReport != "" {
		s.Err = "not asked: " + p.noReport
		return s
	}
	var id [16]byte
	copy(id[:8], p.nonce[:])
	binary.BigEndian.PutUint64(id[8:], uint64(p.polls+1))
	frames := p.enc.Encode(&protocol.Message{ID: id[:], Command: protocol.Performance, Properties: protocol.Properties{Ack: true}})
	s.Sent = time.Now()
	if s.At.IsZero() {
		s.At = s.Sent
	}
	if err := p.d.Send(frames); err != nil {
		// Not sent, so not seen by the server: ask again next time.
		s.Err = fmt.Sprintf("PERFMNCE could not be sent: %v", err)
		s.Sent = time.Time{}
		s.Polls = p.polls
		p.snaps = append(p.snaps, s)
		return s
	}
	p.polls++
	s.Polls = p.polls
	p.receive(&s, id[:])
	if s.Report == nil && s.Err == "" {
		s.Err = p.noReport
	}
	p.snaps = append(p.snaps, s)
	return s
}

// receive waits for the reply to the request with the given id and fills s. Any outcome
// but a readable PERFRPRT sets p.noReport, so the poller asks no more.
func (p *Poller) receive(s *Snapshot, id []byte) {
	_ = p.d.SetRecvDeadline(s.Sent.Add(p.timeout))
	for {
		frames, err := p.d.Recv()
		if err != nil {
			switch {
			case errors.Is(err, transport.ErrTimeout):
				p.noReport = fmt.Sprintf("no reply to PERFMNCE within %v", p.timeout)
			default:
				p.noReport = fmt.Sprintf("waiting for the reply to PERFMNCE: %v", err)
			}
			return
		}
		m := &p.msg
		if err := protocol.DecodeHeader(frames, m); err != nil || !bytes.Equal(m.ID, id) {
			continue // not a signalling message, or a reply to something else: not ours
		}
		s.Received = time.Now()
		s.Reply = m.Command
		switch m.Command {
		case protocol.PerformanceReport:
			rep, err := protocol.DecodeReport(bytes.Clone(m.RawProperties))
			if err != nil {
				p.noReport = "the server's PERFRPRT is not a report dmbench can read: " + err.Error()
				s.Err = p.noReport
				return
			}
			s.Report = rep
		case protocol.Performance:
			p.noReport = EchoReason
		case protocol.Exception:
			var props protocol.Properties
			_ = protocol.DecodeProperties(m.RawProperties, &props)
			p.noReport = fmt.Sprintf("the server answered PERFMNCE with EXCEPTON (%q): it sends no performance report", props.Reason)
		default:
			p.noReport = fmt.Sprintf("the server answered PERFMNCE with %q, not PERFRPRT: it sends no performance report", string(m.Command))
		}
		return
	}
}
