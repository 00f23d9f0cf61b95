package worker

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// response writes raw HTTP back over a uwsgi connection; the connection's
// end marks the end of the body, as uWSGI does, so nothing is buffered
// whole and http.Flusher streams.
type response struct {
	w       *bufio.Writer
	proto   string
	head    bool // HEAD: headers only
	header  http.Header
	status  int
	written int64
	hsize   int64 // bytes of the head sent
	headers int   // header lines the handler set
	count   countingBuf
	err     error
	refused error // the handler's header could split the response: 500 sent instead
}

func (r *response) Header() http.Header { return r.header }

func (r *response) WriteHeader(code int) {
	if r.status != 0 || code < 100 || code > 999 {
		return
	}
	if code < 200 { // 1xx informational: not supported over uwsgi; ignore
		return
	}
	if err := checkHeader(r.header); err != nil {
		// Response splitting: never send it. net/http's server drops such
		// headers; over uwsgi the app gets uWSGI-style 500 and a log line.
		r.refused, r.err = err, err
		r.status = http.StatusInternalServerError
		fmt.Fprintf(r.w, "%s 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", r.proto)
		return
	}
	r.status = code
	r.header.Del("Transfer-Encoding") // the close delimits the body
	c := &r.count                     // a field: counting costs no allocation
	c.w = r.w
	fmt.Fprintf(c, "%s %03d %s\r\n", r.proto, code, http.StatusText(code))
	r.header.Write(c)
	c.Write([]byte("\r\n")) // as uWSGI: no Connection header, the connection's end says it
	r.hsize = c.n
	for _, vv := range r.header {
		r.headers += len(vv)
	}
}

func (r *response) Write(p []byte) (int, error) {
	if r.status == 0 {
		if r.header.Get("Content-Type") == "" && len(p) > 0 {
			r.header.Set("Content-Type", http.DetectContentType(p))
		}
		r.WriteHeader(http.StatusOK)
	}
	if r.head || r.err != nil {
		return len(p), r.err
	}
	n, err := r.w.Write(p)
	r.written += int64(n)
	r.err = err
	return n, err
}

// Flush sends what is buffered now (server-sent events, long downloads).
func (r *response) Flush() {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if r.err == nil {
		r.err = r.w.Flush()
	}
}

// checkHeader refuses a header name that is not an RFC 9110 token and a
// value with a control byte other than tab (CR and LF above all).
func checkHeader(h http.Header) error {
	for k, vv := range h {
		if k == "" || strings.IndexFunc(k, notTokenRune) >= 0 {
			return fmt.Errorf("header name %q is not a token", k)
		}
		for _, v := range vv {
			for i := 0; i < len(v); i++ {
				if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
					return fmt.Errorf("header %s has a control byte (CR, LF, NUL...) in its value", k)
				}
			}
		}
	}
	return nil
}

func notTokenRune(c rune) bool {
	return c > 0x7e || c <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", c)
}

func (r *response) finish() error {
	if r.status == 0 {
		if r.header.Get("Content-Length") == "" {
			r.header.Set("Content-Length", strconv.Itoa(0))
		}
		r.WriteHeader(http.StatusOK)
	}
	if r.refused != nil {
		r.w.Flush() // the 500 in its place
		return r.refused
	}
	if r.err != nil {
		return r.err
	}
	return r.w.Flush()
}

// countingBuf counts what goes through it: the head's bytes, %(hsize).
type countingBuf struct {
	w *bufio.Writer
	n int64
}

func (c *countingBuf) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
