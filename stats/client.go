package stats

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Fetch reads one document from a stats server at addr (host:port, unix
// path or @abstract), plain or stats-http.
func Fetch(addr string) (Stats, []byte, error) {
	network, dial := "tcp", addr
	if strings.HasPrefix(addr, "@") {
		network, dial = "unix", "\x00"+addr[1:]
	} else if strings.Contains(addr, "/") {
		network = "unix"
	}
	conn, err := net.DialTimeout(network, dial, 3*time.Second)
	if err != nil {
		return Stats{}, nil, fmt.Errorf("stats %s: %w (is the master running with stats = %s?)", addr, err, addr)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	// A stats-http server waits for a request; a plain one ignores it.
	conn.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	raw, err := io.ReadAll(bufio.NewReader(conn))
	if err != nil && len(raw) == 0 {
		return Stats{}, nil, fmt.Errorf("stats %s: %w", addr, err)
	}
	if bytes.HasPrefix(raw, []byte("HTTP/")) {
		if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
			raw = raw[i+4:]
		}
	}
	var st Stats
	if err := json.Unmarshal(raw, &st); err != nil {
		return Stats{}, raw, fmt.Errorf("stats %s: not a stats document: %w", addr, err)
	}
	return st, raw, nil
}

// Table renders st for people: one line per worker.
func Table(st Stats, prevReqs map[int]uint64, interval time.Duration) string {
	var b strings.Builder
	var total, busy uint64
	for _, w := range st.Workers {
		total += w.Requests
		if w.Status == "busy" {
			busy++
		}
	}
	fmt.Fprintf(&b, "%s  master pid %d  workers %d (%d busy)  requests %d  listen queue %d\n",
		st.Version, st.PID, len(st.Workers), busy, total, st.ListenQueue)
	fmt.Fprintf(&b, "%4s %8s %6s %10s %8s %9s %9s %9s\n", "WID", "PID", "STATUS", "REQUESTS", "REQ/S", "AVG(ms)", "RSS(MB)", "RESPAWNS")
	for _, w := range st.Workers {
		rate := "-"
		if prev, ok := prevReqs[w.PID]; ok && interval > 0 && w.Requests >= prev {
			rate = fmt.Sprintf("%.1f", float64(w.Requests-prev)/interval.Seconds())
		}
		fmt.Fprintf(&b, "%4d %8d %6s %10d %8s %9.2f %9.1f %9d\n", w.ID, w.PID, w.Status, w.Requests, rate,
			float64(w.AvgRt)/1000, float64(w.RSS)/(1<<20), w.RespawnCount)
	}
	return b.String()
}
