package stats

import (
	"bytes"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// monotonicToUnix converts a CLOCK_MONOTONIC reading (what workers store,
// immune to clock changes) into unix seconds for req_info.
func monotonicToUnix(ns uint64) int64 {
	var ts unix.Timespec
	if ns == 0 || unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	ago := time.Duration(ts.Nano() - int64(ns))
	return time.Now().Add(-ago).Unix()
}

// RequestLine summarises a core's vars as "METHOD URI" for log lines.
func RequestLine(format uint64, raw []byte) string {
	method, uri := "", ""
	for _, kv := range decodeVars(format, raw) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "REQUEST_METHOD":
			method = v
		case "REQUEST_URI":
			uri = v
		case "PATH_INFO":
			if uri == "" {
				uri = v
			}
		}
	}
	return strings.TrimSpace(method + " " + uri)
}

// httpHeadVars turns a raw HTTP request head (http-socket) into the CGI
// vars uWSGI would list.
func httpHeadVars(raw []byte) []string {
	lines := bytes.Split(raw, []byte("\r\n"))
	if len(lines) == 0 {
		return []string{}
	}
	parts := strings.SplitN(string(lines[0]), " ", 3)
	if len(parts) != 3 {
		return []string{}
	}
	path, query, _ := strings.Cut(parts[1], "?")
	out := []string{"REQUEST_METHOD=" + parts[0], "REQUEST_URI=" + parts[1], "PATH_INFO=" + path,
		"QUERY_STRING=" + query, "SERVER_PROTOCOL=" + parts[2]}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(string(l), ":")
		if !ok || k == "" {
			continue
		}
		name := "HTTP_" + strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(k), "-", "_"))
		out = append(out, name+"="+strings.TrimSpace(v))
	}
	return out
}

func monotonicNow() uint64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}
