package frontend

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/supervise-go/supervise/uwsgi"
)

// An exchange is one request of a client's connection (loop_client.go)
// sent to a worker and its answer sent back (loop_worker.go): connect,
// wait for room in a full listen queue, read the answer's head, relay its
// body, or answer with the front end's own error.

// startExchange sends c's request to a worker.
func (c *clientConn) startExchange() {
	l, s := c.l, c.l.s
	c.start = l.now
	l.vars = appendRawVars(l.vars[:0], &c.req, &c.info, c.req.ContentLength, s.cfg.DocumentRoot)
	pkt, err := uwsgi.AppendPacket(l.pkt[:0], uwsgi.ModifierWSGI, 0, l.vars)
	clear(l.vars) // drop the request's strings
	if err != nil || len(pkt)-uwsgi.HeaderSize > s.cfg.BufferSize {
		c.handOff(false) // net/http says 431 the same way
		return
	}
	pkt = append(pkt, c.in[c.headLen:c.reqLen]...)
	if cap(pkt) <= 2*loopMaxRequest {
		l.pkt = pkt
	}
	c.worker.dials, c.worker.busySince = 0, time.Time{}
	c.sendTo(pkt)
}

// sendTo connects c to a worker and sends pkt (the loop's scratch, or
// the worker's unsent bytes when a connection failed and the next
// backend is tried). When every worker's listen queue is full, c waits
// in the loop's queue for up to connect-timeout (as behind uWSGI's
// router; nginx would answer 502 at once).
func (c *clientConn) sendTo(pkt []byte) {
	l, w := c.l, &c.worker
	err := c.trySend(pkt)
	if err == nil {
		return
	}
	if w.busySince.IsZero() {
		w.busySince = l.now
	}
	if limit := w.busySince.Add(l.s.cfg.ConnectTimeout); errors.Is(err, errAllBusy) && l.now.Before(limit) {
		w.unsent = append(w.unsent[:0], pkt...)
		l.s.backlogWaits.Add(1)
		c.state = stQueued
		c.deadline = limit
		l.queued = append(l.queued, c)
		return
	}
	l.s.noBackend(c.req.Target, err)
	c.answerPlain(http.StatusBadGateway)
}

// trySend connects c to a worker and sends pkt; on an error nothing was
// done (the caller answers or queues).
func (c *clientConn) trySend(pkt []byte) error {
	l, w := c.l, &c.worker
	if err := w.dial(l.s.pool, pkt); err != nil {
		return err
	}
	l.gen = (l.gen + 1) &^ kindClient
	w.sock.gen = l.gen
	l.track(w.sock.fd, c) // before anything may close it, which clears its slot
	if err := l.watch(w.sock.fd, w.events(), w.sock.gen); err != nil {
		c.closeWorker()
		l.s.warn("backend", "epoll_ctl failed; 502", "error", err)
		c.answerPlain(http.StatusBadGateway)
		return nil
	}
	c.state = stWait
	if w.connecting {
		c.deadline = l.now.Add(l.s.cfg.ConnectTimeout)
	} else {
		c.deadline = l.now.Add(l.s.cfg.BackendTimeout)
	}
	return nil
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
		if c.sock.fd < 0 || c.state != stQueued {
			continue // answered or gone meanwhile
		}
		if !full {
			err := c.trySend(c.worker.unsent)
			if err == nil {
				continue
			}
			if !errors.Is(err, errAllBusy) {
				l.s.noBackend(c.req.Target, err)
				c.answerPlain(http.StatusBadGateway)
				c.drive()
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

// waitQueued watches a client waiting in the loop's queue: one that
// leaves is logged with nginx's 499.
func (c *clientConn) waitQueued() {
	if c.sock.hup {
		c.status = 499
		c.logAccess(c.start)
		c.close()
	}
}

// connected finishes a TCP connect: false when it failed (the next
// backend is tried, or the client gets 502).
func (c *clientConn) connected(timedOut bool) bool {
	l, w := c.l, &c.worker
	err := w.connectError(timedOut)
	if err == nil {
		w.connecting = false
		c.deadline = l.now.Add(l.s.cfg.BackendTimeout)
		return true
	}
	l.s.pool.markDead(w.backend, err)
	pkt := w.unsent // the whole request: nothing went out
	c.closeWorker()
	if w.dials < len(l.s.pool.backends) {
		c.sendTo(pkt)
		return false
	}
	l.s.noBackend(c.req.Target, err)
	c.answerPlain(http.StatusBadGateway)
	return false
}

// awaitAnswer finishes sending the request and reads the answer's head.
// A plain answer is sent on by the loop; anything else goes to net/http
// with the worker's connection.
func (c *clientConn) awaitAnswer() bool {
	w := &c.worker
	if c.sock.hup {
		c.abort()
		return false
	}
	if w.connecting {
		if !w.sock.writable {
			return false
		}
		if !c.connected(false) {
			return true // on to the next backend, or the 502
		}
	}
	if len(w.unsent) > 0 && w.sock.writable {
		w.sendRest()
	}
	if !w.sock.readable {
		return false
	}
	done, plain := w.readHead(c.l)
	switch {
	case !done:
		return false
	case !plain:
		c.handOff(true)
		return false
	}
	c.startAnswer()
	return true
}

// startAnswer builds the client's head from the worker's: its status and
// headers minus the hop-by-hop ones, a Date when it has none, and the
// Connection header this connection needs.
func (c *clientConn) startAnswer() {
	l, w, h := c.l, &c.worker, &c.worker.head
	c.closeAfter = c.req.Close || l.stopping.Load()
	hdr := c.statusLine()
	hdr = append(hdr, w.buf[9:h.statusEnd]...)
	if h.statusEnd == 12 { // no reason phrase
		hdr = append(append(hdr, ' '), http.StatusText(h.status)...)
	}
	hdr = append(hdr, "\r\n"...)
	for _, f := range h.fields {
		if !isHopHeader(w.buf[f.ns:f.ne]) {
			hdr = append(hdr, w.buf[f.ls:f.le]...)
		}
	}
	if !h.hasDate {
		hdr = append(hdr, l.dateHeader()...)
	}
	hdr = c.connectionHeader(hdr)
	c.hdr = append(hdr, "\r\n"...)
	body := w.buf[h.end:w.bn]
	if int64(len(body)) > h.contentLength {
		body = body[:h.contentLength]
	}
	c.outHead, c.outBody = c.hdr, body
	w.remaining = h.contentLength - int64(len(body))
	c.status, c.sent = h.status, 0
	c.state = stSend
	c.deadline = l.now.Add(l.s.cfg.SendTimeout)
	l.s.loopAnswered.Add(1)
}

// relayBody reads more of the answer's body for the client: false when
// it has to wait for the worker, or the exchange ended.
func (c *clientConn) relayBody() bool {
	w := &c.worker
	for {
		switch {
		case c.sock.hup:
			c.abort()
			return false
		case w.eof:
			c.midstream(io.ErrUnexpectedEOF)
			return false
		case !w.sock.readable:
			return false
		}
		body, err := w.readBody()
		if err != nil {
			c.midstream(err)
			return false
		}
		if len(body) > 0 {
			c.outBody = body
			return true
		}
	}
}

// answerPlain answers c's request with a short error of the front end's
// own, as plainError does.
func (c *clientConn) answerPlain(code int) {
	l := c.l
	c.closeWorker()
	c.closeAfter = c.closeAfter || c.req.Close || l.stopping.Load()
	text := http.StatusText(code) + "\n"
	hdr := c.statusLine()
	hdr = append(hdr, strconv.Itoa(code)...)
	hdr = append(append(append(hdr, ' '), http.StatusText(code)...), "\r\n"...)
	hdr = append(hdr, "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"...)
	hdr = append(hdr, l.dateHeader()...)
	hdr = append(append(append(hdr, "Content-Length: "...), strconv.Itoa(len(text))...), "\r\n"...)
	hdr = c.connectionHeader(hdr)
	c.hdr = append(append(hdr, "\r\n"...), text...)
	c.outHead, c.outBody, c.worker.remaining = c.hdr, nil, 0
	c.status, c.sent = code, 0
	l.s.loopAnswered.Add(1)
	if c.start.IsZero() {
		c.start = l.now
	}
	c.state = stSend
	c.deadline = l.now.Add(l.s.cfg.SendTimeout)
}

// abort ends an exchange whose client went away: the worker's connection
// closes with it, so the worker sees the close instead of writing into
// the void.
func (c *clientConn) abort() {
	if c.state == stWait {
		c.status = 499 // nginx's code for a client that closed first
	}
	c.logAccess(c.start)
	c.close()
}

// midstream cuts a client whose answer the worker did not finish: a
// clean end would pass a truncated body off as complete.
func (c *clientConn) midstream(err error) {
	c.l.s.warn("midstream", "backend failed in the middle of a response; client connection cut", "backend", c.worker.backend.Name,
		"uri", c.req.Target, "sent", c.sent, "error", err)
	c.logAccess(time.Time{})
	c.close()
}

// timeout acts on a deadline that passed.
func (c *clientConn) timeout() {
	l := c.l
	switch {
	case c.state == stRead && c.reqLen > 0: // a body that stopped coming
		c.closeAfter = true
		c.answerPlain(http.StatusRequestTimeout)
		c.drive()
	case c.state == stRead: // idle, or a head that never ended
		c.close()
	case c.state == stQueued:
		l.s.noBackend(c.req.Target, errAllBusy)
		c.answerPlain(http.StatusBadGateway)
		c.drive()
	case c.state == stWait && c.worker.connecting:
		c.connected(true)
		c.drive()
	case c.state == stWait:
		l.s.warn("timeout", "backend did not answer within backend-timeout; 504", "backend", c.worker.backend.Name,
			"uri", c.req.Target, "timeout", l.s.cfg.BackendTimeout)
		c.answerPlain(http.StatusGatewayTimeout)
		c.drive()
	case len(c.outHead)+len(c.outBody) > 0: // the client stopped reading
		c.logAccess(time.Time{})
		c.close()
	default:
		c.midstream(os.ErrDeadlineExceeded)
	}
}
