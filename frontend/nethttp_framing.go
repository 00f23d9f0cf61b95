package frontend

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// net/http frames requests more leniently than RFC 9112 sections 6-7 want
// from a server behind (or in front of) other proxies: it serves a
// request with both Content-Length and Transfer-Encoding (taking the
// chunked body), ignores Transfer-Encoding in HTTP/1.0 (taking what
// follows the head as the next request), accepts obs-fold lines, bare LF
// line ends and repeated equal Content-Lengths. Each is a way to smuggle
// a request past a proxy that reads the bytes the other way. So every
// connection net/http serves plain HTTP on (its own listener, and the
// ones the event loop hands off) reads through a framingGuard: it follows
// the requests on the stream (heads, Content-Length bodies, chunked
// bodies), holds back each head until it is complete, and judges it as
// nginx does. A head it refuses never reaches net/http: net/http reads
// instead a head it answers with the same status (400, or 501 for a
// transfer-coding other than chunked) and then end of stream, so it
// answers and closes the connection, and nothing after the bad head is
// served.

// The guard's states: where in the stream the next byte is.
const (
	guardHead      = iota // in a request head (held back until complete)
	guardBody             // in a Content-Length body: remain bytes left
	guardChunkLine        // in a chunk-size line
	guardChunkData        // in chunk data: remain bytes left, then CRLF
	guardChunkCRLF        // the CRLF after chunk data: remain bytes of it left
	guardTrailer          // in the trailer section after the last chunk
	guardOff              // not following any more (net/http refuses what follows on its own)
)

// Heads net/http refuses with the status the guard wants; each makes it
// answer and close.
var (
	guardHead400 = []byte("BAD-FRAMING\r\n\r\n")                                              // "malformed HTTP request": 400
	guardHead501 = []byte("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: refused\r\n\r\n") // unsupported transfer encoding: 501
)

// maxChunkLine is the longest chunk-size line or trailer field the guard
// follows; a longer one ends the stream.
const maxChunkLine = 4096

// framingGuard follows one connection's requests; see above.
type framingGuard struct {
	state   int
	remain  int64
	in      []byte // bytes read, not yet judged (part of a head, or of a chunk line)
	out     []byte // bytes judged, for net/http
	outBuf  []byte // out's backing array, reused
	done    bool   // after out, end of stream
	maxHead int    // a head longer than this goes to net/http unjudged (it answers 431)
	// refused is told why a head was refused (for a rate-limited log line).
	refused func(status int, reason string)
}

// read is Read on the connection read by src, through the guard.
func (g *framingGuard) read(src func([]byte) (int, error), p []byte) (int, error) {
	for len(g.out) == 0 {
		if g.done {
			return 0, io.EOF
		}
		if g.state == guardOff {
			return src(p)
		}
		n, err := src(p)
		if n > 0 {
			g.feed(p[:n])
		}
		if len(g.out) == 0 && err != nil {
			// Not kept: net/http interrupts its background read with a
			// deadline in the past and then reads on.
			return 0, err
		}
	}
	n := copy(p, g.out)
	g.out = g.out[n:]
	if len(g.out) == 0 {
		g.out = g.outBuf[:0]
	}
	return n, nil
}

// feed judges b, the bytes just read, moving what passes to out.
func (g *framingGuard) feed(b []byte) {
	if g.out == nil {
		g.out = g.outBuf[:0]
	}
	g.in = append(g.in, b...)
	in := g.in
	for len(in) > 0 && !g.done && g.state != guardOff {
		switch g.state {
		case guardHead:
			end := headEnd(in)
			if end < 0 && len(in) <= g.maxHead {
				goto keep
			}
			if end < 0 || end > g.maxHead {
				g.out = append(g.out, in...)
				in = nil
				g.state = guardOff // net/http answers 431 and closes
				goto keep
			}
			status, reason, f := judgeHead(in[:end])
			if status != 0 {
				if g.refused != nil {
					g.refused(status, reason)
				}
				if status == 501 {
					g.out = append(g.out, guardHead501...)
				} else {
					g.out = append(g.out, guardHead400...)
				}
				g.done = true
				in = nil
				goto keep
			}
			g.out = append(g.out, in[:end]...)
			in = in[end:]
			switch {
			case f.chunked:
				g.state = guardChunkLine
			case f.length > 0:
				g.state, g.remain = guardBody, f.length
			}
		case guardBody, guardChunkData:
			n := int64(len(in))
			if n > g.remain {
				n = g.remain
			}
			g.out = append(g.out, in[:n]...)
			in = in[n:]
			g.remain -= n
			if g.remain == 0 {
				if g.state == guardBody {
					g.state = guardHead
				} else {
					g.state, g.remain = guardChunkCRLF, 2
				}
			}
		case guardChunkCRLF: // a byte at a time, so it is cut at the same byte however it was read
			if in[0] != "\r\n"[2-g.remain] {
				g.fail()
				in = nil
				goto keep
			}
			g.out = append(g.out, in[0])
			in = in[1:]
			if g.remain--; g.remain == 0 {
				g.state = guardChunkLine
			}
		case guardChunkLine, guardTrailer:
			i := bytes.IndexByte(in, '\n')
			if i < 0 && len(in) <= maxChunkLine {
				goto keep
			}
			if i < 0 || i > maxChunkLine {
				g.fail() // no chunk line or trailer field is this long
				in = nil
				goto keep
			}
			line := in[:i+1]
			if len(line) < 2 || line[i-1] != '\r' {
				g.fail()
				in = nil
				goto keep
			}
			if g.state == guardTrailer {
				if i == 1 { // the empty line ending the message
					g.state = guardHead
				}
			} else {
				size, ok := chunkSize(line[:i-1])
				switch {
				case !ok:
					g.fail()
					in = nil
					goto keep
				case size == 0:
					g.state = guardTrailer
				default:
					g.state, g.remain = guardChunkData, size
				}
			}
			g.out = append(g.out, line...)
			in = in[i+1:]
		}
	}
keep:
	if g.state == guardOff && len(in) > 0 {
		g.out = append(g.out, in...)
		in = nil
	}
	g.in = append(g.in[:0], in...) // in is g.in's tail: copy handles the overlap
	if cap(g.outBuf) < cap(g.out) {
		g.outBuf = g.out[:0]
	}
}

// fail ends the stream after what was judged: a chunked body net/http
// might read differently from us is cut, so net/http fails the request
// and closes rather than serve what follows.
func (g *framingGuard) fail() { g.done = true }

// headEnd is the length of the head at the start of b through its blank
// line, or -1 while there is none. Empty lines before the request line
// belong to the head.
func headEnd(b []byte) int {
	start := 0
	for start+1 < len(b) && b[start] == '\r' && b[start+1] == '\n' {
		start += 2
	}
	for i := start; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		case i+1 >= len(b):
			return -1
		}
	}
}

// headFraming is how a request head says its body is framed.
type headFraming struct {
	chunked bool
	length  int64 // Content-Length; 0 if none
}

// judgeHead checks a complete head (through its blank line) as nginx
// does: status 0 if it passes, else 400 or 501 and why.
func judgeHead(head []byte) (status int, reason string, f headFraming) {
	for len(head) >= 2 && head[0] == '\r' && head[1] == '\n' {
		head = head[2:]
	}
	http11 := false
	var te [][]byte
	lengths := 0
	for n := 0; len(head) > 0; n++ {
		i := bytes.IndexByte(head, '\n')
		line := head[:i]
		head = head[i+1:]
		if len(line) == 0 || line[len(line)-1] != '\r' {
			return 400, "a line ends in a bare LF", f
		}
		line = line[:len(line)-1]
		if bytes.IndexByte(line, '\r') >= 0 {
			return 400, "a bare CR inside a line", f
		}
		if len(line) == 0 { // the blank line
			break
		}
		if n == 0 { // the request line: only its version matters here
			sp := bytes.LastIndexByte(line, ' ')
			v := line[sp+1:]
			http11 = len(v) == 8 && string(v[:7]) == "HTTP/1." && v[7] >= '1' && v[7] <= '9'
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			return 400, "obs-fold (a header line continued on the next)", f
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 400, "a header line without a name and colon", f
		}
		for _, c := range line[:colon] {
			if !tchar[c] {
				return 400, "a header name with a space or other non-token byte", f
			}
		}
		value := bytes.Trim(line[colon+1:], " \t")
		for _, c := range value {
			if ctl[c] {
				return 400, "a control byte in a header value", f
			}
		}
		switch headerID(string(line[:colon])) {
		case hdrContentLength:
			lengths++
			n, ok := rawContentLength(string(value))
			if !ok {
				return 400, "Content-Length is not one decimal number", f
			}
			f.length = n
		case hdrHandoff:
			if equalFold(line[:colon], "transfer-encoding") {
				te = append(te, value)
			}
		}
	}
	switch {
	case lengths > 1:
		return 400, "Content-Length given twice", f
	case len(te) > 0 && !http11:
		return 400, "Transfer-Encoding in an HTTP/1.0 request", f
	case len(te) > 0 && lengths > 0:
		return 400, "both Content-Length and Transfer-Encoding", f
	case len(te) > 1:
		return 400, "Transfer-Encoding given twice", f
	case len(te) == 1 && !equalFold(te[0], "chunked"):
		return 501, "a transfer-coding other than chunked", f
	}
	f.chunked = len(te) == 1
	return 0, "", f
}

// chunkSize parses a chunk-size line (without CRLF): hex digits, then
// optional whitespace and chunk extensions.
func chunkSize(line []byte) (int64, bool) {
	var n int64
	i := 0
	for ; i < len(line) && isHex(line[i]); i++ {
		if n > (1<<63-1)>>4 {
			return 0, false
		}
		n = n<<4 | int64(unhex(line[i]))
	}
	if i == 0 {
		return 0, false
	}
	rest := bytes.TrimLeft(line[i:], " \t")
	if len(rest) > 0 && rest[0] != ';' {
		return 0, false
	}
	return n, true
}

// guardedConn is a connection of net/http's own listener, read through a
// framingGuard.
type guardedConn struct {
	net.Conn
	guard framingGuard
	tls   bool // Conn is a *tls.Conn (tlsGuardListener): HTTPS
}

func (c *guardedConn) Read(p []byte) (int, error) { return c.guard.read(c.Conn.Read, p) }

// CloseWrite lets net/http half-close before closing, as on its own
// connections, so an error answer is not lost to a reset.
func (c *guardedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// guardedListener wraps net/http's plain-HTTP listener.
type guardedListener struct {
	net.Listener
	s *Server
}

func (l *guardedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	gc := &guardedConn{Conn: c}
	l.s.initGuard(&gc.guard)
	return gc, nil
}

// initGuard sets up g for one of s's connections.
func (s *Server) initGuard(g *framingGuard) {
	g.maxHead = s.cfg.BufferSize + 4096 // net/http (MaxHeaderBytes: BufferSize) reads this much before 431
	g.refused = func(status int, reason string) {
		s.warn("framing", "refused a request whose framing could smuggle another past a proxy; answered and closed",
			"status", status, "reason", reason)
	}
}

// tlsGuardListener serves HTTPS with the framing guard on HTTP/1.1: it
// does each TLS handshake itself (net/http would read a *tls.Conn it is
// given unguarded), then gives net/http the *tls.Conn when the client
// chose h2 (its framing is not HTTP/1's) and the guarded connection
// otherwise.
type tlsGuardListener struct {
	inner   net.Listener
	cfg     *tls.Config
	s       *Server
	results chan acceptResult
	done    chan struct{}
	start   sync.Once
	close   sync.Once
}

type acceptResult struct {
	c   net.Conn
	err error
}

func newTLSGuardListener(s *Server, inner net.Listener, cfg *tls.Config) *tlsGuardListener {
	return &tlsGuardListener{inner: inner, cfg: cfg, s: s, results: make(chan acceptResult), done: make(chan struct{})}
}

func (l *tlsGuardListener) Accept() (net.Conn, error) {
	l.start.Do(func() { go l.acceptLoop() })
	select {
	case r := <-l.results:
		return r.c, r.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// acceptLoop accepts and starts a handshake per connection. An accept
// error goes to Accept too; after a failure other than the listener's
// close it waits, as net/http does, 5 ms doubling to 1 s.
func (l *tlsGuardListener) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := l.inner.Accept()
		if err == nil {
			backoff = 0
			go l.handshake(c)
			continue
		}
		select {
		case l.results <- acceptResult{err: err}:
		case <-l.done:
			return
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		select {
		case <-time.After(backoff):
		case <-l.done:
			return
		}
	}
}

func (l *tlsGuardListener) handshake(c net.Conn) {
	tc := tls.Server(c, l.cfg)
	tc.SetDeadline(time.Now().Add(l.s.cfg.HeaderTimeout))
	if err := tc.Handshake(); err != nil {
		l.s.warn("tls", "TLS handshake failed", "remote", c.RemoteAddr(), "error", err)
		tc.Close()
		return
	}
	tc.SetDeadline(time.Time{})
	var out net.Conn = tc
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		gc := &guardedConn{Conn: tc, tls: true}
		l.s.initGuard(&gc.guard)
		out = gc
	}
	select {
	case l.results <- acceptResult{c: out}:
	case <-l.done:
		tc.Close()
	}
}

func (l *tlsGuardListener) Close() error {
	l.close.Do(func() { close(l.done) })
	return l.inner.Close()
}

func (l *tlsGuardListener) Addr() net.Addr { return l.inner.Addr() }
