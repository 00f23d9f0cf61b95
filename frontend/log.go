package frontend

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// logRequest writes the access log line (unless disable-logging).
func (s *Server) logRequest(r *http.Request, c *Conn, status int, n int64, start time.Time) {
	if s.cfg.DisableLogging {
		return
	}
	took := ""
	if !start.IsZero() {
		took = strconv.FormatFloat(float64(time.Since(start).Microseconds())/1000, 'f', 2, 64) + "ms"
	}
	s.log.Info("request", "method", r.Method, "uri", r.RequestURI, "proto", r.Proto, "status", status,
		"bytes", n, "duration", took, "remote", c.RemoteAddr)
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
