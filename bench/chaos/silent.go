package chaos

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// SilentResult is what Silent saw: connections made, how many the server
// closed before d ran out, and the longest it took to close one.
type SilentResult struct {
	Attack
	Closed     int
	MaxCloseMs int64
}

func (r SilentResult) String() string {
	return fmt.Sprintf("%s closed=%d max_close_ms=%d", r.Attack, r.Closed, r.MaxCloseMs)
}

// Silent opens n connections that each send the first two bytes of a
// uwsgi header and then nothing (issue 14: `nc` clients that freeze a
// pool). Each waits up to d for the server to close it; socket-timeout
// should, after about its value.
func Silent(t Target, n int, d time.Duration) SilentResult {
	var (
		r  SilentResult
		mu sync.Mutex
		wg sync.WaitGroup
	)
	var conns []net.Conn
	for i := 0; i < n; i++ {
		conn, err := t.dial(5 * time.Second)
		if err != nil {
			r.DialErrors++
			if r.FirstDialError == "" {
				r.FirstDialError = err.Error()
			}
			continue
		}
		r.Conns++
		conn.Write([]byte{0, 0x10})
		conns = append(conns, conn)
	}
	start := time.Now()
	for _, conn := range conns {
		wg.Add(1)
		go func(conn net.Conn) {
			defer wg.Done()
			defer conn.Close()
			conn.SetReadDeadline(start.Add(d))
			_, err := io.Copy(io.Discard, conn)
			if err == nil { // EOF: the server closed it
				mu.Lock()
				r.Closed++
				r.MaxCloseMs = max(r.MaxCloseMs, time.Since(start).Milliseconds())
				mu.Unlock()
			}
		}(conn)
	}
	wg.Wait()
	return r
}
