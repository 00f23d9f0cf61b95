package frontend

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/supervise-go/supervise/logformat"
	"github.com/supervise-go/supervise/uwsgi"
)

// AccessLog is how request lines are written: the fixed key=value line
// or a log-format line, with disable-logging's exceptions and
// log-x-forwarded-for, as the workers write theirs.
type AccessLog struct {
	Format *logformat.Format // nil: the fixed line
	Only   *logformat.Only   // with DisableLogging: the requests still logged
	XFF    bool              // the client is X-Forwarded-For's value when there is one
	JSON   bool              // a format line goes out as the message of a JSON line
	Out    func([]byte)      // where a plain format line goes (one whole line)

	needVars bool // the format prints the forwarded vars (New sets it)
}

// logRequest writes the access log line (unless disable-logging); h is
// the answer's header as sent (nil for none).
func (s *Server) logRequest(r *http.Request, c *connInfo, status int, n int64, start time.Time, h http.Header) {
	if !s.logs(status, n, start) {
		return
	}
	remote := c.RemoteAddr
	if s.cfg.AccessLog.XFF {
		if v := r.Header.Get("X-Forwarded-For"); v != "" {
			remote = v
		}
	}
	if s.cfg.AccessLog.Format == nil {
		s.logLine(r.Method, r.RequestURI, r.Proto, status, n, start, remote)
		return
	}
	lr := logformat.Request{Method: r.Method, URI: r.RequestURI, Proto: r.Proto, Addr: remote, Host: r.Host,
		UserAgent: r.Header.Get("User-Agent"), Referer: r.Header.Get("Referer"), Status: status, BodySize: n,
		ContentLength: max(r.ContentLength, 0)}
	lr.HeaderSize, lr.Headers = headSize(r.Proto, status, h)
	s.formatLine(&lr, start, func() []uwsgi.Var { return appendVars(nil, r, c, r.ContentLength, s.cfg.DocumentRoot) })
}

// logs reports whether a request is logged: always, unless
// disable-logging, which log-4xx and the others make exceptions to.
func (s *Server) logs(status int, n int64, start time.Time) bool {
	if !s.cfg.DisableLogging {
		return true
	}
	var took time.Duration
	if !start.IsZero() {
		took = time.Since(start)
	}
	return s.cfg.AccessLog.Only.Match(status, n, took)
}

// formatLine writes lr's log-format line; vars are the uwsgi vars the
// request is (or would be) forwarded with, for %(var.NAME), %(vars) and
// %(pktsize), made only when the format prints them.
func (s *Server) formatLine(lr *logformat.Request, start time.Time, vars func() []uwsgi.Var) {
	al := &s.cfg.AccessLog
	if !start.IsZero() {
		lr.Start, lr.Duration = start, time.Since(start)
	} else {
		lr.Start = time.Now()
	}
	if al.needVars {
		v := varsEnv(vars())
		lr.Env, lr.Vars, lr.PktSize = v, 2*len(v), uwsgi.BlockSize(v)
	}
	b := al.Format.Append(nil, lr)
	if al.JSON {
		s.log.Info(string(b[:len(b)-1]))
		return
	}
	al.Out(b)
}

type varsEnv []uwsgi.Var

func (v varsEnv) Get(k string) string {
	for i := range v {
		if v[i].Key == k {
			return v[i].Value
		}
	}
	return ""
}

// headSize is the bytes of an answer head with these headers, and their
// count.
func headSize(proto string, status int, h http.Header) (size int64, lines int) {
	size = int64(len(proto) + 5 + len(http.StatusText(status)) + 4)
	for k, vv := range h {
		for _, v := range vv {
			size += int64(len(k) + len(v) + 4)
			lines++
		}
	}
	return size, lines
}

// rawHead is the size and header count of the head at the start of b.
func rawHead(b []byte) (size int64, lines int) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return int64(len(b)), 0
	}
	return int64(end + 4), bytes.Count(b[:end], []byte("\r\n"))
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
