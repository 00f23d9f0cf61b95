package worker

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
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
	err     error
}

func (r *response) Header() http.Header { return r.header }

func (r *response) WriteHeader(code int) {
	if r.status != 0 || code < 100 || code > 999 {
		return
	}
	if code < 200 { // 1xx informational: not supported over uwsgi; ignore
		return
	}
	r.status = code
	fmt.Fprintf(r.w, "%s %03d %s\r\n", r.proto, code, http.StatusText(code))
	r.header.Del("Transfer-Encoding") // the close delimits the body
	r.header.Write(r.w)
	r.w.WriteString("Connection: close\r\n\r\n")
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

func (r *response) finish() error {
	if r.status == 0 {
		if r.header.Get("Content-Length") == "" {
			r.header.Set("Content-Length", strconv.Itoa(0))
		}
		r.WriteHeader(http.StatusOK)
	}
	if r.err != nil {
		return r.err
	}
	return r.w.Flush()
}
