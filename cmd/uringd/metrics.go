package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/uringd/uringd/netio"
)

// metrics serves --metrics: the Prometheus text exposition of the server's counts (netio's
// collector), Go's runtime and the process, at /metrics on a listener of its own. It runs on
// net/http, not on the loops: a scrape is rare, and it must answer while the loops are busy.
type metrics struct {
	ln  net.Listener
	hs  *http.Server
	url string
}

// listenMetrics binds --metrics ADDR (HOST:PORT or unix:PATH), before privileges drop, and
// builds what it serves; serve starts it.
func listenMetrics(addr string, srv *netio.Server, alog *accessLog) (*metrics, error) {
	network, a := "tcp", addr
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, a = "unix", p
	}
	if strings.TrimSpace(a) == "" {
		return nil, errors.New(`--metrics: give HOST:PORT or unix:PATH`)
	}
	ln, err := net.Listen(network, a)
	if err != nil {
		return nil, fmt.Errorf("--metrics %s: %w", addr, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		netio.NewCollector(srv, netio.CollectorOptions{AccessLog: alog.lost}),
	)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m := &metrics{ln: ln, hs: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	if network == "unix" {
		m.url = "unix:" + a
	} else {
		m.url = "http://" + ln.Addr().String() + "/metrics"
	}
	return m, nil
}

// serve answers scrapes until close.
func (m *metrics) serve() { go m.hs.Serve(m.ln) }

// close stops the listener (a unix socket file is removed) and open scrapes.
func (m *metrics) close() {
	if m != nil {
		m.hs.Close()
	}
}
