package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/transport"
)

func newServeCommand() *cobra.Command {
	var (
		port  int
		bind  string
		print bool
		bf    *brokerFlags
		kind  *transport.Kind
	)
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the reference DMB broker in the foreground",
		Long: "serve runs dmbench's reference broker until SIGINT or SIGTERM. Like DMB, it is addressed by its\n" +
			"base port: --port 5556 serves the signalling socket on 5557 (the data port is not served:\n" +
			"dmbench does not use it). Give clients the base address tcp://HOST:PORT.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return serve(c, port, bind, print, bf, *kind)
		},
	}
	fs := c.Flags()
	fs.IntVar(&port, "port", 5556, "DMB base port; the signalling socket listens on port+1")
	fs.StringVar(&bind, "bind", "127.0.0.1", "address to listen on (anyone who reaches it can FLUSHXXX the store)")
	fs.BoolVar(&print, "print", false, "write the store to standard output on PRINTXXX")
	bf = addBrokerFlags(fs)
	kind = addTransportFlag(fs)
	return c
}

func serve(c *cobra.Command, port int, bind string, print bool, bf *brokerFlags, kind transport.Kind) error {
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
	broker.Version = version()
	srv, err := broker.Start(cfg)
	if err != nil {
		return err
	}
	out := c.OutOrStdout()
	if !ip.IsLoopback() {
		fmt.Fprintf(c.ErrOrStderr(), "dmbench serve: WARNING: listening on %s, not loopback: anyone who can reach it can FLUSHXXX the store\n", bind)
	}
	fmt.Fprintf(out, "dmbench reference broker %s (mode %s, transport %s, faults %s)\n", broker.Version, srv.Mode(), cfg.Transport, cfg.Faults)
	fmt.Fprintf(out, "base address       %s   (give this to clients, as Django's settings do)\n", base)
	fmt.Fprintf(out, "signalling address %s   (listening)\n", srv.Addr())
	fmt.Fprintf(out, "data port          %d   (not served: dmbench does not use it)\n", port)
	fmt.Fprintln(out, "stop with Ctrl-C or SIGTERM")

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(stop)
	s := <-stop
	rep := srv.Report()
	if err := srv.Close(); err != nil {
		return fmt.Errorf("closing the broker: %w", err)
	}
	fmt.Fprintf(out, "stopped on %v after %.1fs: %d peers, %d groups, %d memberships\n", s, rep.UptimeSeconds, rep.Peers, rep.Groups, rep.Memberships)
	return nil
}
