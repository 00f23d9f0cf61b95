package supervisor

import (
	"bytes"
	"fmt"
	"io"
	"log/syslog"
	"net"
	"os"
	"regexp"
	"strings"
	"time"
)

// OpenLoggers opens uWSGI's logger targets (the logger option): file:PATH,
// stdio, syslog[:IDENT[,FACILITY]] (to syslogSocket, "" for /dev/log) and
// socket:HOST:PORT or socket:/PATH (UDP or a unix datagram socket, a
// datagram per line, after ",PREFIX" if given). As in uWSGI, once any is
// set every line goes to them and not to logto.
//
// A target given a name ("NAME TARGET") gets only the lines a log-route
// sends it, as in uWSGI.
func OpenLoggers(specs []string, syslogSocket string) (*Loggers, error) {
	out := &Loggers{Named: map[string]io.Writer{}}
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		name := ""
		if sp := strings.IndexByte(spec, ' '); sp > 0 && !strings.Contains(spec[:sp], ":") {
			name, spec = spec[:sp], strings.TrimSpace(spec[sp+1:])
		}
		w, err := openLogger(spec, syslogSocket)
		if err != nil {
			return nil, fmt.Errorf("logger = %s: %w", spec, err)
		}
		if name == "" {
			out.Unnamed = append(out.Unnamed, w)
		} else {
			out.Named[name] = w
		}
	}
	return out, nil
}

// Loggers are the logger option's open targets.
type Loggers struct {
	Unnamed []io.Writer          // every line not routed elsewhere
	Named   map[string]io.Writer // only the lines log-route sends them
}

// LogRoute is one log-route: lines its pattern matches go to a named
// logger.
type LogRoute struct {
	Pattern *regexp.Regexp
	W       io.Writer
}

// Routes reads log-route values, "NAME REGEXP", against the named
// loggers. Go's regexp syntax stands for uWSGI's PCRE (the common
// subset is the same).
func (l *Loggers) Routes(specs []string) ([]LogRoute, error) {
	return l.routes("log-route", "logger", specs)
}

func (l *Loggers) routes(option, logger string, specs []string) ([]LogRoute, error) {
	var out []LogRoute
	for _, spec := range specs {
		name, pattern, ok := strings.Cut(strings.TrimSpace(spec), " ")
		if !ok {
			return nil, fmt.Errorf("%s = %s: write NAME REGEXP", option, spec)
		}
		w := l.Named[name]
		if w == nil {
			return nil, fmt.Errorf("%s = %s: no logger is named %q (%s = %s TARGET)", option, spec, name, logger, name)
		}
		re, err := regexp.Compile(strings.TrimSpace(pattern))
		if err != nil {
			return nil, fmt.Errorf("%s = %s: %w", option, spec, err)
		}
		out = append(out, LogRoute{re, w})
	}
	return out, nil
}

func openLogger(spec, syslogSocket string) (io.Writer, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "file":
		if arg == "" || strings.Contains(arg, "logfile=") {
			return nil, fmt.Errorf("write file:PATH (the key=value form is not implemented)")
		}
		return os.OpenFile(arg, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	case "stdio":
		return os.Stdout, nil
	case "syslog":
		// As uWSGI's syslog plugin: ident "uwsgi" and facility daemon
		// unless given, priority info, through C's message format.
		ident, facility, _ := strings.Cut(arg, ",")
		if ident == "" {
			ident = "uwsgi"
		}
		pri, ok := syslogFacilities[strings.ToLower(facility)]
		if !ok {
			return nil, fmt.Errorf("unknown syslog facility %q (use daemon, user, local0 ... local7, or another of syslog(3)'s)", facility)
		}
		if syslogSocket == "" {
			syslogSocket = "/dev/log"
		}
		w := &syslogWriter{path: syslogSocket, prefix: fmt.Sprintf("<%d>", pri|syslog.LOG_INFO), ident: ident}
		if err := w.dial(); err != nil {
			return nil, fmt.Errorf("%w (is a syslog daemon running? syslog-socket names another socket)", err)
		}
		return lineWriter{w}, nil
	case "socket":
		// uWSGI's logsocket: HOST:PORT is UDP, anything else a unix
		// datagram socket's path; ",PREFIX" starts every datagram.
		addr, prefix, _ := strings.Cut(arg, ",")
		network := "unixgram"
		if strings.Contains(addr, ":") {
			network = "udp"
		}
		c, err := net.Dial(network, addr)
		if err != nil {
			return nil, fmt.Errorf("write socket:HOST:PORT (UDP) or socket:/PATH (unix datagram): %w", err)
		}
		return lineWriter{prefixWriter{c, []byte(prefix)}}, nil
	}
	return nil, fmt.Errorf("unknown logger %q (supervise has file:PATH, stdio, syslog[:IDENT[,FACILITY]] and socket:ADDR)", kind)
}

// syslog(3)'s facilities, as uWSGI's syslog plugin names them.
var syslogFacilities = map[string]syslog.Priority{
	"": syslog.LOG_DAEMON, "daemon": syslog.LOG_DAEMON, "user": syslog.LOG_USER, "auth": syslog.LOG_AUTH,
	"security": syslog.LOG_AUTH, "authpriv": syslog.LOG_AUTHPRIV, "cron": syslog.LOG_CRON, "ftp": syslog.LOG_FTP,
	"kern": syslog.LOG_KERN, "lpr": syslog.LOG_LPR, "mail": syslog.LOG_MAIL, "news": syslog.LOG_NEWS,
	"syslog": syslog.LOG_SYSLOG, "uucp": syslog.LOG_UUCP,
	"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2, "local3": syslog.LOG_LOCAL3,
	"local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5, "local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
}

// syslogWriter sends each line as one message in C's syslog() format,
// "<PRI>Mmm dd hh:mm:ss IDENT: line" (uWSGI opens the log without
// LOG_PID), and redials once when the daemon's socket went away.
type syslogWriter struct {
	path, prefix, ident string
	conn                net.Conn
}

func (w *syslogWriter) dial() error {
	c, err := net.Dial("unixgram", w.path)
	if err != nil {
		return err
	}
	w.conn = c
	return nil
}

func (w *syslogWriter) Write(line []byte) (int, error) {
	msg := make([]byte, 0, len(w.prefix)+len(w.ident)+len(line)+20)
	msg = append(msg, w.prefix...)
	msg = time.Now().AppendFormat(msg, time.Stamp)
	msg = append(append(append(msg, ' '), w.ident...), ": "...)
	msg = append(msg, bytes.TrimSuffix(line, []byte("\n"))...)
	if _, err := w.conn.Write(msg); err != nil {
		w.conn.Close()
		if err := w.dial(); err != nil {
			return 0, err
		}
		if _, err := w.conn.Write(msg); err != nil {
			return 0, err
		}
	}
	return len(line), nil
}

// prefixWriter starts every write with a prefix (socket:ADDR,PREFIX).
type prefixWriter struct {
	w      io.Writer
	prefix []byte
}

func (p prefixWriter) Write(line []byte) (int, error) {
	if len(p.prefix) == 0 {
		return p.w.Write(line)
	}
	if _, err := p.w.Write(append(append([]byte(nil), p.prefix...), line...)); err != nil {
		return 0, err
	}
	return len(line), nil
}

// lineWriter writes each line of a batch separately: one syslog message
// or one datagram per line.
type lineWriter struct{ w io.Writer }

func (l lineWriter) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		if _, err := l.w.Write(line); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// SetLoggers sends every line to ws instead of the log file or stderr.
func (s *LogSink) SetLoggers(ws []io.Writer) {
	s.mu.Lock()
	s.loggers = ws
	s.mu.Unlock()
}

// SetRoutes sends the lines a route matches to its logger, and only
// there (uWSGI's log-route); the other lines go where they went.
func (s *LogSink) SetRoutes(routes []LogRoute) {
	s.mu.Lock()
	s.routes = routes
	s.mu.Unlock()
}

// routeLocked writes the lines of p that a route matches to its logger
// and returns the others.
func (s *LogSink) routeLocked(p []byte) []byte {
	var rest []byte
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i+1], p[i+1:]
		} else {
			p = nil
		}
		routed := false
		for _, r := range s.routes {
			if r.Pattern.Match(line) {
				if _, err := r.W.Write(line); err != nil {
					s.fail.Do(func() { fmt.Fprintf(os.Stderr, "supervise: cannot write to a logger (%v); continuing\n", err) })
				}
				routed = true
			}
		}
		if !routed {
			rest = append(rest, line...)
		}
	}
	return rest
}
