package chaos

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one listener: "unix:/path", "tcp:host:port" or a bare path or
// host:port.
type Target string

func (t Target) dial(timeout time.Duration) (net.Conn, error) {
	s := string(t)
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		return net.DialTimeout("unix", p, timeout)
	}
	if p, ok := strings.CutPrefix(s, "tcp:"); ok {
		return net.DialTimeout("tcp", p, timeout)
	}
	if strings.HasPrefix(s, "/") {
		return net.DialTimeout("unix", s, timeout)
	}
	return net.DialTimeout("tcp", s, timeout)
}

// Attack is a tally: connections made, dials that failed.
type Attack struct {
	Conns, DialErrors int64
	FirstDialError    string
}

func (a Attack) String() string {
	return fmt.Sprintf("conns=%d dial_errors=%d first_dial_error=%q", a.Conns, a.DialErrors, a.FirstDialError)
}

// tally runs n jobs on c goroutines, each with a fresh connection.
func tally(t Target, n, c int, job func(conn net.Conn, i int)) Attack {
	var (
		next, conns, fails atomic.Int64
		first              atomic.Value
		wg                 sync.WaitGroup
	)
	for g := 0; g < max(c, 1); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				conn, err := t.dial(5 * time.Second)
				if err != nil {
					fails.Add(1)
					first.CompareAndSwap(nil, err.Error())
					time.Sleep(time.Millisecond) // a full backlog: let the server catch up
					continue
				}
				conns.Add(1)
				job(conn, i)
				conn.Close()
			}
		}()
	}
	wg.Wait()
	a := Attack{Conns: conns.Load(), DialErrors: fails.Load()}
	if f, ok := first.Load().(string); ok {
		a.FirstDialError = f
	}
	return a
}

// finish half-closes and reads whatever the server answers until it
// closes or wait passes, so the server sees the whole attack.
func finish(conn net.Conn, wait time.Duration) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	io.Copy(io.Discard, conn)
}

// RandomBytes sends n connections of 1 byte to 64 KiB of random data.
func RandomBytes(t Target, n, c int) Attack {
	return tally(t, n, c, func(conn net.Conn, i int) {
		r := rand.New(rand.NewPCG(uint64(i), 9))
		buf := make([]byte, 1+r.IntN(64<<10))
		for j := range buf {
			buf[j] = byte(r.Uint32())
		}
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		conn.Write(buf)
		finish(conn, 5*time.Second)
	})
}

// uwsgiHeader is a uwsgi packet header: modifier1, size (little-endian), modifier2.
func uwsgiHeader(mod1 byte, size uint16) []byte {
	h := []byte{mod1, 0, 0, 0}
	binary.LittleEndian.PutUint16(h[1:3], size)
	return h
}

// MalformedUwsgi sends n broken uwsgi packets, cycling through: a header
// announcing more vars than follow, a header cut short, an oversized
// vars block (larger than any buffer-size), var lengths that overrun the
// block, an unknown modifier1, a body shorter than CONTENT_LENGTH, and
// plain HTTP (which reads as a 21573-byte block).
func MalformedUwsgi(t Target, n, c int) Attack {
	vars := func(kv ...string) []byte {
		var b []byte
		for _, s := range kv {
			b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
			b = append(b, s...)
		}
		return b
	}
	good := vars("REQUEST_METHOD", "POST", "PATH_INFO", "/", "REQUEST_URI", "/", "SERVER_PROTOCOL", "HTTP/1.1",
		"CONTENT_LENGTH", "1000000")
	cases := [][]byte{
		append(uwsgiHeader(0, 2000), good[:100]...),
		{0, 0x10},
		append(uwsgiHeader(0, 65535), make([]byte, 65535)...),
		append(uwsgiHeader(0, 8), 0xff, 0xff, 'a', 'b', 0xff, 0xff, 'c', 'd'),
		append(uwsgiHeader(17, uint16(len(good))), good...),
		append(append(uwsgiHeader(0, uint16(len(good))), good...), "short body"...),
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
	}
	return tally(t, n, c, func(conn net.Conn, i int) {
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		conn.Write(cases[i%len(cases)])
		finish(conn, 5*time.Second)
	})
}

// MalformedHTTP sends n broken HTTP requests: a bad request line, a
// header block larger than any limit, a header without a colon, a body
// shorter than Content-Length, a bad chunk size.
func MalformedHTTP(t Target, n, c int) Attack {
	cases := []string{
		"NONSENSE\r\n\r\n",
		"GET / HTTP/1.1\r\nX-Big: " + strings.Repeat("a", 200<<10) + "\r\n\r\n",
		"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nshort",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
		"GET / HTTP/9.9\r\n\r\n",
	}
	return tally(t, n, c, func(conn net.Conn, i int) {
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, cases[i%len(cases)])
		finish(conn, 5*time.Second)
	})
}

// Tiny opens and closes n connections without sending anything.
func Tiny(t Target, n, c int) Attack {
	return tally(t, n, c, func(net.Conn, int) {})
}

// Slowloris holds n connections open for d, sending one byte of a valid
// start (a uwsgi header, or an HTTP request line when http is set) every
// second and never completing it. It returns when d has passed.
func Slowloris(t Target, n int, d time.Duration, http bool) Attack {
	start := []byte("GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
	if !http {
		start = uwsgiHeader(0, 4000)
	}
	var conns []net.Conn
	a := Attack{}
	for i := 0; i < n; i++ {
		conn, err := t.dial(5 * time.Second)
		if err != nil {
			a.DialErrors++
			if a.FirstDialError == "" {
				a.FirstDialError = err.Error()
			}
			continue
		}
		conns = append(conns, conn)
		a.Conns++
	}
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		for _, conn := range conns {
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			b := byte('a')
			if i < len(start) {
				b = start[i]
			}
			conn.Write([]byte{b})
		}
		time.Sleep(min(time.Second, time.Until(end))) // the attack is the slowness
	}
	for _, conn := range conns {
		conn.Close()
	}
	return a
}

// Dial opens one connection and closes it at once (one tiny connection).
func (t Target) Dial() error {
	conn, err := t.dial(time.Second)
	if err == nil {
		conn.Close()
	}
	return err
}
