package broker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// Mode selects how the broker answers.
type Mode string

// The broker's modes.
const (
	// Reference implements the documented protocol fully (see the package documentation).
	Reference Mode = "reference"
	// DMB021 reproduces the real DMB 0.2.1 server's replies and expiry (PROTOCOL.md).
	DMB021 Mode = "dmb-0.2.1"
)

// ParseMode returns the Mode named s; "" is Reference.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", Reference:
		return Reference, nil
	case DMB021:
		return DMB021, nil
	}
	return "", fmt.Errorf("broker mode %q: unknown (use %q or %q)", s, Reference, DMB021)
}

// Version is the broker's version in its reports; the dmbench command sets it.
var Version = "dev"

// ServerName is the server name in the broker's reports.
const ServerName = "dmbench-broker"

// Defaults and limits.
const (
	DefaultAddr       = "tcp://127.0.0.1:0" // loopback, port chosen by the kernel
	DefaultMaxNameLen = 64 << 10            // bytes, for group and channel names
	DefaultPrintLimit = 64 << 10            // bytes of group lines per PRINTXXX
	// MaxTTL is the longest ttl, in seconds, the reference mode accepts: 10 years.
	MaxTTL = 10 * 365 * 86400
	// DefaultSweepInterval is how often the reference mode removes expired memberships
	// while no request arrives (between requests it removes them as they fall due).
	DefaultSweepInterval = time.Second
	// DefaultWalkInterval is DMB 0.2.1's expiry period: a walk of the whole store every
	// 5 s, randomised as tornado's PeriodicCallback with jitter 0.1 does (each period is
	// drawn uniformly from 5 s × [0.95, 1.05], a window of 10 % around 5 s).
	DefaultWalkInterval = 5 * time.Second
	// DefaultWalkCost is the least time the compat walk takes per group: 450 ns, the
	// real server's cost (0.4–0.5 s for 1M groups). Go's own walk of a large store
	// costs about as much (400 ns per group measured for 300k groups on the 2-core
	// development VM, mostly cache misses) but less on a faster host or a store that
	// fits in cache, so the walk sleeps, holding the processing lock, for what is left.
	DefaultWalkCost = 450 * time.Nanosecond
	// holdLimit bounds the requests held for stuck connections; beyond it they are
	// dropped and counted in Report.Dropped.Requests.
	holdLimit = 100_000
)

// Config configures a Server. The zero value serves the reference protocol on
// DefaultAddr with the native transport.
type Config struct {
	// Transport is the ZMTP implementation; "" is transport.Native.
	Transport transport.Kind
	// Addr is the signalling address to bind; "" is DefaultAddr.
	Addr string
	// Compat is the mode; "" is Reference.
	Compat Mode
	// MaxNameLen bounds group and channel names in the reference mode (EXCEPTON beyond);
	// 0 is DefaultMaxNameLen, negative is no limit. The compat mode has no limit.
	MaxNameLen int
	// PrintTo receives the store on PRINTXXX (from the processing goroutine, which it
	// blocks); nil discards it. PrintLimit bounds the group lines; 0 is DefaultPrintLimit.
	PrintTo    io.Writer
	PrintLimit int
	// Faults are injected misbehaviours; the zero value injects none.
	Faults Faults
	// ExpiryInterval is the period of the idle sweep (reference, default
	// DefaultSweepInterval) or of the whole-store walk (compat, default
	// DefaultWalkInterval, jittered).
	ExpiryInterval time.Duration
	// WalkCost is the least time the compat walk spends per group; 0 is DefaultWalkCost,
	// negative is none (Go's own speed).
	WalkCost time.Duration
	// Now is the clock of group expiry, for tests; nil is time.Now. Service times, pauses
	// and latency use the real clock.
	Now func() time.Time
	// Listen are the router's options.
	Listen transport.ListenOptions
}

// Server is a running broker. Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	compat   bool
	router   transport.Router
	start    time.Time
	instance string
	now      func() time.Time
	printTo  io.Writer
	done     chan struct{}
	wg       sync.WaitGroup
	closing  sync.Once
	closeErr error

	// mu is the processing lock. The processing goroutine holds it while it handles a
	// message; the expiry goroutine while it sweeps or walks; Report while it copies.
	// It guards store and stats.
	mu    sync.Mutex
	store *store
	stats stats

	// Owned by the processing goroutine.
	src     source
	msg     protocol.Message
	out     protocol.Message
	enc     protocol.Encoder
	nowNS   int64 // the expiry clock for the message being handled
	stuck   map[string]bool
	held    []heldMsg
	dropReq *mrand.Rand
	dropRep *mrand.Rand
	delay   *delayQueue
	timer   *time.Timer
}

// heldMsg is a copied request of a stuck connection.
type heldMsg struct {
	peer   string
	frames [][]byte
}

// emptyMap is the msgpack encoding of {}, the properties of COMPLETE and HARTBEAT replies.
var emptyMap = []byte{0x80}

// Start binds the broker's ROUTER and starts serving.
func Start(cfg Config) (*Server, error) {
	mode, err := ParseMode(string(cfg.Compat))
	if err != nil {
		return nil, err
	}
	cfg.Compat = mode
	if err := cfg.Faults.Validate(); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.MaxNameLen == 0 {
		cfg.MaxNameLen = DefaultMaxNameLen
	}
	if cfg.PrintLimit <= 0 {
		cfg.PrintLimit = DefaultPrintLimit
	}
	if cfg.ExpiryInterval < 0 || cfg.WalkCost > time.Second {
		return nil, fmt.Errorf("broker: expiry interval %v or walk cost %v out of range (want ≥ 0 and ≤ 1s per group)", cfg.ExpiryInterval, cfg.WalkCost)
	}
	if cfg.ExpiryInterval == 0 {
		cfg.ExpiryInterval = DefaultSweepInterval
		if mode == DMB021 {
			cfg.ExpiryInterval = DefaultWalkInterval
		}
	}
	if cfg.WalkCost == 0 {
		cfg.WalkCost = DefaultWalkCost
	}
	s := &Server{
		cfg:      cfg,
		compat:   mode == DMB021,
		now:      cfg.Now,
		printTo:  cfg.PrintTo,
		done:     make(chan struct{}),
		instance: newInstance(),
		stuck:    make(map[string]bool),
		timer:    time.NewTimer(time.Hour),
	}
	s.timer.Stop()
	if s.now == nil {
		s.now = time.Now
	}
	if s.printTo == nil {
		s.printTo = io.Discard
	}
	s.store = newStore(s.compat)
	f := cfg.Faults
	if f.DropRequests > 0 {
		s.dropReq = mrand.New(mrand.NewPCG(f.Seed, 1))
	}
	if f.DropReplies > 0 {
		s.dropRep = mrand.New(mrand.NewPCG(f.Seed, 2))
	}
	r, err := transport.Listen(cfg.Transport, cfg.Addr, cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("broker: listen on %s with the %s transport: %w (is the port free, and the address tcp://host:port?)",
			cfg.Addr, transportName(cfg.Transport), err)
	}
	s.router = r
	s.start = time.Now()
	if f.Latency > 0 {
		s.delay = newDelayQueue(r.Send, s.done)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.delay.run() }()
	}
	if f.Stall {
		s.src = newBatchSource(r, s.done, &s.wg)
	} else {
		s.src = directSource{r}
	}
	s.wg.Add(2)
	go s.expire()
	go s.run()
	return s, nil
}

func transportName(k transport.Kind) transport.Kind {
	if k == "" {
		return transport.Native
	}
	return k
}

func newInstance() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return hex.EncodeToString(b)
}

// Addr returns the signalling address the broker listens on, e.g. "tcp://127.0.0.1:40123".
func (s *Server) Addr() string { return s.router.Addr() }

// Mode returns the broker's mode.
func (s *Server) Mode() Mode { return s.cfg.Compat }

// Close stops the broker: it closes the router and every connection, and returns once
// every goroutine the broker started has ended. Replies waiting for the Latency fault are
// discarded. Close may be called more than once.
func (s *Server) Close() error {
	s.closing.Do(func() {
		close(s.done)
		s.closeErr = s.router.Close()
		s.wg.Wait()
	})
	return s.closeErr
}

// Report returns a snapshot of the broker's counters, the same report PERFMNCE is answered
// with in the reference mode. It takes the processing lock once, so it waits for the
// message being handled (or a compat walk) to finish.
func (s *Server) Report() protocol.Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reportLocked()
}

func (s *Server) reportLocked() protocol.Report {
	return protocol.Report{
		Schema:        protocol.ReportSchema,
		Server:        ServerName,
		Version:       Version,
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

// run is the processing goroutine. It ends when the router is closed; any other receive
// error is passed over (after a millisecond, so a broken router does not spin).
func (s *Server) run() {
	defer s.wg.Done()
	for {
		frames, more, err := s.src.next()
		if err != nil {
			if errors.Is(err, transport.ErrClosed) {
				return
			}
			s.sleep(time.Millisecond)
			select {
			case <-s.done:
				return
			default:
			}
			continue
		}
		s.take(frames, more)
	}
}

// take applies the faults that act before processing (pause, dropped requests, stuck
// connections, stall) and processes the message.
func (s *Server) take(frames [][]byte, more bool) {
	t0 := time.Now()
	if s.cfg.Faults.Pause > 0 {
		t0 = s.waitPause(t0)
	}
	if s.dropReq != nil && s.dropReq.Float64() < s.cfg.Faults.DropRequests {
		s.mu.Lock()
		s.stats.dropped.Requests++
		s.mu.Unlock()
		return
	}
	if len(frames) == 0 { // a router always gives the peer's routing id; be safe anyway
		s.mu.Lock()
		s.stats.malformed++
		s.mu.Unlock()
		return
	}
	peer := frames[0]
	if len(s.stuck) > 0 {
		if s.stuck[string(peer)] {
			s.hold(string(peer), frames)
			return
		}
		s.release()
		t0 = time.Now()
	}
	if more && s.cfg.Faults.Stall {
		s.stuck[string(peer)] = true
		s.hold(string(peer), frames)
		return
	}
	s.process(frames, t0)
}

// waitPause returns t, or when t falls in a pause window, the time the window ends, after
// sleeping until then.
func (s *Server) waitPause(t time.Time) time.Time {
	p, every := s.cfg.Faults.Pause, s.cfg.Faults.PauseEvery
	since := t.Sub(s.start)
	k := since / every
	if k < 1 || since-k*every >= p {
		return t
	}
	s.sleep(time.Duration(k)*every + p - since)
	return time.Now()
}

// sleep waits d, or until the server closes.
func (s *Server) sleep(d time.Duration) {
	s.timer.Reset(d)
	select {
	case <-s.timer.C:
	case <-s.done:
		s.timer.Stop()
	}
}

// occupy keeps the processing goroutine busy until the deadline: it sleeps while the
// deadline is far (timers overshoot by up to about a millisecond), then spins.
func (s *Server) occupy(until time.Time) {
	const slack = 1500 * time.Microsecond
	if left := time.Until(until); left > 2*slack {
		s.sleep(left - slack)
	}
	for time.Now().Before(until) {
		select {
		case <-s.done:
			return
		default:
		}
		runtime.Gosched()
	}
}

// hold keeps a copy of a stuck connection's message.
func (s *Server) hold(peer string, frames [][]byte) {
	if len(s.held) >= holdLimit {
		s.mu.Lock()
		s.stats.dropped.Requests++
		s.mu.Unlock()
		return
	}
	h := heldMsg{peer: peer}
	h.frames, _ = copyFrames(nil, nil, frames)
	s.held = append(s.held, h)
}

// release processes every held message in arrival order, as 0.2.1 answers its stuck
// requests once another connection sends. A message that makes its connection stuck
// again (compat: malformed) holds that connection's later messages again.
func (s *Server) release() {
	held := s.held
	s.held = nil
	clear(s.stuck)
	for _, h := range held {
		if s.stuck[h.peer] {
			s.held = append(s.held, h)
			continue
		}
		s.process(h.frames, time.Now())
	}
}

// process handles one message under the processing lock and sends its reply, if any.
func (s *Server) process(frames [][]byte, t0 time.Time) {
	s.mu.Lock()
	s.nowNS = s.now().UnixNano()
	if !s.compat && s.store.nextExpiry() <= s.nowNS {
		s.store.expire(s.nowNS)
	}
	cs, reply := s.handle(frames)
	var out [][]byte
	if reply {
		out = s.enc.Encode(&s.out)
	}
	if st := s.cfg.Faults.ServiceTime; st > 0 {
		s.occupy(t0.Add(st))
	}
	if cs != nil {
		cs.record(time.Since(t0))
	}
	if reply && s.dropRep != nil && s.dropRep.Float64() < s.cfg.Faults.DropReplies {
		s.stats.dropped.Replies++
		reply = false
	}
	s.mu.Unlock()
	if !reply {
		return
	}
	if s.delay != nil {
		s.delay.push(out, time.Now().Add(s.cfg.Faults.Latency))
		return
	}
	_ = s.router.Send(out) // a peer gone meanwhile is counted by the router
}

// handle decodes and handles a message. It returns the counters to record the service
// time in (nil for a malformed message) and whether s.out is a reply to send.
func (s *Server) handle(frames [][]byte) (*cmdStats, bool) {
	m := &s.msg
	err := protocol.Decode(frames, m)
	if err != nil && !protocol.IsBadProperty(err) {
		return nil, s.malformed(frames, m, err)
	}
	cs := s.stats.of(m.Command)
	cs.received++
	var ok bool
	if s.compat {
		ok = s.handleCompat(m, err)
	} else {
		ok = s.handleReference(m, err)
	}
	if ok {
		cs.completed++
	} else {
		cs.exceptions++
	}
	if !m.Properties.Ack {
		return cs, false
	}
	if s.compat {
		// 0.2.1 echoes the request: COMPLETE on success, else the command unchanged.
		s.out = protocol.Message{Envelope: m.Envelope, ID: m.ID, Command: m.Command, RawProperties: m.RawProperties}
		if ok {
			s.out.Command = protocol.Complete
		}
		return cs, true
	}
	if m.Command == protocol.Performance && ok {
		// Built after counting, so the report includes this request.
		rep := s.reportLocked()
		b, err := protocol.EncodeReport(&rep)
		if err != nil {
			s.out = protocol.Message{Envelope: m.Envelope, ID: m.ID, Command: protocol.Exception,
				Properties: protocol.Properties{Reason: "PERFMNCE: encoding the report: " + err.Error()}}
			return cs, true
		}
		s.out.RawProperties = b
	}
	return cs, true
}

// malformed counts an undecodable message and, in the reference mode, answers it with
// EXCEPTON when its id was recovered, whatever its ack. In compat mode it is not answered
// and its connection is stuck until another connection sends, as with 0.2.1.
func (s *Server) malformed(frames [][]byte, m *protocol.Message, err error) bool {
	if bodyLen(frames) >= 2 {
		s.stats.of(m.Command).malformed++
	} else {
		s.stats.malformed++
	}
	if s.compat {
		s.stuck[string(frames[0])] = true
		return false
	}
	var de *protocol.DecodeError
	if !errors.As(err, &de) || !de.HasID {
		return false
	}
	s.out = protocol.Message{Envelope: m.Envelope, ID: de.ID, Command: protocol.Exception,
		Properties: protocol.Properties{Reason: err.Error()}}
	return true
}

// bodyLen returns the number of frames after the first empty one, or -1 without one.
func bodyLen(frames [][]byte) int {
	for i, f := range frames {
		if len(f) == 0 {
			return len(frames) - i - 1
		}
	}
	return -1
}

// handleReference runs the reference handlers and prepares the reply in s.out (sent only
// when ack is set). It reports whether the command succeeded.
func (s *Server) handleReference(m *protocol.Message, bad error) bool {
	var reason string
	reply := protocol.Complete
	switch {
	case bad != nil:
		reason = fmt.Sprintf("%s: %v", m.Command, bad)
	case m.Command == protocol.GroupAdd:
		reason = s.groupAdd(&m.Properties)
	case m.Command == protocol.GroupDiscard:
		reason = s.groupDiscard(&m.Properties)
	case m.Command == protocol.Flush:
		s.store.flush()
	case m.Command == protocol.Print:
		if err := s.store.print(s.printTo, s.cfg.PrintLimit); err != nil {
			reason = "PRINTXXX: writing the store failed: " + err.Error()
		}
	case m.Command == protocol.Heartbeat:
		reply = protocol.Heartbeat
	case m.Command == protocol.Performance:
		reply = protocol.PerformanceReport
	default:
		reason = fmt.Sprintf("unknown command %q: this server handles GROUPADD, GROUPDIS, FLUSHXXX, PRINTXXX, HARTBEAT and PERFMNCE", m.Command)
	}
	s.out = protocol.Message{Envelope: m.Envelope, ID: m.ID, Command: reply, RawProperties: emptyMap}
	if reason != "" {
		s.out.Command, s.out.RawProperties, s.out.Properties.Reason = protocol.Exception, nil, reason
		return false
	}
	return true
}

// checkNames returns why a GROUPADD or GROUPDIS lacks usable names, or "".
func (s *Server) checkNames(c protocol.Command, p *protocol.Properties) string {
	if len(p.GroupName) == 0 || len(p.ChannelName) == 0 {
		return fmt.Sprintf("%s needs a non-empty group_name and channel_name", c)
	}
	if limit := s.cfg.MaxNameLen; limit > 0 {
		for _, n := range []struct {
			key string
			v   []byte
		}{{protocol.KeyGroupName, p.GroupName}, {protocol.KeyChannelName, p.ChannelName}} {
			if len(n.v) > limit {
				return fmt.Sprintf("%s: %s is %d bytes, above this server's limit of %d (MaxNameLen)", c, n.key, len(n.v), limit)
			}
		}
	}
	return ""
}

func (s *Server) groupAdd(p *protocol.Properties) string {
	if reason := s.checkNames(protocol.GroupAdd, p); reason != "" {
		return reason
	}
	ttl := p.TTL
	if ttl == 0 {
		ttl = protocol.DefaultTTL
	}
	if ttl < 1 || ttl > MaxTTL {
		return fmt.Sprintf("GROUPADD: ttl %d s is out of range: want 1..%d seconds (absent or 0 means %d)", p.TTL, MaxTTL, protocol.DefaultTTL)
	}
	s.store.add(p.GroupName, p.ChannelName, s.nowNS+ttl*int64(time.Second))
	return ""
}

func (s *Server) groupDiscard(p *protocol.Properties) string {
	if reason := s.checkNames(protocol.GroupDiscard, p); reason != "" {
		return reason
	}
	s.store.discard(p.GroupName, p.ChannelName)
	return ""
}

// The range of Python's datetime, in Unix seconds: 0.2.1 computes an expiry as
// datetime.now() + timedelta(seconds=ttl), which raises outside it.
var (
	pyMinUnix = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	pyMaxUnix = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

// handleCompat runs DMB 0.2.1's handlers and reports whether the command succeeded. Only
// GROUPADD, GROUPDIS, FLUSHXXX and PRINTXXX have handlers; every other command fails.
func (s *Server) handleCompat(m *protocol.Message, bad error) bool {
	p := &m.Properties
	switch m.Command {
	case protocol.GroupAdd:
		if bad != nil {
			return false // e.g. ttl "60": timedelta raises
		}
		if len(p.GroupName) == 0 || len(p.ChannelName) == 0 {
			return true // 0.2.1 does nothing and says COMPLETE
		}
		ttl := p.TTL
		if ttl == 0 {
			ttl = protocol.DefaultTTL
		}
		now := s.nowNS / int64(time.Second)
		if ttl > pyMaxUnix-now || ttl < pyMinUnix-now {
			return false // datetime overflows, e.g. ttl 10**12
		}
		exp := now + ttl
		expNS := int64(math.MaxInt64)
		if exp < math.MaxInt64/int64(time.Second) && exp > math.MinInt64/int64(time.Second) {
			expNS = s.nowNS + ttl*int64(time.Second)
		} else if exp < 0 {
			expNS = math.MinInt64
		}
		s.store.add(p.GroupName, p.ChannelName, expNS)
		return true
	case protocol.GroupDiscard:
		if bad != nil {
			return false
		}
		if len(p.GroupName) > 0 && len(p.ChannelName) > 0 {
			s.store.discard(p.GroupName, p.ChannelName)
		}
		return true
	case protocol.Flush:
		s.store.flush()
		return true
	case protocol.Print:
		return s.store.print(s.printTo, s.cfg.PrintLimit) == nil
	}
	return false
}

// expire is the expiry goroutine: the reference mode's idle sweep of due memberships, or
// the compat mode's periodic walk of the whole store, both under the processing lock.
func (s *Server) expire() {
	defer s.wg.Done()
	every := s.cfg.ExpiryInterval
	rng := mrand.New(mrand.NewPCG(s.cfg.Faults.Seed, 3))
	period := func() time.Duration {
		if !s.compat {
			return every
		}
		return time.Duration(float64(every) * (1 + 0.1*(rng.Float64()-0.5)))
	}
	due := time.Now().Add(period())
	t := time.NewTimer(time.Until(due))
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		s.mu.Lock()
		if s.compat {
			s.walk()
		} else {
			s.store.expire(s.now().UnixNano())
		}
		s.mu.Unlock()
		// Like tornado, keep to the schedule and skip the periods a long walk overran.
		due = due.Add(period())
		for !due.After(time.Now()) {
			due = due.Add(period())
		}
		t.Reset(time.Until(due))
	}
}

// walk is 0.2.1's expiry: visit every group, then, holding the lock, sleep until the walk
// has taken at least WalkCost per group, so that a large store pauses the server as the
// real one does.
func (s *Server) walk() {
	start := time.Now()
	n := s.store.walk(s.now().UnixNano())
	if s.cfg.WalkCost <= 0 {
		return
	}
	if left := time.Duration(n)*s.cfg.WalkCost - time.Since(start); left > 0 {
		t := time.NewTimer(left)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.done:
		}
	}
}
