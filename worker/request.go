package worker

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"github.com/supervise-go/supervise/uwsgi"
)

// newRequest turns the vars nginx's uwsgi_params sends into the request
// net/http would have built from the same client request.
func newRequest(p *uwsgi.Packet, body io.Reader) (*http.Request, error) {
	r := &http.Request{Header: http.Header{}, Body: http.NoBody}
	var path, query, host, remoteAddr, remotePort string
	var https bool
	for _, v := range p.Vars {
		switch v.Key {
		case "REQUEST_METHOD":
			r.Method = v.Value
		case "REQUEST_URI":
			r.RequestURI = v.Value
		case "PATH_INFO":
			path = v.Value
		case "QUERY_STRING":
			query = v.Value
		case "SERVER_PROTOCOL":
			r.Proto = v.Value
		case "CONTENT_TYPE":
			if v.Value != "" {
				r.Header.Set("Content-Type", v.Value)
			}
		case "CONTENT_LENGTH":
			if v.Value != "" {
				n, err := strconv.ParseInt(v.Value, 10, 64)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("bad CONTENT_LENGTH %q", v.Value)
				}
				r.ContentLength = n
			}
		case "REMOTE_ADDR":
			remoteAddr = v.Value
		case "REMOTE_PORT":
			remotePort = v.Value
		case "SERVER_NAME":
			if host == "" {
				host = v.Value
			}
		case "HTTPS":
			https = https || strings.EqualFold(v.Value, "on") || v.Value == "1"
		case "REQUEST_SCHEME":
			https = https || v.Value == "https"
		default:
			if name, ok := strings.CutPrefix(v.Key, "HTTP_"); ok {
				if name == "CONTENT_TYPE" || name == "CONTENT_LENGTH" {
					continue // nginx repeats them; CONTENT_* are authoritative
				}
				key := textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(name, "_", "-"))
				r.Header.Add(key, v.Value)
				if key == "Host" {
					host = v.Value
				}
			}
		}
	}
	if r.Method == "" {
		return nil, fmt.Errorf("no REQUEST_METHOD")
	}
	if r.Proto == "" {
		r.Proto = "HTTP/1.0"
	}
	var ok bool
	if r.ProtoMajor, r.ProtoMinor, ok = http.ParseHTTPVersion(r.Proto); !ok {
		return nil, fmt.Errorf("bad SERVER_PROTOCOL %q", r.Proto)
	}
	if r.RequestURI == "" {
		r.RequestURI = path
		if query != "" {
			r.RequestURI += "?" + query
		}
	}
	u, err := url.ParseRequestURI(r.RequestURI)
	if err != nil {
		return nil, fmt.Errorf("bad REQUEST_URI %q: %w", r.RequestURI, err)
	}
	r.URL = u
	r.Host = host
	if https {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	if remoteAddr != "" {
		r.RemoteAddr = net.JoinHostPort(remoteAddr, remotePort)
	}
	if r.ContentLength > 0 {
		r.Body = &requestBody{r: body, left: r.ContentLength}
	}
	return r, nil
}

// requestBody is a uwsgi request's body: CONTENT_LENGTH bytes of the
// connection. One that ends early is io.ErrUnexpectedEOF, and a failed
// read is remembered (log-ioerror, %(rerr)).
type requestBody struct {
	r      io.Reader
	left   int64
	failed bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		b.failed = true
	}
	if err == nil && b.left == 0 {
		err = io.EOF
	}
	return n, err
}

func (b *requestBody) Close() error { return nil }

// bodyFailed reports whether reading r's body failed.
func bodyFailed(r *http.Request) bool {
	b, ok := r.Body.(*requestBody)
	return ok && b.failed
}
