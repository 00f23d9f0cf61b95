package stats

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Readiness is the master's verdict for /readyz, with the reason shown in
// the probe's body (and in `kubectl describe pod` when it fails).
type Readiness struct {
	Ready  bool
	Reason string
}

// Health answers the probes. Both functions go through the master's loop,
// with a timeout: a wedged loop fails them.
type Health struct {
	Live  func() error     // nil when the loop answered
	Ready func() Readiness // every active slot has a ready worker with its app, no shutdown begun
}

// Health paths, as Kubernetes' own components name them.
const (
	PathLive  = "/healthz"
	PathReady = "/readyz"
)

// serveHealth writes the answer for a health path and reports whether
// path was one.
func (h *Health) serve(conn net.Conn, path string) bool {
	switch path {
	case PathLive:
		if err := h.Live(); err != nil {
			writeText(conn, "503 Service Unavailable", err.Error())
			return true
		}
		writeText(conn, "200 OK", "ok")
	case PathReady:
		r := h.Ready()
		if !r.Ready {
			writeText(conn, "503 Service Unavailable", "not ready: "+r.Reason)
			return true
		}
		writeText(conn, "200 OK", "ready: "+r.Reason)
	default:
		return false
	}
	return true
}

func writeText(conn net.Conn, status, text string) {
	text += "\n"
	fmt.Fprintf(conn, "HTTP/1.0 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nCache-Control: no-store\r\n\r\n%s",
		status, len(text), text)
}

// ListenHealth binds the health option's address: host:port (":8081" is
// every interface: the kubelet probes the pod's IP) or a unix path. The
// probes show no request data, so there is no loopback warning.
func ListenHealth(addr string) (net.Listener, error) {
	if strings.HasPrefix(addr, "@") || strings.Contains(addr, "/") {
		return listenUnix("health", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health %s: %w (pick a free port for the health option)", addr, err)
	}
	return l, nil
}

// isLoopback reports whether a listener's address is loopback only.
func isLoopback(l net.Listener) bool {
	ap, err := netip.ParseAddrPort(l.Addr().String())
	return err != nil || ap.Addr().IsLoopback()
}
