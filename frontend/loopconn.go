package frontend

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/uwsgi"
)

// connState is where a client connection of the loop is.
type connState uint8

const (
	stRead   connState = iota // reading a request (idle when nothing has come yet)
	stWait                    // the request went to a worker; waiting for its answer's head
	stSend                    // sending the answer, relaying the rest of its body
	stQueued                  // every worker's listen queue was full: waiting to connect again
)

// loopConn is a client connection and, during an exchange, its worker's.
type loopConn struct {
	fd       int // -1 once closed or handed off
	gen      int32
	info     Conn
	state    connState
	client   readiness
	deadline time.Time

	in      []byte // what the client sent
	n       int    // bytes in in
	req     rawRequest
	headLen int // the current request's head, 0 until parsed
	scanned int // bytes of in already searched for the head's end
	reqLen  int // its head and body
	start   time.Time

	back       int // the worker's socket, -1 when none
	connecting bool
	dials      int       // backends tried for this request
	busySince  time.Time // when a full listen queue first refused it
	backGen    int32
	backend    *Backend
	worker     readiness
	backEOF    bool
	unsent     []byte // the request's rest when the worker's socket was full
	sendErr    error
	buf        []byte // the answer as read
	bn         int
	head       answerHead

	hdr        []byte // the head sent to the client
	outHead    []byte // still to write: head, then body bytes
	outBody    []byte
	remaining  int64 // body bytes still to come from the worker
	status     int
	sent       int64
	closeAfter bool
}

// readiness is what edge-triggered epoll said of a socket and the loop
// has not used up yet.
type readiness struct {
	readable, writable bool
	hup                bool // the peer closed its side, or the socket failed
}

func (r *readiness) note(events uint32) {
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		r.readable = true
	}
	if events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		r.writable = true
	}
	if events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		r.hup = true
	}
}

// drive moves c on as far as its readiness allows.
func (l *loop) drive(c *loopConn) {
	for c.fd >= 0 {
		var more bool
		switch c.state {
		case stRead:
			more = l.readRequest(c)
		case stWait:
			more = l.awaitAnswer(c)
		case stSend:
			more = l.send(c)
		case stQueued:
			if c.client.hup {
				c.status = 499
				l.logAccess(c, c.start)
				l.closeClient(c)
			}
		}
		if !more {
			return
		}
	}
}

// readRequest reads until a request is whole, then starts its exchange.
func (l *loop) readRequest(c *loopConn) bool {
	for {
		if c.n > 0 {
			if done, started := l.takeRequest(c); done {
				return started
			}
		}
		if !c.client.readable {
			return false
		}
		if c.in == nil {
			c.in = l.spare.in()
		}
		if c.n == len(c.in) { // a long head: grow (takeRequest caps it)
			c.in = append(c.in, make([]byte, len(c.in))...)
		}
		space := len(c.in) - c.n
		m, err := unix.Read(c.fd, c.in[c.n:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			c.client.readable = false
			if c.n == 0 {
				l.idle(c)
			}
			return false
		case err != nil || m == 0:
			l.closeClient(c) // gone; mid-request there is no one to answer
			return false
		}
		if c.n == 0 {
			c.deadline = l.now.Add(l.s.cfg.HeaderTimeout)
		}
		c.n += m
		if m < space && !c.client.hup {
			c.client.readable = false // drained: more data brings another edge
		}
	}
}

// takeRequest looks at what c has read: done when the request was
// started, answered, handed off or closed (started: c is still the
// loop's, in another state); not done when more bytes are needed.
func (l *loop) takeRequest(c *loopConn) (done, started bool) {
	if c.headLen == 0 {
		// Parse when the head may have ended (or on the first bytes, to
		// hand garbage off early), not on every read: a head dribbled a
		// byte at a time would cost its length squared.
		from := max(c.scanned-2, 0)
		if c.scanned > 0 && bytes.Index(c.in[from:c.n], []byte("\n\n")) < 0 && bytes.Index(c.in[from:c.n], []byte("\n\r\n")) < 0 {
			c.scanned = c.n
			return l.headTooLong(c), false
		}
		c.scanned = c.n
		if c.req.Fields == nil {
			c.req.Fields = l.spare.fields()
		}
		n, st := parseRawRequest(c.in[:c.n], &c.req)
		switch st {
		case parseIncomplete:
			return l.headTooLong(c), false
		case parseHandoff:
			l.handOff(c, false)
			return true, false
		}
		cl := max(c.req.ContentLength, 0)
		if !l.takes(c) || int64(n)+cl > loopMaxRequest {
			l.handOff(c, false)
			return true, false
		}
		c.headLen, c.reqLen = n, n+int(cl)
		if c.reqLen > len(c.in) {
			c.in = append(c.in, make([]byte, c.reqLen-len(c.in))...)
		}
		if c.n < c.reqLen {
			c.deadline = l.now.Add(l.s.cfg.BodyTimeout)
		}
	}
	if c.n < c.reqLen {
		return false, false
	}
	l.startExchange(c)
	return true, c.fd >= 0
}

// headTooLong hands off a head past net/http's limit (MaxHeaderBytes and
// its 4096 bytes of slack): net/http answers it with 431.
func (l *loop) headTooLong(c *loopConn) bool {
	if c.n <= l.s.cfg.BufferSize+4096 {
		return false
	}
	l.handOff(c, false)
	return true
}

// takes reports whether the loop serves c's parsed request; net/http
// gets the rest.
func (l *loop) takes(c *loopConn) bool {
	s, r := l.s, &c.req
	switch {
	case r.Method == http.MethodHead: // an answer without a body: net/http knows them
		return false
	case s.cfg.LimitPost > 0 && r.ContentLength > s.cfg.LimitPost:
		return false
	case len(s.cfg.TrustedProxies) > 0 && s.cfg.TrustedProxies.trusts(c.info.RemoteAddr):
		return false
	}
	if len(s.statics) > 0 {
		doc := DocumentURI(r.Path)
		for _, m := range s.statics {
			if strings.HasPrefix(doc, m.Prefix) {
				return false
			}
		}
	}
	return true
}

// startExchange sends c's request to a worker.
func (l *loop) startExchange(c *loopConn) {
	s := l.s
	c.start = l.now
	l.vars = appendRawVars(l.vars[:0], &c.req, &c.info, c.req.ContentLength, s.cfg.DocumentRoot)
	pkt, err := uwsgi.AppendPacket(l.pkt[:0], uwsgi.ModifierWSGI, 0, l.vars)
	clear(l.vars) // drop the request's strings
	if err != nil || len(pkt)-uwsgi.HeaderSize > s.cfg.BufferSize {
		l.handOff(c, false) // net/http says 431 the same way
		return
	}
	pkt = append(pkt, c.in[c.headLen:c.reqLen]...)
	if cap(pkt) <= 2*loopMaxRequest {
		l.pkt = pkt
	}
	c.dials, c.busySince = 0, time.Time{}
	l.sendTo(c, pkt)
}

// sendTo connects c to a worker and sends pkt (the loop's scratch, or
// c.unsent when a connection failed and the next backend is tried). When
// every worker's listen queue is full, c waits in the loop's queue for
// up to connect-timeout (as behind uWSGI's router; nginx would answer 502
// at once).
func (l *loop) sendTo(c *loopConn, pkt []byte) {
	err := l.trySend(c, pkt)
	if err == nil {
		return
	}
	if c.busySince.IsZero() {
		c.busySince = l.now
	}
	if limit := c.busySince.Add(l.s.cfg.ConnectTimeout); errors.Is(err, errAllBusy) && l.now.Before(limit) {
		c.unsent = append(c.unsent[:0], pkt...)
		l.s.backlogWaits.Add(1)
		c.state = stQueued
		c.deadline = limit
		l.queued = append(l.queued, c)
		return
	}
	l.s.noBackend(c.req.Target, err)
	l.answerPlain(c, http.StatusBadGateway)
}

// retryQueued connects the requests waiting for room in a listen queue,
// oldest first, until one still finds no room.
func (l *loop) retryQueued() {
	if l.now.Before(l.nextRetry) {
		return
	}
	l.nextRetry = l.now.Add(loopRetry)
	kept, full := 0, false
	for _, c := range l.queued {
		if c.fd < 0 || c.state != stQueued {
			continue // answered or gone meanwhile
		}
		if !full {
			err := l.trySend(c, c.unsent)
			if err == nil {
				continue
			}
			if !errors.Is(err, errAllBusy) {
				l.s.noBackend(c.req.Target, err)
				l.answerPlain(c, http.StatusBadGateway)
				l.drive(c)
				continue
			}
			full = true
		}
		l.queued[kept] = c
		kept++
	}
	clear(l.queued[kept:])
	l.queued = l.queued[:kept]
}

// trySend connects c to a worker and sends pkt; on an error nothing was
// done (the caller answers or queues).
func (l *loop) trySend(c *loopConn, pkt []byte) error {
	s := l.s
	var fd int
	var connecting bool
	b, err := s.pool.try(nil, func(b *Backend) (err error) {
		fd, connecting, err = dialNonblock(b)
		return err
	})
	if err != nil {
		return err
	}
	c.back, c.backend, c.connecting = fd, b, connecting
	c.dials++
	w := 0
	for w < len(pkt) && !connecting {
		m, err := unix.Write(fd, pkt[w:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			// The worker may still have answered (it may refuse a
			// request without reading it): read what it said.
			c.sendErr = os.NewSyscallError("write", err)
			break
		}
		w += m
	}
	events := uint32(unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET)
	if w < len(pkt) && c.sendErr == nil {
		c.unsent = append(c.unsent[:0], pkt[w:]...) // pkt may be c.unsent: copy moves down
		events |= unix.EPOLLOUT
	} else {
		c.unsent = c.unsent[:0]
	}
	l.gen = (l.gen + 1) &^ kindClient
	c.backGen = l.gen
	l.track(fd, c) // before anything may closeBackend, which clears its slot
	if err := l.watch(fd, events, c.backGen); err != nil {
		l.closeBackend(c)
		s.warn("backend", "epoll_ctl failed; 502", "error", err)
		l.answerPlain(c, http.StatusBadGateway)
		return nil
	}
	c.state = stWait
	if connecting {
		c.deadline = l.now.Add(s.cfg.ConnectTimeout)
	} else {
		c.deadline = l.now.Add(s.cfg.BackendTimeout)
	}
	return nil
}

// connected finishes a TCP connect: false when it failed (the next
// backend is tried, or the client gets 502).
func (l *loop) connected(c *loopConn, timedOut bool) bool {
	var err error
	if timedOut {
		err = unix.ETIMEDOUT
	} else if soerr, gerr := unix.GetsockoptInt(c.back, unix.SOL_SOCKET, unix.SO_ERROR); gerr != nil {
		err = gerr
	} else if soerr != 0 {
		err = unix.Errno(soerr)
	}
	if err == nil {
		c.connecting = false
		c.deadline = l.now.Add(l.s.cfg.BackendTimeout)
		return true
	}
	err = os.NewSyscallError("connect", err)
	l.s.pool.markDead(c.backend, err)
	pkt := c.unsent // the whole request: nothing went out
	l.closeBackend(c)
	if c.dials < len(l.s.pool.backends) {
		l.sendTo(c, pkt)
		return false
	}
	l.s.noBackend(c.req.Target, err)
	l.answerPlain(c, http.StatusBadGateway)
	return false
}

// awaitAnswer finishes sending the request and reads the answer's head.
// A plain answer is sent on by the loop; anything else goes to net/http
// with the worker's connection.
func (l *loop) awaitAnswer(c *loopConn) bool {
	if c.client.hup {
		l.abort(c)
		return false
	}
	if c.connecting {
		if !c.worker.writable {
			return false
		}
		if !l.connected(c, false) {
			return true // on to the next backend, or the 502
		}
	}
	if len(c.unsent) > 0 && c.worker.writable {
		l.sendRest(c)
	}
	if !c.worker.readable {
		return false
	}
	if c.buf == nil {
		c.buf = l.getBuffer()
	}
	for c.bn < len(c.buf) && !c.backEOF {
		space := len(c.buf) - c.bn
		m, err := unix.Read(c.back, c.buf[c.bn:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			c.worker.readable = false
			break
		}
		if err != nil || m == 0 {
			c.backEOF = true
			break
		}
		c.bn += m
		if m < space && !c.worker.hup {
			c.worker.readable = false
			break
		}
	}
	if c.head.fields == nil {
		c.head.fields = l.spare.spans()
	}
	complete, plain := scanAnswerHead(c.buf[:c.bn], &c.head)
	if !complete && !c.backEOF && c.bn < len(c.buf) {
		return false // more to come
	}
	if !complete || !plain || c.head.contentLength < 0 {
		l.handOff(c, true) // net/http re-frames answers of unknown length
		return false
	}
	l.startAnswer(c)
	return true
}

// sendRest writes the part of the request the worker's socket did not
// take at first.
func (l *loop) sendRest(c *loopConn) {
	for len(c.unsent) > 0 {
		m, err := unix.Write(c.back, c.unsent)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			c.worker.writable = false
			return
		}
		if err != nil {
			c.sendErr = os.NewSyscallError("write", err)
			c.unsent = c.unsent[:0]
			return
		}
		c.unsent = c.unsent[m:]
	}
}

// startAnswer builds the client's head from the worker's: its status and
// headers minus the hop-by-hop ones, a Date when it has none, and the
// Connection header this connection needs.
func (l *loop) startAnswer(c *loopConn) {
	h := &c.head
	c.closeAfter = c.req.Close || l.stopping.Load()
	if c.hdr == nil {
		c.hdr = l.spare.hdr()
	}
	hdr := c.hdr[:0]
	if c.req.Minor == 0 {
		hdr = append(hdr, "HTTP/1.0 "...)
	} else {
		hdr = append(hdr, "HTTP/1.1 "...)
	}
	hdr = append(hdr, c.buf[9:h.statusEnd]...)
	if h.statusEnd == 12 { // no reason phrase
		hdr = append(append(hdr, ' '), http.StatusText(h.status)...)
	}
	hdr = append(hdr, "\r\n"...)
	for _, f := range h.fields {
		if !isHopHeader(c.buf[f.ns:f.ne]) {
			hdr = append(hdr, c.buf[f.ls:f.le]...)
		}
	}
	if !h.hasDate {
		hdr = append(hdr, l.dateHeader()...)
	}
	hdr = l.connectionHeader(c, hdr)
	c.hdr = append(hdr, "\r\n"...)
	body := c.buf[h.end:c.bn]
	if int64(len(body)) > h.contentLength {
		body = body[:h.contentLength]
	}
	c.outHead, c.outBody = c.hdr, body
	c.remaining = h.contentLength - int64(len(body))
	c.status, c.sent = h.status, 0
	c.state = stSend
	c.deadline = l.now.Add(l.s.cfg.SendTimeout)
	l.s.loopAnswered.Add(1)
}

// send writes the answer out, reading more of its body from the worker
// only when the client has taken what was read: a slow client slows the
// worker's socket down, and nothing piles up here. The deadline moves
// only with progress: send also runs on events that are none (bytes a
// client sends while not reading its answer).
func (l *loop) send(c *loopConn) bool {
	progressed := false
	for {
		if len(c.outHead)+len(c.outBody) > 0 {
			if !c.client.writable {
				if progressed {
					c.deadline = l.now.Add(l.s.cfg.SendTimeout)
				}
				return false
			}
			if !l.write(c) {
				if progressed && c.fd >= 0 { // the socket is full: waiting for the client now
					c.deadline = l.now.Add(l.s.cfg.SendTimeout)
				}
				return false
			}
			progressed = true
			continue
		}
		if c.remaining == 0 {
			l.finish(c)
			return c.fd >= 0
		}
		if c.client.hup {
			l.abort(c)
			return false
		}
		if c.backEOF {
			l.midstream(c, io.ErrUnexpectedEOF)
			return false
		}
		if !c.worker.readable {
			if progressed {
				c.deadline = l.now.Add(l.s.cfg.BackendTimeout)
			}
			return false
		}
		want := int(min(int64(len(c.buf)), c.remaining))
		m, err := unix.Read(c.back, c.buf[:want])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			c.worker.readable = false
			continue
		case err != nil:
			l.midstream(c, os.NewSyscallError("read", err))
			return false
		case m == 0:
			l.midstream(c, io.ErrUnexpectedEOF)
			return false
		}
		if m < want && !c.worker.hup {
			c.worker.readable = false
		}
		c.remaining -= int64(m)
		c.outBody = c.buf[:m]
		progressed = true
	}
}

// write sends what is pending to the client: false when it has to wait
// or the client is gone.
func (l *loop) write(c *loopConn) bool {
	var m int
	var err error
	if len(c.outHead) > 0 && len(c.outBody) > 0 {
		m, err = unix.Writev(c.fd, [][]byte{c.outHead, c.outBody})
	} else if len(c.outHead) > 0 {
		m, err = unix.Write(c.fd, c.outHead)
	} else {
		m, err = unix.Write(c.fd, c.outBody)
	}
	switch {
	case err == unix.EINTR:
		return true
	case err == unix.EAGAIN:
		c.client.writable = false
		return false
	case err != nil:
		c.client.hup = true
		l.abort(c) // the client is gone: nothing to cut
		return false
	}
	h := min(m, len(c.outHead))
	c.outHead = c.outHead[h:]
	c.outBody = c.outBody[m-h:]
	c.sent += int64(m - h)
	return true
}

// connectionHeader says what happens to the connection after this
// answer, as net/http does: close on HTTP/1.1, keep-alive on an HTTP/1.0
// connection that stays (closing is HTTP/1.0's default).
func (l *loop) connectionHeader(c *loopConn, hdr []byte) []byte {
	switch {
	case c.closeAfter && c.req.Minor == 1:
		return append(hdr, "Connection: close\r\n"...)
	case !c.closeAfter && c.req.Minor == 0:
		return append(hdr, "Connection: keep-alive\r\n"...)
	}
	return hdr
}

// answerPlain answers c's request with a short error of the front end's
// own, as plainError does.
func (l *loop) answerPlain(c *loopConn, code int) {
	l.closeBackend(c)
	c.closeAfter = c.closeAfter || c.req.Close || l.stopping.Load()
	text := http.StatusText(code) + "\n"
	if c.hdr == nil {
		c.hdr = l.spare.hdr()
	}
	hdr := c.hdr[:0]
	if c.req.Minor == 0 {
		hdr = append(hdr, "HTTP/1.0 "...)
	} else {
		hdr = append(hdr, "HTTP/1.1 "...)
	}
	hdr = append(hdr, strconv.Itoa(code)...)
	hdr = append(append(append(hdr, ' '), http.StatusText(code)...), "\r\n"...)
	hdr = append(hdr, "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"...)
	hdr = append(hdr, l.dateHeader()...)
	hdr = append(append(append(hdr, "Content-Length: "...), strconv.Itoa(len(text))...), "\r\n"...)
	hdr = l.connectionHeader(c, hdr)
	c.hdr = append(append(hdr, "\r\n"...), text...)
	c.outHead, c.outBody, c.remaining = c.hdr, nil, 0
	c.status, c.sent = code, 0
	l.s.loopAnswered.Add(1)
	if c.start.IsZero() {
		c.start = l.now
	}
	c.state = stSend
	c.deadline = l.now.Add(l.s.cfg.SendTimeout)
}

// finish ends an exchange whose answer is out: the connection waits for
// the next request, or closes.
func (l *loop) finish(c *loopConn) {
	l.closeBackend(c)
	l.logAccess(c, c.start)
	// drained: Shutdown came after this answer started as keep-alive;
	// drain closed the idle connections already, this one closes now.
	if c.closeAfter || l.drained {
		unix.Shutdown(c.fd, unix.SHUT_WR)
		l.closeClient(c)
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

// abort ends an exchange whose client went away: the worker's connection
// closes with it, so the worker sees the close instead of writing into
// the void.
func (l *loop) abort(c *loopConn) {
	status := c.status
	if c.state == stWait {
		status = 499 // nginx's code for a client that closed first
	}
	c.status = status
	l.logAccess(c, c.start)
	l.closeClient(c)
}

// midstream cuts a client whose answer the worker did not finish: a
// clean end would pass a truncated body off as complete.
func (l *loop) midstream(c *loopConn, err error) {
	l.s.warn("midstream", "backend failed in the middle of a response; client connection cut", "backend", c.backend.Name,
		"uri", c.req.Target, "sent", c.sent, "error", err)
	l.logAccess(c, time.Time{})
	l.closeClient(c)
}

// timeout acts on a deadline that passed.
func (l *loop) timeout(c *loopConn) {
	switch {
	case c.state == stRead && c.reqLen > 0: // a body that stopped coming
		c.closeAfter = true
		l.answerPlain(c, http.StatusRequestTimeout)
		l.drive(c)
	case c.state == stRead: // idle, or a head that never ended
		l.closeClient(c)
	case c.state == stQueued:
		l.s.noBackend(c.req.Target, errAllBusy)
		l.answerPlain(c, http.StatusBadGateway)
		l.drive(c)
	case c.state == stWait && c.connecting:
		l.connected(c, true)
		l.drive(c)
	case c.state == stWait:
		l.s.warn("timeout", "backend did not answer within backend-timeout; 504", "backend", c.backend.Name,
			"uri", c.req.Target, "timeout", l.s.cfg.BackendTimeout)
		l.answerPlain(c, http.StatusGatewayTimeout)
		l.drive(c)
	case len(c.outHead)+len(c.outBody) > 0: // the client stopped reading
		l.logAccess(c, time.Time{})
		l.closeClient(c)
	default:
		l.midstream(c, os.ErrDeadlineExceeded)
	}
}

func (l *loop) logAccess(c *loopConn, start time.Time) {
	if !l.s.cfg.DisableLogging {
		l.s.logLine(c.req.Method, c.req.Target, c.req.Proto, c.status, c.sent, start, c.info.RemoteAddr)
	}
}

func (l *loop) closeBackend(c *loopConn) {
	if c.back >= 0 {
		unix.Close(c.back) // leaves the epoll set with it
		l.conns[c.back] = nil
		c.back = -1
	}
	if c.buf != nil {
		l.putBuffer(c.buf)
		c.buf = nil
	}
	c.bn, c.unsent, c.sendErr = 0, c.unsent[:0], nil
	c.worker, c.backEOF, c.connecting = readiness{}, false, false
}

func (l *loop) closeClient(c *loopConn) {
	l.closeBackend(c)
	if c.fd >= 0 {
		unix.Close(c.fd)
		l.conns[c.fd] = nil
		c.fd = -1
		l.live--
		l.idle(c)
		l.s.fds.release()
		l.resumeAccept()
	}
}

// handOff gives c to net/http, with the worker's connection when one
// already has the request (withBackend).
func (l *loop) handOff(c *loopConn, withBackend bool) {
	var pending *pendingAnswer
	if withBackend && c.back >= 0 {
		unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.back, nil)
		l.conns[c.back] = nil
		read := append([]byte(nil), c.buf[:c.bn]...)
		pending = &pendingAnswer{conn: os.NewFile(uintptr(c.back), "uwsgi"), backend: c.backend, read: read, sendErr: c.sendErr}
		c.back = -1
	}
	l.closeBackend(c)
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil) // the epoll set holds the socket, not the fd
	l.conns[c.fd] = nil
	fd, replay, info := c.fd, c.in[:c.n], c.info
	c.fd = -1
	l.live--
	l.s.handedOff.Add(1)
	go func() {
		if err := l.s.handOff(fd, replay, info, pending); err != nil && err != errHandoffClosed {
			l.s.warn("handoff", "cannot pass a connection to net/http; closed", "error", err)
		}
	}()
}
