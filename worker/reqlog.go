package worker

import (
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/logformat"
	"github.com/supervise-go/supervise/uwsgi"
)

// reqLog writes the request lines: the fixed key=value line, or
// log-format's line (logformat, the same language the Python worker and
// the front end print), with disable-logging's exceptions and
// log-x-forwarded-for, plain or JSON as the master asks.
type reqLog struct {
	log    *logger
	all    bool              // every request (no disable-logging)
	only   *logformat.Only   // with disable-logging: the ones still logged
	format *logformat.Format // nil: the fixed line
	xff    bool              // %(addr) and remote= show X-Forwarded-For
	bufs   [][]byte          // per core, reused
	pid    int
	vars   bool   // the format prints %(vars) or %(pktsize)
	mark   string // ipc.ReqLogMark when the master routes request lines apart (req-logger)
}

func newReqLog(l *logger, cores int) *reqLog {
	q := &reqLog{log: l, all: os.Getenv(ipc.EnvDisableLogging) != "1", xff: os.Getenv(ipc.EnvLogXFF) == "1",
		bufs: make([][]byte, cores), pid: os.Getpid()}
	if !q.all {
		q.only = logformat.ParseOnly(os.Getenv(ipc.EnvLogOnly))
	}
	if os.Getenv(ipc.EnvReqLog) == "1" {
		// Request lines start with the mark; the master strips it.
		q.mark = ipc.ReqLogMark
		q.log = &logger{name: l.name, json: l.json, now: l.now, w: l.w, mark: q.mark}
	}
	if f := os.Getenv(ipc.EnvLogFormat); f != "" {
		q.format = logformat.Compile(f, os.Getenv(ipc.EnvLogStrftime), q.pid, ID())
		q.vars = q.format.Uses("vars") || q.format.Uses("pktsize")
	}
	return q
}

// reqDone is what the serving side knows of a finished request.
type reqDone struct {
	core        int
	r           *http.Request
	p           *uwsgi.Packet // nil over http-socket
	status      int
	written     int64 // body bytes
	hsize       int64 // head bytes (over http-socket: as the handler's headers add up)
	headers     int   // header lines the handler set
	start       time.Time
	took        time.Duration
	readFailed  bool // the body ended early or its read failed
	writeFailed bool
}

func (q *reqLog) request(d *reqDone) {
	if !q.all && !q.only.Match(d.status, d.written, d.took) && !q.only.MatchErrors(d.readFailed, d.writeFailed) {
		return
	}
	r := d.r
	if q.format == nil {
		remote := r.RemoteAddr
		if q.xff {
			if v := r.Header.Get("X-Forwarded-For"); v != "" {
				remote = v
			}
		}
		q.log.Info("request", "method", r.Method, "path", r.RequestURI, "status", d.status, "bytes", d.written,
			"duration", fmt.Sprintf("%.2fms", float64(d.took.Microseconds())/1000), "pid", q.pid, "remote", remote)
		return
	}
	lr := logformat.Request{Method: r.Method, URI: r.RequestURI, Proto: r.Proto, Host: r.Host,
		UserAgent: r.Header.Get("User-Agent"), Referer: r.Header.Get("Referer"), Status: d.status,
		BodySize: d.written, HeaderSize: d.hsize, ContentLength: max(r.ContentLength, 0), Headers: d.headers,
		Core: d.core, Start: d.start, Duration: d.took}
	if d.writeFailed {
		lr.WriteErrors = 1
	}
	if d.readFailed {
		lr.ReadErrors = 1
	}
	if d.p != nil {
		env := (*packetEnv)(d.p)
		lr.Env = env
		lr.Addr, lr.User = env.Get("REMOTE_ADDR"), env.Get("REMOTE_USER")
		if q.vars {
			lr.Vars, lr.PktSize = 2*len(d.p.Vars), len(d.p.Block)
		}
	} else {
		lr.Env = (*httpEnv)(r)
		lr.Addr, _, _ = net.SplitHostPort(r.RemoteAddr)
		if q.vars {
			lr.Vars, lr.PktSize = httpVars(r)
		}
	}
	if q.xff {
		if v := r.Header.Get("X-Forwarded-For"); v != "" {
			lr.Addr = v
		}
	}
	b := q.format.Append(append(q.bufs[d.core][:0], q.mark...), &lr)
	q.bufs[d.core] = b
	if q.log.json {
		q.log.Info(string(b[len(q.mark) : len(b)-1]))
		return
	}
	q.log.raw(b)
}

// packetEnv is %(var.NAME) over uwsgi: the packet's vars.
type packetEnv uwsgi.Packet

func (p *packetEnv) Get(k string) string {
	v, _ := (*uwsgi.Packet)(p).Get(k)
	return v
}

// httpEnv is %(var.NAME) over http-socket: the names uWSGI's http parser
// gives the request.
type httpEnv http.Request

func (e *httpEnv) Get(k string) string {
	r := (*http.Request)(e)
	switch k {
	case "REQUEST_METHOD":
		return r.Method
	case "REQUEST_URI":
		return r.RequestURI
	case "PATH_INFO":
		return r.URL.Path
	case "QUERY_STRING":
		return r.URL.RawQuery
	case "SERVER_PROTOCOL":
		return r.Proto
	case "REMOTE_ADDR", "REMOTE_PORT":
		host, port, _ := net.SplitHostPort(r.RemoteAddr)
		if k == "REMOTE_PORT" {
			return port
		}
		return host
	case "CONTENT_TYPE":
		return r.Header.Get("Content-Type")
	case "CONTENT_LENGTH":
		return r.Header.Get("Content-Length")
	case "HTTP_HOST":
		return r.Host
	}
	if name, ok := strings.CutPrefix(k, "HTTP_"); ok {
		return strings.Join(r.Header.Values(textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(name, "_", "-"))), ", ")
	}
	return ""
}

// httpVars is uWSGI's count of an http-socket request's variables (2 a
// variable, as its var_cnt counts them) and their uwsgi-encoded size:
// the request line's five, SERVER_NAME, SERVER_PORT, REMOTE_ADDR,
// REMOTE_PORT, and one per header.
func httpVars(r *http.Request) (vars, size int) {
	host, port, _ := net.SplitHostPort(r.RemoteAddr)
	_, sport, _ := net.SplitHostPort(r.Host)
	if sport == "" {
		sport = "80"
	}
	hostname, _ := os.Hostname()
	n := 0
	add := func(k, v string) { n++; size += 4 + len(k) + len(v) }
	add("REQUEST_METHOD", r.Method)
	add("REQUEST_URI", r.RequestURI)
	add("PATH_INFO", r.URL.Path)
	add("QUERY_STRING", r.URL.RawQuery)
	add("SERVER_PROTOCOL", r.Proto)
	add("SERVER_NAME", hostname)
	add("SERVER_PORT", sport)
	add("REMOTE_ADDR", host)
	add("REMOTE_PORT", port)
	if r.Host != "" {
		add("HTTP_HOST", r.Host)
	}
	for k, vv := range r.Header {
		name := "HTTP_" + strings.ToUpper(strings.ReplaceAll(k, "-", "_"))
		if k == "Content-Type" || k == "Content-Length" {
			name = name[5:]
		}
		for _, v := range vv {
			add(name, v)
		}
	}
	return 2 * n, size
}

// headSize is the bytes of the head net/http sends for the handler's
// status and headers (the ones net/http adds itself are not counted).
func headSize(proto string, status int, h http.Header) (size int64, lines int) {
	size = int64(len(proto) + 1 + 3 + 1 + len(http.StatusText(status)) + 2 + 2)
	for k, vv := range h {
		for _, v := range vv {
			size += int64(len(k) + 2 + len(v) + 2)
			lines++
		}
	}
	return size, lines
}
