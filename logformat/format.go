// Package logformat is uWSGI's log-format language for request lines,
// shared by the Go worker library and the HTTP front end (the Python
// worker has its own copy in worker.py; the tests hold all three to
// uWSGI 2.0.21's output for the same requests).
//
// A format is compiled once into chunks; a request line is appended into
// a caller's buffer with no allocation beyond what a variable's value
// needs. It imports only the standard library: the Go worker library
// links it into every app.
package logformat

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Request is what a request line is made of, in uWSGI's terms. Strings
// that are empty print "-", as uWSGI's empty_var.
type Request struct {
	Method, URI, Proto, Addr, User, Host, UserAgent, Referer string

	Status        int
	BodySize      int64 // %(rsize): the response body's bytes
	HeaderSize    int64 // %(hsize): the response head's bytes (status line to blank line)
	ContentLength int64 // %(cl): the request body's announced length
	Headers       int   // %(headers): response headers the app set
	Vars          int   // %(vars): uWSGI's var_cnt, 2 per request variable
	PktSize       int   // %(pktsize): the request's uwsgi vars block, in bytes
	Core          int   // %(core): the thread (uWSGI's async id)
	WriteErrors   int
	ReadErrors    int

	Start    time.Time     // when the request began
	Duration time.Duration // how long it took

	// Vars holds the request's variables for %(var.NAME) (CGI names:
	// REQUEST_METHOD, HTTP_X_FORWARDED_FOR ...); nil prints "-".
	Env Getter
	// Logvars holds values an app set for %(NAME) (uwsgi.set_logvar).
	Logvars Getter
}

// Getter looks a name up; "" when it has none.
type Getter interface{ Get(name string) string }

// kind is what a chunk prints.
type kind uint8

const (
	kText kind = iota
	kMethod
	kURI
	kProto
	kAddr
	kUser
	kHost
	kUagent
	kReferer
	kStatus
	kRsize
	kHsize
	kSize
	kCl
	kEpoch
	kCtime
	kTime
	kLtime
	kFtime
	kTmsecs
	kTmicros
	kMicros
	kMsecs
	kSecs
	kPid
	kWid
	kSwitches
	kVars
	kCore
	kVsz
	kRss
	kVszM
	kRssM
	kPktsize
	kModifier1
	kModifier2
	kHeaders
	kWerr
	kRerr
	kIoerr
	kVar    // var.NAME
	kMetric // metric.NAME: supervise has no metrics subsystem; uWSGI prints 0 for an unknown one
	kLogvar
)

// names are the variables uWSGI 2.0.21 registers (core/logging.c,
// uwsgi_register_logchunks).
var names = map[string]kind{
	"uri": kURI, "method": kMethod, "user": kUser, "addr": kAddr, "host": kHost, "proto": kProto,
	"uagent": kUagent, "referer": kReferer, "status": kStatus, "rsize": kRsize, "hsize": kHsize,
	"size": kSize, "cl": kCl, "micros": kMicros, "msecs": kMsecs, "secs": kSecs, "tmsecs": kTmsecs,
	"tmicros": kTmicros, "time": kTime, "ltime": kLtime, "ftime": kFtime, "ctime": kCtime,
	"epoch": kEpoch, "pid": kPid, "wid": kWid, "switches": kSwitches, "vars": kVars, "core": kCore,
	"vsz": kVsz, "rss": kRss, "vszM": kVszM, "rssM": kRssM, "pktsize": kPktsize,
	"modifier1": kModifier1, "modifier2": kModifier2, "headers": kHeaders, "werr": kWerr,
	"rerr": kRerr, "ioerr": kIoerr,
}

type chunk struct {
	kind kind
	text string // kText: the text; kVar, kLogvar: the name
}

// Format is a compiled log-format.
type Format struct {
	chunks    []chunk
	pid, wid  string
	ltime     clock
	ftime     clock
	ftimeFmt  string
	usesClock bool
}

// Chunk is one piece of a format as uWSGI splits it: text, or a
// variable's name.
type Chunk struct {
	Var  bool
	Text string
}

// Parse splits format into chunks exactly as uWSGI's
// uwsgi_build_log_format does, quirks included: "%(" starts a variable
// only when a character other than %, ( and ) follows, the text before
// it loses its last two bytes, and a ")" ends the variable even when it
// began inside another.
func Parse(format string) []Chunk {
	var out []Chunk
	state, current, logvar := 0, 0, -1
	for i := 0; i < len(format); i++ {
		switch c := format[i]; {
		case c == '%':
			if state == 0 {
				state = 1
			}
		case c == '(':
			if state == 1 {
				state = 2
			}
		case c == ')':
			if logvar >= 0 {
				out = append(out, Chunk{true, format[logvar:i]})
				state, logvar, current = 0, -1, i+1
			}
		default:
			if state == 2 {
				out = append(out, Chunk{false, format[current:max(current, i-2)]})
				logvar = i
			}
			state = 0
		}
	}
	if len(format) > current {
		out = append(out, Chunk{false, format[current:]})
	}
	return out
}

// Compile compiles a log-format for a process with this pid and worker
// id; strftime is log-date's format for %(ftime) when logformat-strftime
// is on ("" makes %(ftime) the same as %(ltime), as in uWSGI).
func Compile(format, strftime string, pid, wid int) *Format {
	f := &Format{pid: strconv.Itoa(pid), wid: strconv.Itoa(wid), ftimeFmt: strftime}
	for _, c := range Parse(format) {
		if !c.Var {
			if c.Text != "" {
				f.chunks = append(f.chunks, chunk{kText, c.Text})
			}
			continue
		}
		k, ok := names[c.Text]
		switch {
		case ok:
		case strings.HasPrefix(c.Text, "var."):
			k, c.Text = kVar, c.Text[4:]
		case strings.HasPrefix(c.Text, "metric."):
			k = kMetric
		default:
			k = kLogvar
		}
		if k == kLtime || k == kFtime {
			f.usesClock = true
		}
		f.chunks = append(f.chunks, chunk{k, c.Text})
	}
	return f
}

// Uses reports whether the format prints the variable name, so a caller
// computes a costly value only when it is printed.
func (f *Format) Uses(name string) bool {
	k, ok := names[name]
	for _, c := range f.chunks {
		if ok && c.kind == k || !ok && c.text == name && c.kind != kText {
			return true
		}
	}
	return false
}

// NeedsEnv reports whether the format prints Request.Env, Vars or
// PktSize: a caller that builds them on demand skips it otherwise.
func (f *Format) NeedsEnv() bool {
	for _, c := range f.chunks {
		if c.kind == kVar || c.kind == kVars || c.kind == kPktsize {
			return true
		}
	}
	return false
}

// Append appends r's line, with its newline, to b.
func (f *Format) Append(b []byte, r *Request) []byte {
	for i := range f.chunks {
		c := &f.chunks[i]
		n := len(b)
		switch c.kind {
		case kText:
			b = append(b, c.text...)
			continue
		case kMethod:
			b = append(b, r.Method...)
		case kURI:
			b = append(b, r.URI...)
		case kProto:
			b = append(b, r.Proto...)
		case kAddr:
			b = append(b, r.Addr...)
		case kUser:
			b = append(b, r.User...)
		case kHost:
			b = append(b, r.Host...)
		case kUagent:
			b = append(b, r.UserAgent...)
		case kReferer:
			b = append(b, r.Referer...)
		case kStatus:
			b = strconv.AppendInt(b, int64(r.Status), 10)
		case kRsize:
			b = strconv.AppendInt(b, r.BodySize, 10)
		case kHsize:
			b = strconv.AppendInt(b, r.HeaderSize, 10)
		case kSize:
			b = strconv.AppendInt(b, r.BodySize+r.HeaderSize, 10)
		case kCl:
			b = strconv.AppendInt(b, r.ContentLength, 10)
		case kEpoch:
			b = strconv.AppendInt(b, time.Now().Unix(), 10)
		case kCtime:
			b = r.Start.Local().AppendFormat(b, "Mon Jan _2 15:04:05 2006")
		case kTime:
			b = strconv.AppendInt(b, r.Start.Unix(), 10)
		case kLtime:
			b = append(b, f.ltime.at(r.Start, ltimeFormat)...)
		case kFtime:
			if f.ftimeFmt == "" {
				b = append(b, f.ltime.at(r.Start, ltimeFormat)...)
			} else {
				b = append(b, f.ftime.at(r.Start, f.ftimeFmt)...)
			}
		case kTmsecs:
			b = strconv.AppendInt(b, r.Start.UnixMilli(), 10)
		case kTmicros:
			b = strconv.AppendInt(b, r.Start.UnixMicro(), 10)
		case kMicros:
			b = strconv.AppendInt(b, r.Duration.Microseconds(), 10)
		case kMsecs:
			b = strconv.AppendInt(b, r.Duration.Milliseconds(), 10)
		case kSecs:
			b = strconv.AppendFloat(b, float64(r.Duration.Microseconds())/1e6, 'f', 6, 64)
		case kPid:
			b = append(b, f.pid...)
		case kWid:
			b = append(b, f.wid...)
		case kSwitches:
			b = append(b, '1') // one request, one switch: no async cores here
		case kVars:
			b = strconv.AppendInt(b, int64(r.Vars), 10)
		case kCore:
			b = strconv.AppendInt(b, int64(r.Core), 10)
		case kVsz, kRss, kVszM, kRssM:
			b = strconv.AppendInt(b, memory(c.kind), 10)
		case kPktsize:
			b = strconv.AppendInt(b, int64(r.PktSize), 10)
		case kModifier1, kModifier2, kMetric:
			b = append(b, '0')
		case kHeaders:
			b = strconv.AppendInt(b, int64(r.Headers), 10)
		case kWerr:
			b = strconv.AppendInt(b, int64(r.WriteErrors), 10)
		case kRerr:
			b = strconv.AppendInt(b, int64(r.ReadErrors), 10)
		case kIoerr:
			b = strconv.AppendInt(b, int64(r.WriteErrors+r.ReadErrors), 10)
		case kVar:
			if r.Env != nil {
				b = append(b, r.Env.Get(c.text)...)
			}
		case kLogvar:
			if r.Logvars != nil {
				b = append(b, r.Logvars.Get(c.text)...)
			}
		}
		if len(b) == n {
			b = append(b, '-')
		}
	}
	return append(b, '\n')
}

const ltimeFormat = "%d/%b/%Y:%H:%M:%S %z"

// clock is a strftime result for one second, computed once a second.
type clock struct{ v atomic.Pointer[clockValue] }

type clockValue struct {
	sec  int64
	text string
}

func (c *clock) at(t time.Time, format string) string {
	sec := t.Unix()
	if v := c.v.Load(); v != nil && v.sec == sec {
		return v.text
	}
	text := string(Strftime(nil, format, time.Unix(sec, 0)))
	c.v.Store(&clockValue{sec, text})
	return text
}

// memory is %(vsz), %(rss) and their megabyte forms, from /proc/self/statm.
func memory(k kind) int64 {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(raw))
	i := 0
	if k == kRss || k == kRssM {
		i = 1
	}
	if len(fields) <= i {
		return 0
	}
	pages, _ := strconv.ParseInt(fields[i], 10, 64)
	n := pages * int64(os.Getpagesize())
	if k == kVszM || k == kRssM {
		n >>= 20
	}
	return n
}
