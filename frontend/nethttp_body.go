package frontend

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// errBodyTooLarge is a body over limit-post: the client gets 413.
var errBodyTooLarge = errors.New("request body over limit-post")

// spoolError is a failure on our side to buffer a body: 500, not 400.
type spoolError struct{ err error }

func (e *spoolError) Error() string { return e.err.Error() }
func (e *spoolError) Unwrap() error { return e.err }

// requestBody is what follows the vars block to the worker.
type requestBody struct {
	r      io.Reader // nil: no body
	length int64     // CONTENT_LENGTH; -1: none sent (empty var)
	spool  *os.File  // a chunked body past post-buffering, to close
}

func (b *requestBody) close() {
	if b.spool != nil {
		b.spool.Close() // unlinked when created: closing frees it
	}
}

// prepareBody decides how r's body reaches the worker. A body with a
// Content-Length streams straight through. A body of unknown length
// (chunked, or HTTP/2 without content-length) is read first, into memory
// up to postBuffering bytes and past that into an unlinked temp file, so
// the worker gets an exact CONTENT_LENGTH; uwsgi has no chunked framing.
func (s *Server) prepareBody(w http.ResponseWriter, r *http.Request) (requestBody, error) {
	limit := s.cfg.LimitPost
	switch {
	case r.ContentLength > 0:
		if limit > 0 && r.ContentLength > limit {
			return requestBody{}, errBodyTooLarge
		}
		return requestBody{r: s.clientReader(w, r.Body), length: r.ContentLength}, nil
	case r.ContentLength == 0:
		if r.Header["Content-Length"] != nil {
			return requestBody{length: 0}, nil
		}
		return requestBody{length: -1}, nil
	}
	body := s.clientReader(w, r.Body)
	defer disarm(body)
	mem := s.cfg.PostBuffering
	if limit > 0 && limit < mem {
		mem = limit
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(body, mem+1))
	if err != nil {
		return requestBody{}, err
	}
	if n <= mem {
		return requestBody{r: &buf, length: n}, nil
	}
	if limit > 0 && n > limit {
		return requestBody{}, errBodyTooLarge
	}
	f, err := os.CreateTemp(s.cfg.TempDir, "supervise-body-*")
	if err != nil {
		return requestBody{}, &spoolError{fmt.Errorf("post-buffering: temp file for a chunked body: %w", err)}
	}
	os.Remove(f.Name()) // the open file keeps the data; nothing is left behind
	rb := requestBody{spool: f}
	rest := io.Reader(body)
	if limit > 0 {
		rest = io.LimitReader(body, limit-n+1)
	}
	m, err := io.Copy(f, io.MultiReader(&buf, rest))
	if err != nil {
		rb.close()
		return requestBody{}, err
	}
	if limit > 0 && m > limit {
		rb.close()
		return requestBody{}, errBodyTooLarge
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		rb.close()
		return requestBody{}, err
	}
	rb.r, rb.length = f, m
	return rb, nil
}

// clientReader reads the client's body with body-timeout between reads
// (nginx's client_body_timeout): a client that stops sending is dropped.
func (s *Server) clientReader(w http.ResponseWriter, body io.Reader) io.Reader {
	if s.cfg.BodyTimeout <= 0 {
		return body
	}
	return &timedReader{r: body, rc: http.NewResponseController(w), timeout: s.cfg.BodyTimeout}
}

type timedReader struct {
	r       io.Reader
	rc      *http.ResponseController
	timeout time.Duration
	armed   bool
}

func (t *timedReader) Read(p []byte) (int, error) {
	if t.rc.SetReadDeadline(time.Now().Add(t.timeout)) == nil {
		t.armed = true
	}
	return t.r.Read(p)
}

// disarm clears the deadline so it cannot cut the connection later.
func disarm(r io.Reader) {
	if t, ok := r.(*timedReader); ok && t.armed {
		t.rc.SetReadDeadline(time.Time{})
		t.armed = false
	}
}
