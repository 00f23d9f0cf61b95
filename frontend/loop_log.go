package frontend

import (
	"strings"
	"time"

	"github.com/supervise-go/supervise/logformat"
	"github.com/supervise-go/supervise/uwsgi"
)

// logFormatted writes the loop's request line for c: the fixed line, or
// the log-format line (AccessLog), from the raw request.
func (c *clientConn) logFormatted(start time.Time) {
	s, r := c.l.s, &c.req
	remote := c.info.RemoteAddr
	if s.cfg.AccessLog.XFF {
		if v := r.field("X-Forwarded-For"); v != "" {
			remote = v
		}
	}
	if s.cfg.AccessLog.Format == nil {
		s.logLine(r.Method, r.Target, r.Proto, c.status, c.sent, start, remote)
		return
	}
	lr := logformat.Request{Method: r.Method, URI: r.Target, Proto: r.Proto, Addr: remote, Host: r.Host,
		UserAgent: r.field("User-Agent"), Referer: r.field("Referer"), Status: c.status, BodySize: c.sent,
		ContentLength: max(r.ContentLength, 0)}
	if c.status != 499 { // a client that left while queued got no answer (c.hdr is an earlier one's)
		lr.HeaderSize, lr.Headers = rawHead(c.hdr)
	}
	s.formatLine(&lr, start, func() []uwsgi.Var {
		return appendRawVars(nil, r, &c.info, r.ContentLength, s.cfg.DocumentRoot)
	})
}

// field is the first value of a header, "" when absent.
func (r *rawRequest) field(name string) string {
	for _, f := range r.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}
