package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dmbench/dmbench/version"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/promexport"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

func newServeCommand() *cobra.Command {
	var (
		port  int
		bind  string
		print bool
		bf    *brokerFlags
		kind  *transport.Kind
		maddr string
	)
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the reference DMB broker in the foreground",
		Long: "serve runs dmbench's reference broker until SIGINT or SIGTERM. Like DMB, it is addressed by its\n" +
			"base port: --port 5556 serves the signalling socket on 5557 (the data port is not served:\n" +
			"dmbench does not use it). Give clients the base address tcp://HOST:PORT.\n\n" +
			"Its memory is bounded whatever clients send: requests received and not yet processed, and\n" +
			"replies queued for clients, are capped per connection and in total (--max-recv-retained,\n" +
			"--max-send-queued and their -total). A client that does not read its replies has them\n" +
			"dropped beyond its cap; serve counts them (in PERFRPRT too) and says so when it stops.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return serve(c, port, bind, print, bf, *kind, maddr)
		},
	}
	fs := c.Flags()
	fs.IntVar(&port, "port", 5556, "DMB base port; the signalling socket listens on port+1")
	fs.StringVar(&bind, "bind", "127.0.0.1", "address to listen on (anyone who reaches it can FLUSHXXX the store)")
	fs.BoolVar(&print, "print", false, "write the store to standard output on PRINTXXX")
	fs.StringVar(&maddr, "metrics-addr", "", "serve the broker's counters as Prometheus metrics at `host:port`/metrics (e.g. 127.0.0.1:9465); off when empty")
	bf = addBrokerFlags(fs)
	kind = addTransportFlag(fs)
	return c
}

func serve(c *cobra.Command, port int, bind string, print bool, bf *brokerFlags, kind transport.Kind, metricsAddr string) error {
	if port < 1 || port > 65534 {
		return usageError(fmt.Errorf("--port %d: want a base port in 1..65534 (signalling is port+1)", port))
	}
	ip := net.ParseIP(bind)
	if ip == nil {
		return usageError(fmt.Errorf("--bind %q is not an IP address", bind))
	}
	base := "tcp://" + net.JoinHostPort(bind, strconv.Itoa(port))
	sig, err := broker.SignallingAddr(base)
	if err != nil {
		return usageError(err)
	}
	cfg, err := bf.config(kind, sig)
	if err != nil {
		return err
	}
	if print {
		cfg.PrintTo = c.OutOrStdout()
	}
	cfg.Listen.OnAcceptError = (&acceptErrorLog{w: c.ErrOrStderr(), every: acceptLogEvery, now: time.Now}).note
	srv, err := broker.Start(cfg)
	if err != nil {
		return err
	}
	out := c.OutOrStdout()
	if metricsAddr != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(promexport.NewBrokerCollector(srv.Report))
		ms, err := promexport.Serve(metricsAddr, reg)
		if err != nil {
			_ = srv.Close()
			return usageError(fmt.Errorf("--metrics-addr: %w", err))
		}
		defer ms.Close()
		fmt.Fprintf(out, "metrics            http://%s/metrics\n", ms.Addr())
	}
	if !ip.IsLoopback() {
		fmt.Fprintf(c.ErrOrStderr(), "dmbench serve: WARNING: listening on %s, not loopback: anyone who can reach it can FLUSHXXX the store\n", bind)
	}
	fmt.Fprintf(out, "dmbench reference broker %s (mode %s, transport %s, faults %s)\n", version.Read(), srv.Mode(), cfg.Transport, cfg.Faults)
	if ip.IsUnspecified() {
		// 0.0.0.0 and :: are addresses to listen on, not to connect to.
		ps := strconv.Itoa(port)
		fmt.Fprintf(out, "base address       tcp://%s   (give this to clients on this machine, as Django's settings do)\n", net.JoinHostPort(connectAddr(ip), ps))
		others := "                   other machines use this host's address: tcp://HOST:" + ps
		var eg []string
		for _, a := range hostAddrs(ip.To4() != nil, 3) {
			eg = append(eg, "tcp://"+net.JoinHostPort(a, ps))
		}
		if len(eg) > 0 {
			others += ", e.g. " + strings.Join(eg, " or ")
		}
		fmt.Fprintln(out, others)
		listening := srv.Addr()
		if ip.To4() != nil {
			listening += ", IPv4 only"
		}
		fmt.Fprintf(out, "signalling address tcp://%s   (listening on %s)\n", net.JoinHostPort(connectAddr(ip), strconv.Itoa(port+1)), listening)
	} else {
		fmt.Fprintf(out, "base address       %s   (give this to clients, as Django's settings do)\n", base)
		fmt.Fprintf(out, "signalling address %s   (listening)\n", srv.Addr())
	}
	fmt.Fprintf(out, "data port          %d   (not served: dmbench does not use it)\n", port)
	if cfg.Transport == transport.Native {
		fmt.Fprintf(out, "memory budget      received %s per connection, %s in all; replies queued %s per client, %s in all\n",
			&bf.maxRecv, &bf.maxRecvTotal, &bf.maxSend, &bf.maxSendTotal)
	}
	fmt.Fprintln(out, "stop with Ctrl-C or SIGTERM")

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(stop)
	var why string
	select {
	case s := <-stop:
		why = "on " + s.String()
	case <-c.Context().Done(): // a program (or test) running the command ended it
		why = "(" + context.Cause(c.Context()).Error() + ")"
	}
	rep := srv.Report()
	if err := srv.Close(); err != nil {
		return fmt.Errorf("closing the broker: %w", err)
	}
	fmt.Fprintf(out, "stopped %s after %.1fs: %d peers, %d groups, %d memberships\n", why, rep.UptimeSeconds, rep.Peers, rep.Groups, rep.Memberships)
	// Closed, the broker counts no more: its final report and the router's counters agree.
	for _, l := range dropLines(srv.Report().Dropped, srv.RouterStats(), cfg.Transport == transport.Native, bf) {
		fmt.Fprintln(out, l)
	}
	return nil
}

// dropLines says what the broker dropped and why, and how close it came to its memory
// budget: the lines serve prints when it stops.
func dropLines(d protocol.Dropped, rs transport.RouterStats, native bool, bf *brokerFlags) []string {
	var items []string
	if d.QueueFull > 0 {
		items = append(items, fmt.Sprintf("%d replies (%s) for full send queues: their clients were not reading them (caps --max-send-queued %s per client, --max-send-queued-total %s)",
			d.QueueFull, humanBytes(int64(rs.SendDroppedBytes)), &bf.maxSend, &bf.maxSendTotal))
	}
	if rs.PongsDropped > 0 {
		items = append(items, fmt.Sprintf("%d PONGs (answers to ZMTP PINGs) for full send queues", rs.PongsDropped))
	}
	if d.Requests+d.Replies > 0 {
		items = append(items, fmt.Sprintf("%d requests and %d replies on purpose (the --drop-requests and --drop-replies faults)", d.Requests, d.Replies))
	}
	if len(items) == 0 {
		items = append(items, "nothing")
	}
	var lines []string
	for i, it := range items {
		label := "                   "
		if i == 0 {
			label = "dropped            "
		}
		lines = append(lines, label+it)
	}
	if native {
		paused := "never paused reading"
		if rs.RecvPauses > 0 {
			paused = fmt.Sprintf("paused reading a connection %d times at the caps", rs.RecvPauses)
		}
		lines = append(lines, fmt.Sprintf("memory budget      peaks: %s received and not yet processed (%s), %s of replies queued",
			humanBytes(rs.PeakRetainedRecvBytes), paused, humanBytes(rs.PeakQueuedSendBytes)))
	}
	return lines
}

// humanBytes writes n bytes in the largest binary unit below it, with one decimal.
func humanBytes(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size {
			return fmt.Sprintf("%.1f %s", float64(n)/float64(u.size), u.name)
		}
	}
	return fmt.Sprintf("%d B", n)
}

// acceptLogEvery is the least time between two lines about failing accepts.
const acceptLogEvery = 10 * time.Second

// acceptErrorLog tells the operator, at most once per every, that the broker cannot accept
// connections, why, and what to do; the router retries on its own meanwhile. Its note is
// the router's ListenOptions.OnAcceptError.
type acceptErrorLog struct {
	w     io.Writer
	every time.Duration
	now   func() time.Time

	mu     sync.Mutex
	last   time.Time // when the last line was written
	failed int       // failures since then, the one that writes included
}

// note counts a failed accept and writes a line about it unless one was written less
// than every ago.
func (l *acceptErrorLog) note(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failed++
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		return
	}
	l.last = now
	fmt.Fprintln(l.w, acceptErrorLine(err, l.failed, l.every))
	l.failed = 0
}

// acceptErrorLine explains a failed accept; failed is how many failed since the last line.
func acceptErrorLine(err error, failed int, every time.Duration) string {
	count := fmt.Sprintf("%d failed since the last message; at most one message per %v", failed, every)
	switch {
	case errors.Is(err, syscall.EMFILE):
		limit := "the process's limit is reached"
		if n, ok := fdLimit(); ok {
			limit = fmt.Sprintf("the process's limit is %d", n)
		}
		return fmt.Sprintf("dmbench serve: cannot accept connections: out of file descriptors (%s, and each connection takes one; %v): "+
			"raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit) or connect fewer clients. Retrying (%s)", limit, err, count)
	case errors.Is(err, syscall.ENFILE):
		return fmt.Sprintf("dmbench serve: cannot accept connections: the system's file table is full (%v); "+
			"raise fs.file-max or close files elsewhere, or connect fewer clients. Retrying (%s)", err, count)
	}
	return fmt.Sprintf("dmbench serve: accepting a connection failed: %v. Retrying (%s)", err, count)
}

// connectAddr is the address this machine's clients connect to for a server listening
// on the unspecified address ip: the loopback address of ip's family.
func connectAddr(ip net.IP) string {
	if ip.To4() != nil {
		return "127.0.0.1"
	}
	return "::1"
}

// hostAddrs returns up to limit of this host's global unicast addresses, IPv4 ones when
// ipv4 is set, else IPv6 ones: where other machines may reach a server listening on the
// unspecified address. It returns none when the interfaces cannot be listed.
func hostAddrs(ipv4 bool, limit int) []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || !n.IP.IsGlobalUnicast() || (n.IP.To4() != nil) != ipv4 {
			continue
		}
		if out = append(out, n.IP.String()); len(out) == limit {
			break
		}
	}
	return out
}
