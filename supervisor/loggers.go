package supervisor

import (
	"bytes"
	"fmt"
	"io"
	"log/syslog"
	"net"
	"os"
	"strings"
)

// OpenLoggers opens uWSGI's logger targets (the logger option): file:PATH,
// stdio, syslog[:IDENT[,FACILITY]] and socket:HOST:PORT (UDP, a datagram
// per line). As in uWSGI, once any is set every line goes to them and not
// to logto.
func OpenLoggers(specs []string) ([]io.Writer, error) {
	var out []io.Writer
	for _, spec := range specs {
		w, err := openLogger(strings.TrimSpace(spec))
		if err != nil {
			return nil, fmt.Errorf("logger = %s: %w", spec, err)
		}
		out = append(out, w)
	}
	return out, nil
}

func openLogger(spec string) (io.Writer, error) {
	if sp := strings.IndexByte(spec, ' '); sp > 0 && !strings.Contains(spec[:sp], ":") {
		return nil, fmt.Errorf("a named logger (%q) only gets lines through log-route, which supervise does not implement; drop the name", spec[:sp])
	}
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
		ident, facility, _ := strings.Cut(arg, ",")
		if ident == "" {
			ident = "supervise"
		}
		pri, ok := syslogFacilities[strings.ToLower(facility)]
		if !ok {
			return nil, fmt.Errorf("unknown syslog facility %q (use user, daemon, local0 ... local7)", facility)
		}
		w, err := syslog.New(pri|syslog.LOG_INFO, ident)
		if err != nil {
			return nil, err
		}
		return lineWriter{w}, nil
	case "socket":
		c, err := net.Dial("udp", arg)
		if err != nil {
			return nil, fmt.Errorf("write socket:HOST:PORT (UDP): %w", err)
		}
		return lineWriter{c}, nil
	}
	return nil, fmt.Errorf("unknown logger %q (supervise has file:PATH, stdio, syslog[:IDENT[,FACILITY]] and socket:HOST:PORT)", kind)
}

var syslogFacilities = map[string]syslog.Priority{
	"": syslog.LOG_USER, "user": syslog.LOG_USER, "daemon": syslog.LOG_DAEMON,
	"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2, "local3": syslog.LOG_LOCAL3,
	"local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5, "local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
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
