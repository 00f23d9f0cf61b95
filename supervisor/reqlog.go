package supervisor

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/supervise-go/supervise/ipc"
)

// requestLog is where request lines go when they have loggers of their
// own (uWSGI's req-logger, log-req-route, log-req-encoder). The workers
// start each request line with ipc.ReqLogMark; the sink strips it and
// sends the line here instead of to logto and the loggers.
type requestLog struct {
	unnamed []io.Writer // req-logger targets without a name
	routes  []LogRoute  // log-req-route
	json    bool        // log-req-encoder = json
}

// RequestLoggers opens req-logger's targets (as logger's) and reads
// log-req-route against them; a route may also name a logger's target,
// as uWSGI looks the name up among both.
func RequestLoggers(reqSpecs, routeSpecs []string, syslogSocket string, main *Loggers) (unnamed []io.Writer, routes []LogRoute, err error) {
	req, err := OpenLoggers(reqSpecs, syslogSocket)
	if err != nil {
		return nil, nil, fmt.Errorf("req-%w", err)
	}
	named := &Loggers{Named: map[string]io.Writer{}}
	if main != nil {
		for k, w := range main.Named {
			named.Named[k] = w
		}
	}
	for k, w := range req.Named {
		named.Named[k] = w
	}
	routes, err = named.routes("log-req-route", "req-logger", routeSpecs)
	return req.Unnamed, routes, err
}

// SetRequestLog sends marked request lines to the log-req-route a line
// matches, else to the unnamed req-logger targets, else (as uWSGI writes
// them when no request logger takes them) where the other lines go;
// json wraps each one that is not a JSON object already
// (log-req-encoder = json).
func (s *LogSink) SetRequestLog(unnamed []io.Writer, routes []LogRoute, json bool) {
	s.mu.Lock()
	s.req = &requestLog{unnamed: unnamed, routes: routes, json: json}
	s.mu.Unlock()
}

// requestLines writes the request lines of b (whole lines; those that
// start with the mark) to the request log and returns the others, with
// the lines no request logger took, marks stripped. The mark anywhere
// but at a line's start is an ordinary byte.
func (s *LogSink) requestLines(b []byte) []byte {
	mark := ipc.ReqLogMark[0]
	var rest []byte
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else {
			b = nil
		}
		if line[0] != mark {
			rest = append(rest, line...)
			continue
		}
		line = line[1:]
		if s.req == nil || !s.req.write(s, line, now) {
			rest = append(rest, line...)
		}
	}
	return rest
}

// write sends one request line to a route's logger or the unnamed
// request loggers; false when none takes it.
func (r *requestLog) write(s *LogSink, line []byte, now time.Time) bool {
	out := line
	if r.json {
		out = jsonLines(line, now)
	}
	taken := false
	for _, rt := range r.routes {
		if rt.Pattern.Match(line) { // the line as the worker wrote it, as uWSGI matches before encoding
			s.writeLogger(rt.W, out)
			taken = true
		}
	}
	if taken {
		return true
	}
	for _, w := range r.unnamed {
		s.writeLogger(w, out)
	}
	return len(r.unnamed) > 0
}

func (s *LogSink) writeLogger(w io.Writer, line []byte) {
	if _, err := w.Write(line); err != nil {
		s.fail.Do(func() { fmt.Fprintf(os.Stderr, "supervise: cannot write to a request logger (%v); continuing\n", err) })
	}
}
