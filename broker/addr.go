package broker

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DMB addresses a server by its base address, the one Django's settings hold (for example
// tcp://127.0.0.1:5556): the data socket listens on the base port and the signalling socket
// on the base port + 1. dmbench talks to the signalling socket only.

// SignallingAddr returns the signalling address of the DMB server whose base address is
// base: the same host with the port plus one ("tcp://127.0.0.1:5556" gives
// "tcp://127.0.0.1:5557"). Base port 0 is refused: it is no server's port (a listener
// given port 0 gets one chosen by the kernel), so its port + 1 is a guess.
func SignallingAddr(base string) (string, error) {
	return shiftPort(base, +1, "base")
}

// BaseAddr returns the base address of the DMB server whose signalling address is
// signalling: the same host with the port minus one. It is SignallingAddr's inverse.
func BaseAddr(signalling string) (string, error) {
	return shiftPort(signalling, -1, "signalling")
}

// CheckSignallingAddr checks addr, the signalling address of a server to connect to
// (what run --signalling gives): "tcp://host:port" with a port in 1..65535.
func CheckSignallingAddr(addr string) error {
	_, _, err := serverEndpoint(addr, "signalling")
	return err
}

// shiftPort parses a "tcp://host:port" endpoint and returns it with the port moved by d.
func shiftPort(addr string, d int, what string) (string, error) {
	host, port, err := serverEndpoint(addr, what)
	if err != nil {
		return "", err
	}
	p := port + d
	if p < 1 || p > 65535 {
		return "", fmt.Errorf("%s address %q: port %d has no %s port (want a base port of 1..65534)",
			what, addr, port, map[bool]string{true: "signalling", false: "base"}[d > 0])
	}
	return "tcp://" + net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// serverEndpoint parses addr, the what ("base" or "signalling") address of a server, as
// "tcp://host:port" with a port a server can listen on: 1..65535.
func serverEndpoint(addr, what string) (host string, port int, err error) {
	host, port, err = splitEndpoint(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%s address %q: %w", what, addr, err)
	}
	if port == 0 {
		hint := "the port the broker listens on (DMB's default base is 5556)"
		if what == "signalling" {
			hint = "the port the broker's signalling socket listens on (DMB's default is 5557, the base 5556 + 1)"
		}
		return "", 0, fmt.Errorf("%s address %q: port 0 is not a server's port: give %s", what, addr, hint)
	}
	return host, port, nil
}

// splitEndpoint parses "tcp://host:port" with a numeric port in 0..65535. IPv6 hosts are
// bracketed.
func splitEndpoint(addr string) (host string, port int, err error) {
	rest, ok := strings.CutPrefix(addr, "tcp://")
	if !ok {
		return "", 0, fmt.Errorf(`want "tcp://host:port"`)
	}
	host, ps, err := net.SplitHostPort(rest)
	if err != nil {
		return "", 0, fmt.Errorf(`want "tcp://host:port": %w`, err)
	}
	port, err = strconv.Atoi(ps)
	switch {
	case err != nil:
		return "", 0, fmt.Errorf("port %q is not a number in 1..65535", ps)
	case port < 0 || port > 65535:
		return "", 0, fmt.Errorf("port %s is out of range: give a port in 1..65535", ps)
	}
	return host, port, nil
}
