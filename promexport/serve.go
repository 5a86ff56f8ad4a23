package promexport

import (
	"context"
	"errors"
	"net"
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// RuntimeMetricNames are the process's own metric families served beside every registry
// (besides the process collector's process_*): the live heap after the last GC, the
// figure a soak watches for a leak.
var RuntimeMetricNames = []string{"go_gc_heap_live_bytes", "go_goroutines"}

// runtimeRegistry holds the process's own figures: the Go runtime's live heap after the
// last GC (go_gc_heap_live_bytes) and goroutines, and the process's CPU, memory and
// file descriptors (process_*).
func runtimeRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(
			collectors.WithGoCollectorMemStatsMetricsDisabled(),
			collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)}),
		),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Server serves a registry's metrics over HTTP at /metrics (and at /).
type Server struct {
	l    net.Listener
	srv  *http.Server
	done chan struct{}
}

// Serve listens on addr (host:port; port 0 picks a free one) and serves g's metrics
// until Close, with the process's own figures beside them (runtimeRegistry). Native histograms are served to scrapers that ask for protobuf.
func Serve(addr string, g prometheus.Gatherer) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	h := promhttp.HandlerFor(prometheus.Gatherers{g, runtimeRegistry()}, promhttp.HandlerOpts{EnableOpenMetrics: true})
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	mux.Handle("/{$}", h)
	s := &Server{l: l, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener failed; scrapes stop, the run goes on
		}
	}()
	return s, nil
}

// Addr returns the address it listens on, host:port.
func (s *Server) Addr() string { return s.l.Addr().String() }

// Close stops serving, letting scrapes in progress finish for up to a second.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	<-s.done
	return err
}
