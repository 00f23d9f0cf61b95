package frontend

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// logRequest writes the access log line (unless disable-logging).
func (s *Server) logRequest(r *http.Request, c *connInfo, status int, n int64, start time.Time) {
	if !s.cfg.DisableLogging {
		s.logLine(r.Method, r.RequestURI, r.Proto, status, n, start, c.RemoteAddr)
	}
}

// logLine is one access log line; start zero: no duration (a cut answer).
func (s *Server) logLine(method, uri, proto string, status int, n int64, start time.Time, remote string) {
	took := ""
	if !start.IsZero() {
		took = strconv.FormatFloat(float64(time.Since(start).Microseconds())/1000, 'f', 2, 64) + "ms"
	}
	s.log.Info("request", "method", method, "uri", uri, "proto", proto, "status", status,
		"bytes", n, "duration", took, "remote", remote)
}

// warn logs a failure at most once a second per kind, with the count of
// the ones it left out, so a dead backend under load is a line a second,
// not one per request.
func (s *Server) warn(kind, msg string, args ...any) {
	s.warnMu.Lock()
	st := s.byKind[kind]
	if st == nil {
		st = &warnState{}
		s.byKind[kind] = st
	}
	now := time.Now()
	if now.Sub(st.last) < time.Second {
		st.suppressed++
		s.warnMu.Unlock()
		return
	}
	if st.suppressed > 0 {
		args = append(args, "suppressed", st.suppressed)
	}
	st.last, st.suppressed = now, 0
	s.warnMu.Unlock()
	s.log.Warn(msg, args...)
}

type warnState struct {
	last       time.Time
	suppressed int
}

type warnings struct {
	warnMu sync.Mutex
	byKind map[string]*warnState
}

// noBackend logs why a request got 502 without reaching a worker.
func (s *Server) noBackend(uri string, err error) {
	if errors.Is(err, errAllBusy) {
		s.warn("backlog", "no backend reachable: the workers' listen queue stayed full for connect-timeout; 502 (more workers, or a larger listen =)",
			"uri", uri, "connect-timeout", s.cfg.ConnectTimeout)
		return
	}
	s.warn("backend", "no backend reachable; 502", "uri", uri, "error", err)
}
