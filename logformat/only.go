package logformat

import (
	"strconv"
	"strings"
	"time"
)

// Only is disable-logging's exceptions (uWSGI's log-4xx, log-5xx,
// log-slow, log-big, log-zero, log-ioerror): a request that matches any
// one of them is logged anyway.
type Only struct {
	Status4xx, Status5xx, Zero bool
	Slow                       time.Duration // 0: off
	Big                        int64         // bytes of body; 0: off
	// IOError: a request that had both a read error and a write error, the
	// pair uWSGI's log-ioerror asks for.
	IOError bool
}

// ParseOnly reads the rule as the master passes it (ipc.EnvLogOnly):
// comma-separated 4xx, 5xx, zero, ioerror, slow=MS, big=BYTES (sendfile,
// which Go servers never use, matches nothing). Nil when it names nothing.
func ParseOnly(spec string) *Only {
	var o Only
	set := false
	for _, part := range strings.Split(spec, ",") {
		name, val, _ := strings.Cut(part, "=")
		n, err := strconv.ParseInt(val, 10, 64)
		switch {
		case name == "4xx":
			o.Status4xx = true
		case name == "5xx":
			o.Status5xx = true
		case name == "zero":
			o.Zero = true
		case name == "ioerror":
			o.IOError = true
		case name == "slow" && err == nil && n > 0:
			o.Slow = time.Duration(n) * time.Millisecond
		case name == "big" && err == nil && n > 0:
			o.Big = n
		default:
			continue
		}
		set = true
	}
	if !set {
		return nil
	}
	return &o
}

// Match reports whether a request with this status, body size and
// duration is logged; a nil Only matches nothing.
func (o *Only) Match(status int, body int64, took time.Duration) bool {
	if o == nil {
		return false
	}
	return o.Status4xx && status >= 400 && status <= 499 ||
		o.Status5xx && status >= 500 && status <= 599 ||
		o.Zero && body == 0 ||
		o.Slow > 0 && took.Truncate(time.Millisecond) >= o.Slow ||
		o.Big > 0 && body >= o.Big
}

// MatchErrors reports whether a request with these I/O errors is logged
// (log-ioerror: both a read and a write error); a nil Only matches nothing.
func (o *Only) MatchErrors(readFailed, writeFailed bool) bool {
	return o != nil && o.IOError && readFailed && writeFailed
}
