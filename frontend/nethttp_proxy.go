package frontend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/supervise-go/supervise/uwsgi"
)

// exchange is the per-request scratch space, pooled: the vars, the
// encoded packet, the backend reader and the copy buffer.
type exchange struct {
	vars []uwsgi.Var
	pkt  []byte
	br   *bufio.Reader
	buf  []byte
	// head and lb are fastHead's: the parsed head, the body reader.
	head answerHead
	lb   limitedBody
	hc   headCheck // between the worker and br
}

const copyBufferSize = 32 << 10

var exchanges = sync.Pool{New: func() any {
	return &exchange{
		vars: make([]uwsgi.Var, 0, 32),
		pkt:  make([]byte, 0, uwsgi.DefaultBufferSize),
		br:   bufio.NewReaderSize(nil, 8<<10),
		buf:  make([]byte, copyBufferSize),
	}
}}

func (x *exchange) release() {
	clear(x.vars) // drop the request's strings
	x.vars = x.vars[:0]
	x.br.Reset(nil)
	x.hc.reset(nil)
	x.lb = limitedBody{}
	if cap(x.pkt) > 4*uwsgi.DefaultBufferSize {
		x.pkt = make([]byte, 0, uwsgi.DefaultBufferSize) // one huge header block does not pin memory
	}
	exchanges.Put(x)
}

// backendError is a failure to write the request to the worker (it may
// still have answered: a worker may refuse a request without reading it).
type backendError struct{ err error }

func (e *backendError) Error() string { return "write to backend: " + e.err.Error() }
func (e *backendError) Unwrap() error { return e.err }

// forward sends r to a worker as a uwsgi packet and streams the worker's
// raw HTTP response back. It returns the status and body bytes sent.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, c *connInfo) (int, int64) {
	if p := takePending(r.Context()); p != nil {
		// The event loop sent this request and left the answer to us.
		defer p.conn.Close()
		x := exchanges.Get().(*exchange)
		defer x.release()
		return s.answer(w, r, c, x, p.conn, p.backend, p, p.sendErr)
	}
	body, err := s.prepareBody(w, r)
	if err != nil {
		return s.clientBodyError(w, r, err)
	}
	defer body.close()

	x := exchanges.Get().(*exchange)
	defer x.release()
	x.vars = appendVars(x.vars, r, c, body.length, s.cfg.DocumentRoot)
	pkt, err := uwsgi.AppendPacket(x.pkt[:0], uwsgi.ModifierWSGI, 0, x.vars)
	if err != nil || len(pkt)-uwsgi.HeaderSize > s.cfg.BufferSize {
		// The workers would drop it (buffer-size): say so to the client.
		return plainError(w, http.StatusRequestHeaderFieldsTooLarge), 0
	}
	x.pkt = pkt

	conn, backend, err := s.pool.connect(r.Context())
	if err != nil {
		s.noBackend(r.RequestURI, err)
		return plainError(w, http.StatusBadGateway), 0
	}
	defer conn.Close()
	// One deadline covers writing the request and reading the answer's
	// head; a body (see send) and the answer's body refresh it as they go.
	conn.SetDeadline(time.Now().Add(s.cfg.BackendTimeout))
	sendErr := s.send(conn, pkt, body.r, x.buf)
	disarm(body.r)
	var be *backendError
	if sendErr != nil && !errors.As(sendErr, &be) {
		return s.clientBodyError(w, r, sendErr)
	}
	return s.answer(w, r, c, x, conn, backend, conn, sendErr)
}

// answer reads the worker's answer from src (conn, or what the loop read
// of it first) and streams it to the client.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, c *connInfo, x *exchange, conn conn, backend *backend, src io.Reader, sendErr error) (int, int64) {
	// A client that goes away takes its backend connection with it: the
	// worker sees the close instead of writing into the void.
	stop := context.AfterFunc(r.Context(), func() { conn.Close() })
	defer stop()
	conn.SetReadDeadline(time.Now().Add(s.cfg.BackendTimeout))
	x.hc.reset(src)
	x.br.Reset(&x.hc)
	h := w.Header()
	status, respBody, ok, err := x.fastHead(h, r.Method)
	if err == nil && !ok {
		var resp *http.Response
		if resp, err = readResponse(x.br, r); err == nil {
			defer resp.Body.Close()
			copyHeader(h, resp.Header)
			status, respBody = resp.StatusCode, resp.Body
		}
	}
	if err != nil {
		if bad := (*badAnswerHead)(nil); errors.As(err, &bad) {
			s.warn("badheader", "backend's response head is not well formed (a bare CR or LF, or a control byte: a header could be split or forged); 502",
				"backend", backend.Name, "uri", r.RequestURI, "error", err)
			return plainError(w, http.StatusBadGateway), 0
		}
		if isTimeout(err) {
			s.warn("timeout", "backend did not answer within backend-timeout; 504", "backend", backend.Name,
				"uri", r.RequestURI, "timeout", s.cfg.BackendTimeout)
			return plainError(w, http.StatusGatewayTimeout), 0
		}
		if r.Context().Err() != nil {
			return 499, 0 // nginx's code for a client that closed first; nothing is sent
		}
		if sendErr != nil {
			err = errors.Join(sendErr, err)
		}
		s.warn("badresponse", "backend gave no valid HTTP response; 502", "backend", backend.Name,
			"uri", r.RequestURI, "error", err)
		return plainError(w, http.StatusBadGateway), 0
	}
	if h["Content-Type"] == nil {
		h["Content-Type"] = nil // as nginx: no type guessed from the body
	}

	w.WriteHeader(status)
	n, err := s.stream(w, respBody, x.br, conn, x.buf)
	if err != nil {
		var we *writeError
		if !errors.As(err, &we) && r.Context().Err() == nil {
			s.warn("midstream", "backend failed in the middle of a response; client connection cut", "backend", backend.Name,
				"uri", r.RequestURI, "sent", n, "error", err)
		}
		// Cut the client's connection: a clean end would pass a
		// truncated body off as complete.
		s.logRequest(r, c, status, n, time.Time{}, w.Header())
		panic(http.ErrAbortHandler)
	}
	return status, n
}

// send writes the packet and the body, the packet and the first part of
// the body in one write.
func (s *Server) send(conn conn, pkt []byte, body io.Reader, buf []byte) error {
	n := 0
	if len(pkt) <= len(buf) {
		n = copy(buf, pkt)
	} else if err := s.backendWrite(conn, pkt); err != nil {
		return err
	}
	if body == nil {
		if _, err := conn.Write(buf[:n]); err != nil { // under forward's deadline
			return &backendError{err}
		}
		return nil
	}
	if f, ok := body.(*os.File); ok && n > 0 {
		// A spooled body: the packet first, then the file.
		if err := s.backendWrite(conn, buf[:n]); err != nil {
			return err
		}
		conn.SetWriteDeadline(time.Now().Add(s.cfg.BackendTimeout))
		if _, err := io.Copy(conn, f); err != nil {
			return &backendError{err}
		}
		return nil
	}
	for {
		m, rerr := body.Read(buf[n:])
		n += m
		if n > 0 && (n == len(buf) || rerr != nil) {
			if err := s.backendWrite(conn, buf[:n]); err != nil {
				return err
			}
			n = 0
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr // the client's
		}
	}
}

func (s *Server) backendWrite(conn conn, b []byte) error {
	conn.SetWriteDeadline(time.Now().Add(s.cfg.BackendTimeout))
	if _, err := conn.Write(b); err != nil {
		return &backendError{err}
	}
	return nil
}

// headCheck passes a worker's answer through, refusing in its head what
// http.ReadResponse would let through to the client changed: a line
// ending in a bare LF (read as two header lines: an app that echoes input
// into a header would let a client add headers), a bare CR, or another
// control byte in a line (net/http writes CR and LF in values as spaces,
// the rest as they are). Its Read returns a *badAnswerHead then. After
// the head's blank line it only passes bytes on. It sees every byte on
// the way into the exchange's reader, however long the head.
type headCheck struct {
	r       io.Reader
	prevCR  bool
	lineLen int
	done    bool
}

func (h *headCheck) reset(r io.Reader) { *h = headCheck{r: r} }

func (h *headCheck) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if h.done {
		return n, err
	}
	for _, c := range p[:n] {
		switch {
		case h.prevCR:
			if c != '\n' {
				return 0, &badAnswerHead{"a bare CR in a line"}
			}
			h.prevCR = false
			if h.lineLen == 0 {
				h.done = true // the blank line ending the head
				return n, err
			}
			h.lineLen = 0
		case c == '\r':
			h.prevCR = true
		case c == '\n':
			return 0, &badAnswerHead{"a line ends in a bare LF"}
		case ctl[c]:
			return 0, &badAnswerHead{fmt.Sprintf("control byte %#02x in a line", c)}
		default:
			h.lineLen++
		}
	}
	return n, err
}

// badAnswerHead is why checkAnswerHead refused a head.
type badAnswerHead struct{ why string }

func (b *badAnswerHead) Error() string { return b.why }

// readResponse reads the worker's status line and headers, skipping
// interim 1xx responses (a worker may send 100 Continue).
func readResponse(br *bufio.Reader, r *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, r)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			if resp.StatusCode == http.StatusSwitchingProtocols {
				resp.Body.Close()
				return nil, errors.New("the worker switched protocols (101): upgrades are not forwarded")
			}
			return resp, nil
		}
	}
}

// writeError is a failed write to the client.
type writeError struct{ err error }

func (e *writeError) Error() string { return "write to client: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// stream copies the response body to the client as it arrives: whatever
// the worker has sent is flushed before waiting for more, so server-sent
// events and slow streams reach the client at once, while a response that
// arrives whole goes out in one write.
func (s *Server) stream(w http.ResponseWriter, body io.Reader, br *bufio.Reader, conn conn, buf []byte) (int64, error) {
	// A response that arrives whole (the common case) costs no deadline
	// changes here: its head's read deadline still holds, and net/http
	// writes it out after the handler returns. Only a longer one
	// refreshes the backend read deadline per read and sets send-timeout
	// on each write that may reach the client.
	var rc *http.ResponseController
	var written int64
	pending, first := false, true
	for {
		if pending && br.Buffered() == 0 {
			if rc == nil {
				rc = http.NewResponseController(w)
			}
			rc.SetWriteDeadline(time.Now().Add(s.cfg.SendTimeout))
			if err := rc.Flush(); err != nil {
				return written, &writeError{err}
			}
			pending = false
		}
		if !first {
			conn.SetReadDeadline(time.Now().Add(s.cfg.BackendTimeout))
		}
		first = false
		n, err := body.Read(buf)
		if n > 0 {
			if rc != nil {
				rc.SetWriteDeadline(time.Now().Add(s.cfg.SendTimeout))
			}
			m, werr := w.Write(buf[:n])
			written += int64(m)
			if werr != nil {
				return written, &writeError{werr}
			}
			pending = true
		}
		if err == io.EOF {
			if rc != nil {
				rc.SetWriteDeadline(time.Time{}) // the connection may serve another request
			}
			return written, nil
		}
		if err != nil {
			return written, err
		}
	}
}

// copyHeader moves the worker's headers to the client's response, minus
// hop-by-hop ones and those its Connection header names (http.ReadResponse
// drops a Connection header that says close, names and all).
func copyHeader(dst, src http.Header) {
	if conn := src["Connection"]; len(conn) > 0 {
		for _, v := range conn {
			for _, name := range connectionTokens(v) {
				delete(src, http.CanonicalHeaderKey(name))
			}
		}
	}
	for _, h := range hopHeaders {
		delete(src, h)
	}
	for k, v := range src {
		dst[k] = v
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// clientBodyError answers a request whose body could not be read.
func (s *Server) clientBodyError(w http.ResponseWriter, r *http.Request, err error) (int, int64) {
	switch {
	case errors.Is(err, errBodyTooLarge):
		return plainError(w, http.StatusRequestEntityTooLarge), 0
	case isTimeout(err):
		return plainError(w, http.StatusRequestTimeout), 0
	}
	var se *spoolError
	if errors.As(err, &se) {
		s.warn("spool", "cannot buffer a request body; 500", "error", err)
		return plainError(w, http.StatusInternalServerError), 0
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return plainError(w, http.StatusRequestEntityTooLarge), 0
	}
	return plainError(w, http.StatusBadRequest), 0
}

// plainError answers with a short text body and closes the connection
// when the request body may still be unread.
func plainError(w http.ResponseWriter, code int) int {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, http.StatusText(code)+"\n")
	return code
}
