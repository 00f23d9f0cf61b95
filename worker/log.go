package worker

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// logger writes go-hclog's line format, plain or JSON, which the master's
// log sink, its JSON re-encoding and the tests read, without linking
// hclog (and its dependencies) into every Go app that uses this package.
// log_test.go checks the lines against hclog's own.
type logger struct {
	name string
	json bool
	now  func() time.Time
	mu   sync.Mutex
	w    io.Writer
	mark string // starts every line (ipc.ReqLogMark for request lines with req-logger)
}

// logTimeFormat is the master's, in plain and JSON lines alike.
const logTimeFormat = "2006-01-02T15:04:05.000Z0700"

func (l *logger) Info(msg string, kv ...any)  { l.log("info", "[INFO] ", msg, kv) }
func (l *logger) Warn(msg string, kv ...any)  { l.log("warn", "[WARN] ", msg, kv) }
func (l *logger) Error(msg string, kv ...any) { l.log("error", "[ERROR]", msg, kv) }

// raw writes a whole line as it is (a log-format request line).
func (l *logger) raw(b []byte) {
	l.mu.Lock()
	l.w.Write(b)
	l.mu.Unlock()
}

func (l *logger) log(level, bracket, msg string, kv []any) {
	now := time.Now
	if l.now != nil {
		now = l.now
	}
	t := now()
	var b bytes.Buffer
	b.WriteString(l.mark)
	if l.json {
		l.jsonLine(&b, t, level, msg, kv)
	} else {
		l.plainLine(&b, t, bracket, msg, kv)
	}
	l.mu.Lock()
	l.w.Write(b.Bytes())
	l.mu.Unlock()
}

func (l *logger) plainLine(b *bytes.Buffer, t time.Time, bracket, msg string, kv []any) {
	b.WriteString(t.Format(logTimeFormat))
	b.WriteByte(' ')
	b.WriteString(bracket)
	b.WriteByte(' ')
	if l.name != "" {
		b.WriteString(l.name)
		if msg != "" {
			b.WriteString(": ")
			b.WriteString(msg)
		}
	} else {
		b.WriteString(msg)
	}
	if len(kv) > 0 {
		b.WriteByte(':')
	}
	for i := 0; i+1 < len(kv); i += 2 {
		key := fmt.Sprint(kv[i])
		val, raw := plainValue(kv[i+1])
		switch {
		case strings.Contains(val, "\n"):
			b.WriteString("\n  ")
			b.WriteString(key)
			b.WriteString("=\n")
			lines := strings.Split(val, "\n")
			for i, line := range lines {
				if i < len(lines)-1 || line != "" { // hclog drops only an empty last line
					b.WriteString("  | ")
					writeEscaped(b, line, false)
					b.WriteString("\n")
				}
			}
			b.WriteString("  ")
		case !raw && needsQuoting(val):
			b.WriteByte(' ')
			b.WriteString(key)
			b.WriteString(`="`)
			writeEscaped(b, val, true)
			b.WriteByte('"')
		default:
			b.WriteByte(' ')
			b.WriteString(key)
			b.WriteByte('=')
			b.WriteString(val)
		}
	}
	b.WriteByte('\n')
}

// plainValue is hclog's rendering of a value; raw values are never quoted.
func plainValue(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		if v == "" {
			return `""`, true
		}
		return v, false
	case int:
		return strconv.Itoa(v), false
	case int64:
		return strconv.FormatInt(v, 10), false
	case uint64:
		return strconv.FormatUint(v, 10), false
	}
	return fmt.Sprintf("%v", v), false
}

// needsQuoting: hclog leaves a value bare when every rune is - through ~.
func needsQuoting(s string) bool {
	for _, r := range s {
		if r < 0x2D || r > 0x7E {
			return true
		}
	}
	return false
}

func writeEscaped(b *bytes.Buffer, s string, quotes bool) {
	for _, r := range s {
		switch {
		case quotes && r == '"':
			b.WriteString(`\"`)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case strings.ContainsRune("\a\b\f\n\r\t\v", r):
			q := strconv.QuoteRune(r) // '\t'
			b.WriteString(q[1 : len(q)-1])
		case r < ' ':
			fmt.Fprintf(b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			fmt.Fprintf(b, `\U%08x`, r)
		}
	}
}

func (l *logger) jsonLine(b *bytes.Buffer, t time.Time, level, msg string, kv []any) {
	vals := map[string]any{"@message": msg, "@timestamp": t.Format(logTimeFormat), "@level": level}
	if l.name != "" {
		vals["@module"] = l.name
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		if err, ok := v.(error); ok {
			switch err.(type) {
			case json.Marshaler, encoding.TextMarshaler:
			default:
				v = err.Error()
			}
		}
		vals[fmt.Sprint(kv[i])] = v
	}
	if err := json.NewEncoder(b).Encode(vals); err != nil {
		b.Reset()
		json.NewEncoder(b).Encode(map[string]any{"@message": msg, "@timestamp": t.Format(logTimeFormat), "@level": level,
			"@module": l.name, "@warn": "logging contained values that don't serialize to json"})
	}
}
