package supervisor

import (
	"bytes"
	"encoding/json"
	"time"
)

// LogTimeFormat is every log line's timestamp, the master's (hclog) and
// the lines the sink writes itself.
const LogTimeFormat = "2006-01-02T15:04:05.000Z0700"

// SetJSON makes the sink wrap every line a process writes that is not a
// JSON object already (an app's print, a traceback from a library) into
// one, as hclog's JSON mode writes the master's: log-encoder = json.
func (s *LogSink) SetJSON(on bool) {
	s.mu.Lock()
	s.json = on
	s.mu.Unlock()
}

// jsonLines returns b, whole lines, with each line that is not a JSON
// object replaced by {"@level":"info","@message":LINE,"@module":"output",
// "@timestamp":NOW}; b itself when every line is one already.
func jsonLines(b []byte, now time.Time) []byte {
	var out []byte
	rest := b
	for start := 0; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		line := rest[:i]
		if !(len(line) > 1 && line[0] == '{' && line[len(line)-1] == '}' && json.Valid(line)) {
			if out == nil {
				out = append(make([]byte, 0, len(b)+128), b[:start]...)
			}
			out = appendJSONLine(out, "info", "output", string(line), now)
		} else if out != nil {
			out = append(append(out, line...), '\n')
		}
		start += i + 1
		rest = rest[i+1:]
	}
	if out == nil {
		return b
	}
	return out
}

// appendJSONLine appends one hclog-shaped JSON line (keys sorted, as
// hclog writes them).
func appendJSONLine(out []byte, level, module, msg string, now time.Time, kv ...any) []byte {
	fields := map[string]any{"@level": level, "@module": module, "@message": msg, "@timestamp": now.Format(LogTimeFormat)}
	for i := 0; i+1 < len(kv); i += 2 {
		fields[kv[i].(string)] = kv[i+1]
	}
	raw, _ := json.Marshal(fields)
	return append(append(out, raw...), '\n')
}
