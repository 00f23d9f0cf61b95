package frontend

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/uwsgi"
)

// WebSockets: the event loop hands a request with Upgrade to net/http
// (headers.go's hdrHandoff), which sends it to a worker as any request
// (the uwsgi vars carry HTTP_UPGRADE, HTTP_CONNECTION and the
// Sec-WebSocket-* headers, as uWSGI's http router sends them). When the
// worker answers 101 Switching Protocols, the client's connection and the
// worker's become a tunnel: bytes both ways until either side closes. A
// tunnel holds no buffer while it is idle: each direction waits for
// readiness (syscall.RawConn.Read) and borrows a buffer only to move what
// arrived, so 10,000 idle WebSockets cost two parked goroutines each.

// isWebSocket reports whether r opens a WebSocket (RFC 6455 4.1).
func isWebSocket(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.Method != http.MethodGet || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, v := range r.Header["Connection"] {
		for _, tok := range connectionTokens(v) {
			if strings.EqualFold(tok, "upgrade") {
				return true
			}
		}
	}
	return false
}

const tunnelBuffer = 16 << 10

var tunnelBuffers = sync.Pool{New: func() any { b := make([]byte, tunnelBuffer); return &b }}

// tunnel forwards r to a worker; a 101 answer makes the two connections
// one tunnel, any other answer goes back as a normal response.
func (s *Server) tunnel(w http.ResponseWriter, r *http.Request, c *connInfo) (int, int64) {
	x := exchanges.Get().(*exchange)
	defer func() {
		if x != nil {
			x.release()
		}
	}()
	x.vars = appendVars(x.vars, r, c, 0, s.cfg.DocumentRoot)
	pkt, err := uwsgi.AppendPacket(x.pkt[:0], uwsgi.ModifierWSGI, 0, x.vars)
	if err != nil || len(pkt)-uwsgi.HeaderSize > s.cfg.BufferSize {
		return plainError(w, http.StatusRequestHeaderFieldsTooLarge), 0
	}
	x.pkt = pkt
	bc, backend, err := s.pool.connect(r.Context())
	if err != nil {
		s.noBackend(r.RequestURI, err)
		return plainError(w, http.StatusBadGateway), 0
	}
	defer func() {
		if bc != nil {
			bc.Close()
		}
	}()
	bc.SetDeadline(time.Now().Add(s.cfg.BackendTimeout))
	if _, err := bc.Write(pkt); err != nil {
		s.warn("websocket", "cannot send a WebSocket handshake to the worker; 502", "backend", backend.Name, "error", err)
		return plainError(w, http.StatusBadGateway), 0
	}
	x.hc.reset(bc)
	x.br.Reset(&x.hc)
	resp, err := http.ReadResponse(x.br, r)
	if err != nil {
		s.warn("websocket", "no answer to a WebSocket handshake from the worker; 502", "backend", backend.Name, "error", err)
		return plainError(w, http.StatusBadGateway), 0
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		// Refused (403, 404...): an ordinary answer.
		defer resp.Body.Close()
		copyHeader(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		n, _ := io.Copy(w, resp.Body)
		return resp.StatusCode, n
	}
	bc.SetDeadline(time.Time{})
	hj, ok := w.(http.Hijacker)
	if !ok {
		return plainError(w, http.StatusBadGateway), 0
	}
	client, rw, err := hj.Hijack()
	if err != nil {
		return 0, 0
	}
	defer func() {
		if client != nil {
			client.Close()
		}
	}()
	// The 101 head as the worker sent it (hop-by-hop headers are the
	// point here), then what either side sent early.
	var head strings.Builder
	head.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	resp.Header.Write(&head)
	head.WriteString("\r\n")
	if _, err := io.WriteString(client, head.String()); err != nil {
		return 101, 0
	}
	if n := x.br.Buffered(); n > 0 {
		early, _ := x.br.Peek(n)
		if _, err := client.Write(early); err != nil {
			return 101, 0
		}
	}
	var early []byte
	if n := rw.Reader.Buffered(); n > 0 {
		early, _ = rw.Reader.Peek(n)
	}
	raw, more := unguard(client)
	if _, err := bc.Write(append(early, more...)); err != nil {
		return 101, 0
	}
	// An open tunnel keeps nothing of the exchange (its 32 KiB copy
	// buffer, the readers) nor net/http's buffers: only its sockets.
	x.br.Reset(nil)
	x.release()
	head101 := resp.Header
	x, rw, early, more, resp = nil, nil, nil, nil, nil
	s.logRequest(r, c, http.StatusSwitchingProtocols, 0, time.Now(), head101) // the tunnel may last for days: log its start
	// Two goroutines of their own move the bytes, and this one returns:
	// net/http's connection goroutine (a deep stack) and its state go.
	var once sync.Once
	cl, wk := client, bc
	end := func() { cl.Close(); wk.Close() }
	go func() { pipe(wk, cl); once.Do(end) }()  // worker -> client
	go func() { pipe(raw, wk); once.Do(end) }() // client -> worker
	bc, client = nil, nil
	return -1, 0
}

// pipe copies src to dst until either fails or src ends, borrowing a
// buffer only while bytes are in hand.
func pipe(src, dst io.ReadWriter) {
	sc, ok := src.(syscall.Conn)
	var raw syscall.RawConn
	if ok {
		raw, _ = sc.SyscallConn()
	}
	if raw == nil {
		bp := tunnelBuffers.Get().(*[]byte)
		io.CopyBuffer(dst, src, *bp)
		tunnelBuffers.Put(bp)
		return
	}
	for {
		var bp *[]byte
		var n int
		var rerr error
		err := raw.Read(func(fd uintptr) bool {
			bp = tunnelBuffers.Get().(*[]byte)
			for {
				n, rerr = unix.Read(int(fd), *bp)
				if rerr != unix.EINTR {
					break
				}
			}
			if rerr == unix.EAGAIN {
				tunnelBuffers.Put(bp)
				bp = nil
				return false // wait for readiness without a buffer
			}
			return true
		})
		if err == nil {
			err = rerr
		}
		if err != nil || n <= 0 {
			if bp != nil {
				tunnelBuffers.Put(bp)
			}
			return
		}
		_, werr := dst.Write((*bp)[:n])
		tunnelBuffers.Put(bp)
		if werr != nil {
			return
		}
	}
}

// unguard is the connection under the framing guard (nethttp_framing.go),
// which reads HTTP heads and would hold WebSocket frames back, with the
// bytes read from it and not yet passed on; the guard is off afterwards.
// Closing stays with the connection net/http gave (the descriptor budget).
func unguard(c net.Conn) (net.Conn, []byte) {
	switch gc := c.(type) {
	case *handoffConn:
		early := append(append(append([]byte(nil), gc.guard.out...), gc.guard.in...), gc.replay...)
		gc.guard.out, gc.guard.in, gc.guard.outBuf, gc.replay = nil, nil, nil, nil
		gc.guard.state = guardOff
		return gc.Conn, early
	case *guardedConn:
		early := append(append([]byte(nil), gc.guard.out...), gc.guard.in...)
		gc.guard.out, gc.guard.in, gc.guard.outBuf = nil, nil, nil
		gc.guard.state = guardOff
		return gc.Conn, early
	}
	return c, nil
}
