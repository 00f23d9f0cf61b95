package frontend

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// connState is where a client connection of the loop is.
type connState uint8

const (
	stRead   connState = iota // reading a request (idle when nothing has come yet)
	stWait                    // the request went to a worker; waiting for its answer's head
	stSend                    // sending the answer, relaying the rest of its body
	stQueued                  // every worker's listen queue was full: waiting to connect again
)

// clientConn is the client side of the loop's protocol: a client's
// connection, the request it reads and the answer it writes. During an
// exchange it holds its worker's connection (loop_worker.go); the
// exchange itself, from request to answer, is in loop_exchange.go.
type clientConn struct {
	l        *loop
	sock     loopSocket // sock.fd is -1 once closed or handed off
	info     connInfo
	state    connState
	deadline time.Time

	in      []byte // what the client sent
	n       int    // bytes in in
	req     rawRequest
	headLen int // the current request's head, 0 until parsed
	scanned int // bytes of in already searched for the head's end
	reqLen  int // its head and body
	start   time.Time

	hdr        []byte // the head sent to the client
	outHead    []byte // still to write: head, then body bytes
	outBody    []byte
	status     int
	sent       int64
	closeAfter bool

	worker workerConn
}

// drive moves c on as far as its sockets' readiness allows.
func (c *clientConn) drive() {
	for c.sock.fd >= 0 {
		var more bool
		switch c.state {
		case stRead:
			more = c.readRequest()
		case stWait:
			more = c.awaitAnswer()
		case stSend:
			more = c.send()
		case stQueued:
			c.waitQueued()
		}
		if !more {
			return
		}
	}
}

// readRequest reads until a request is whole, then starts its exchange.
func (c *clientConn) readRequest() bool {
	l := c.l
	for {
		if c.n > 0 {
			if done, started := c.takeRequest(); done {
				return started
			}
		}
		if !c.sock.readable {
			return false
		}
		if c.in == nil {
			c.in = l.spare.in()
		}
		if c.n == len(c.in) { // a long head: grow (takeRequest caps it)
			c.in = append(c.in, make([]byte, len(c.in))...)
		}
		m, err := c.sock.read(c.in[c.n:])
		if err != nil {
			c.close() // gone; mid-request there is no one to answer
			return false
		}
		if m == 0 {
			if c.n == 0 {
				l.idle(c)
			}
			return false
		}
		if c.n == 0 {
			c.deadline = l.now.Add(l.s.cfg.HeaderTimeout)
		}
		c.n += m
	}
}

// takeRequest looks at what c has read: done when the request was
// started, answered, handed off or closed (started: c is still the
// loop's, in another state); not done when more bytes are needed.
func (c *clientConn) takeRequest() (done, started bool) {
	if c.headLen == 0 {
		if !c.mayHaveHead() {
			return c.headTooLong(), false
		}
		if c.req.Fields == nil {
			c.req.Fields = c.l.spare.fields()
		}
		n, st := parseRawRequest(c.in[:c.n], &c.req)
		switch st {
		case parseIncomplete:
			return c.headTooLong(), false
		case parseHandoff:
			c.handOff(false)
			return true, false
		}
		if !c.takeHead(n) {
			c.handOff(false)
			return true, false
		}
	}
	if c.n < c.reqLen {
		return false, false
	}
	c.startExchange()
	return true, c.sock.fd >= 0
}

// mayHaveHead reports whether the head may have ended in the bytes read
// since the last look (or these are the first bytes, to hand garbage off
// early): a head dribbled a byte at a time is not parsed on every read,
// which would cost its length squared.
func (c *clientConn) mayHaveHead() bool {
	from := max(c.scanned-2, 0)
	first := c.scanned == 0
	c.scanned = c.n
	return first || bytes.Index(c.in[from:c.n], []byte("\n\n")) >= 0 || bytes.Index(c.in[from:c.n], []byte("\n\r\n")) >= 0
}

// takeHead sizes the request whose head (n bytes) was parsed: false when
// the loop does not serve it.
func (c *clientConn) takeHead(n int) bool {
	cl := max(c.req.ContentLength, 0)
	if !c.takes() || int64(n)+cl > loopMaxRequest {
		return false
	}
	c.headLen, c.reqLen = n, n+int(cl)
	if c.reqLen > len(c.in) {
		c.in = append(c.in, make([]byte, c.reqLen-len(c.in))...)
	}
	if c.n < c.reqLen {
		c.deadline = c.l.now.Add(c.l.s.cfg.BodyTimeout)
	}
	return true
}

// headTooLong hands off a head past net/http's limit (MaxHeaderBytes and
// its 4096 bytes of slack): net/http answers it with 431.
func (c *clientConn) headTooLong() bool {
	if c.n <= c.l.s.cfg.BufferSize+4096 {
		return false
	}
	c.handOff(false)
	return true
}

// takes reports whether the loop serves c's parsed request; net/http
// gets the rest.
func (c *clientConn) takes() bool {
	s, r := c.l.s, &c.req
	switch {
	case r.Method == http.MethodHead: // an answer without a body: net/http knows them
		return false
	case s.cfg.LimitPost > 0 && r.ContentLength > s.cfg.LimitPost:
		return false
	case len(s.cfg.TrustedProxies) > 0 && s.cfg.TrustedProxies.trusts(c.info.RemoteAddr):
		return false
	}
	if len(s.statics) > 0 {
		doc := documentURI(r.Path)
		for _, m := range s.statics {
			if strings.HasPrefix(doc, m.Prefix) {
				return false
			}
		}
	}
	return true
}

// send writes the answer out, reading more of its body from the worker
// only when the client has taken what was read: a slow client slows the
// worker's socket down, and nothing piles up here. The deadline moves
// only with progress: send also runs on events that are none (bytes a
// client sends while not reading its answer).
func (c *clientConn) send() bool {
	cfg := &c.l.s.cfg
	progressed := false
	for {
		switch {
		case len(c.outHead)+len(c.outBody) > 0:
			if !c.sock.writable || !c.write() {
				return c.wait(progressed, cfg.SendTimeout) // the client's socket is full
			}
		case c.worker.remaining == 0:
			c.finish()
			return c.sock.fd >= 0
		case !c.relayBody():
			return c.wait(progressed, cfg.BackendTimeout)
		}
		progressed = true
	}
}

// wait ends a step of send that has to wait: the deadline moves when the
// step made progress.
func (c *clientConn) wait(progressed bool, timeout time.Duration) bool {
	if progressed && c.sock.fd >= 0 {
		c.deadline = c.l.now.Add(timeout)
	}
	return false
}

// write sends what is pending to the client: false when it has to wait
// or the client is gone.
func (c *clientConn) write() bool {
	var m int
	var err error
	if len(c.outHead) > 0 && len(c.outBody) > 0 {
		m, err = c.sock.writev(c.outHead, c.outBody)
	} else if len(c.outHead) > 0 {
		m, err = c.sock.write(c.outHead)
	} else {
		m, err = c.sock.write(c.outBody)
	}
	if err != nil {
		c.sock.hup = true
		c.abort() // the client is gone: nothing to cut
		return false
	}
	if m == 0 {
		return false
	}
	h := min(m, len(c.outHead))
	c.outHead = c.outHead[h:]
	c.outBody = c.outBody[m-h:]
	c.sent += int64(m - h)
	return true
}

// statusLine starts the client's head in c.hdr: the version the client
// spoke.
func (c *clientConn) statusLine() []byte {
	if c.hdr == nil {
		c.hdr = c.l.spare.hdr()
	}
	if c.req.Minor == 0 {
		return append(c.hdr[:0], "HTTP/1.0 "...)
	}
	return append(c.hdr[:0], "HTTP/1.1 "...)
}

// connectionHeader says what happens to the connection after this
// answer, as net/http does: close on HTTP/1.1, keep-alive on an HTTP/1.0
// connection that stays (closing is HTTP/1.0's default).
func (c *clientConn) connectionHeader(hdr []byte) []byte {
	switch {
	case c.closeAfter && c.req.Minor == 1:
		return append(hdr, "Connection: close\r\n"...)
	case !c.closeAfter && c.req.Minor == 0:
		return append(hdr, "Connection: keep-alive\r\n"...)
	}
	return hdr
}

// finish ends an exchange whose answer is out: the connection waits for
// the next request, or closes.
func (c *clientConn) finish() {
	l := c.l
	c.closeWorker()
	c.logAccess(c.start)
	// drained: Shutdown came after this answer started as keep-alive;
	// drain closed the idle connections already, this one closes now.
	if c.closeAfter || l.drained {
		unix.Shutdown(c.sock.fd, unix.SHUT_WR)
		c.close()
		return
	}
	c.n = copy(c.in, c.in[c.reqLen:c.n])
	c.headLen, c.reqLen, c.scanned = 0, 0, 0
	c.start = time.Time{}
	if len(c.in) > loopInBuffer && c.n <= loopInBuffer {
		c.in = append(make([]byte, 0, loopInBuffer), c.in[:c.n]...)[:loopInBuffer]
	}
	c.state = stRead
	if c.n == 0 {
		c.deadline = l.now.Add(l.s.cfg.IdleTimeout)
		l.idle(c)
	} else {
		c.deadline = l.now.Add(l.s.cfg.HeaderTimeout)
	}
}

func (c *clientConn) logAccess(start time.Time) {
	s := c.l.s
	if !s.logs(c.status, c.sent, start) {
		return
	}
	c.logFormatted(start)
}

// close closes the client's connection, and its worker's.
func (c *clientConn) close() {
	l := c.l
	c.closeWorker()
	if c.sock.fd >= 0 {
		unix.Close(c.sock.fd)
		l.conns[c.sock.fd] = nil
		c.sock.fd = -1
		l.live--
		l.idle(c)
		l.s.fds.release()
		l.resumeAccept()
	}
}

// closeWorker closes the worker's connection, if any.
func (c *clientConn) closeWorker() { c.worker.close(c.l) }

// handOff gives c to net/http, with the worker's connection when one
// already has the request (withWorker).
func (c *clientConn) handOff(withWorker bool) {
	l := c.l
	var pending *pendingAnswer
	if withWorker {
		pending = c.worker.detach(l)
	}
	c.closeWorker()
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.sock.fd, nil) // the epoll set holds the socket, not the fd
	l.conns[c.sock.fd] = nil
	fd, replay, info := c.sock.fd, c.in[:c.n], c.info
	c.sock.fd = -1
	l.live--
	l.s.handedOff.Add(1)
	go func() {
		if err := l.s.handOff(fd, replay, info, pending); err != nil && err != errHandoffClosed {
			l.s.warn("handoff", "cannot pass a connection to net/http; closed", "error", err)
		}
	}()
}
