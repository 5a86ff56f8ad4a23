package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/dmbench/dmbench/version"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/promexport"
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
			"dmbench does not use it). Give clients the base address tcp://HOST:PORT.",
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
	return nil
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
