package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/transport"
)

// brokerFlags are the reference broker's settings, shared by `serve` and by `run` with an
// embedded broker.
type brokerFlags struct {
	compat     string
	faults     broker.Faults
	maxNameLen int
	// The router's memory budget (transport.ListenOptions), flags of bytesize.go's type.
	maxRecv, maxRecvTotal, maxSend, maxSendTotal byteSize
}

func addBrokerFlags(fs *pflag.FlagSet) *brokerFlags {
	b := &brokerFlags{}
	fs.StringVar(&b.compat, "compat", "", "broker mode: reference (default) or dmb-0.2.1 (reproduce the real 0.2.1 server's replies and expiry walk)")
	fs.Var(faultFlag{&b.faults, ""}, "faults", "inject faults, e.g. 'pause=400ms/5s latency=2ms drop-requests=0.01 drop-replies=0.01 service=1ms stall seed=7'")
	fs.Var(faultFlag{&b.faults, "pause"}, "pause", "fault: stop all processing for P every T, written `P/T` (e.g. 400ms/5s)")
	fs.Var(faultFlag{&b.faults, "latency"}, "latency", "fault: delay every reply by `D` without occupying the server (like network delay)")
	fs.Var(faultFlag{&b.faults, "service"}, "service-time", "fault: occupy the single processing goroutine for `D` per request (caps throughput at 1/D)")
	fs.Var(faultFlag{&b.faults, "drop-requests"}, "drop-requests", "fault: discard fraction `F` of requests before processing")
	fs.Var(faultFlag{&b.faults, "drop-replies"}, "drop-replies", "fault: discard fraction `F` of replies after processing")
	fs.IntVar(&b.maxNameLen, "max-name-len", broker.DefaultMaxNameLen, "longest group or channel name in bytes (reference mode; EXCEPTON beyond)")
	b.maxRecv, b.maxRecvTotal = transport.DefaultMaxRecvRetained, transport.DefaultMaxRecvRetainedTotal
	b.maxSend, b.maxSendTotal = transport.DefaultMaxSendQueued, transport.DefaultMaxSendQueuedTotal
	fs.Var(&b.maxRecv, "max-recv-retained", "memory budget, per connection: received requests not yet processed; a connection at the cap is not read (TCP pushes back on that client) until they are (native transport)")
	fs.Var(&b.maxRecvTotal, "max-recv-retained-total", "memory budget: the same over all connections; a connection with nothing waiting is still read one request at a time, so no client starves (native transport)")
	fs.Var(&b.maxSend, "max-send-queued", "memory budget, per client: replies queued and not yet written to it; a reply beyond is dropped and counted (the client is not reading) (native transport)")
	fs.Var(&b.maxSendTotal, "max-send-queued-total", "memory budget: the same over all clients; half of it is shared out, so a client within its share (half the total / clients) is always served (native transport)")
	return b
}

// config returns the broker configuration for these flags.
func (b *brokerFlags) config(kind transport.Kind, addr string) (broker.Config, error) {
	mode, err := broker.ParseMode(b.compat)
	if err != nil {
		return broker.Config{}, usageError(err)
	}
	return broker.Config{Transport: kind, Addr: addr, Compat: mode, Faults: b.faults, MaxNameLen: b.maxNameLen,
		Listen: transport.ListenOptions{
			MaxRecvRetained: int64(b.maxRecv), MaxRecvRetainedTotal: int64(b.maxRecvTotal),
			MaxSendQueued: int64(b.maxSend), MaxSendQueuedTotal: int64(b.maxSendTotal),
		}}, nil
}

// changed reports whether any broker flag was given on the command line.
func brokerFlagsChanged(fs *pflag.FlagSet) []string {
	var set []string
	for _, n := range []string{"compat", "faults", "pause", "latency", "service-time", "drop-requests", "drop-replies", "max-name-len",
		"max-recv-retained", "max-recv-retained-total", "max-send-queued", "max-send-queued-total"} {
		if fs.Changed(n) {
			set = append(set, "--"+n)
		}
	}
	return set
}

// faultFlag adds one fault to a broker.Faults: key "" takes the full fault list syntax,
// any other key takes that fault's value.
type faultFlag struct {
	f   *broker.Faults
	key string
}

func (v faultFlag) String() string {
	if v.f == nil || v.key != "" {
		return ""
	}
	return v.f.String()
}

func (v faultFlag) Set(s string) error {
	if v.key != "" {
		s = v.key + "=" + s
	}
	return v.f.Set(s)
}

func (v faultFlag) Type() string { return "fault" }

// transportFlag parses --transport.
type transportFlag struct{ k *transport.Kind }

func (v transportFlag) String() string { return string(*v.k) }
func (v transportFlag) Set(s string) error {
	k, err := transport.ParseKind(s)
	if err != nil {
		return err
	}
	*v.k = k
	return nil
}
func (v transportFlag) Type() string { return "native|zmq4" }

func addTransportFlag(fs *pflag.FlagSet) *transport.Kind {
	k := transport.Native
	fs.Var(transportFlag{&k}, "transport", fmt.Sprintf("ZMTP implementation: %s (dmbench's own, default) or %s (go-zeromq/zmq4)", transport.Native, transport.ZMQ4))
	return &k
}
