package broker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
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

// ServerName is the server name in the broker's reports.
const ServerName = "dmbench-broker"

// Defaults of Config.
const (
	DefaultAddr       = "tcp://127.0.0.1:0" // loopback, port chosen by the kernel
	DefaultMaxNameLen = 64 << 10            // bytes, for group and channel names
	DefaultPrintLimit = 64 << 10            // bytes of group lines per PRINTXXX
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
	// Listen are the router's options, its memory budget among them (the caps on bytes
	// received and not yet processed, and on replies queued for each peer and for all).
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

	// mu is the processing lock (see Processing in the package documentation). It
	// guards store and stats.
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
		s.delay = newDelayQueue(s.send, s.done)
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

// RouterStats returns the router's counters: connections, and the memory budget's gauges
// and drops (transport.ListenOptions describes the budget). Report.Dropped.QueueFull
// counts the same replies as RouterStats.SendDropped, as the broker saw them.
func (s *Server) RouterStats() transport.RouterStats { return s.router.Stats() }

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
			if s.closed() {
				return
			}
			continue
		}
		s.take(frames, more)
	}
}

// closed reports whether Close has been called.
func (s *Server) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
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
