// Package uwsgitest is a tiny uwsgi client for tests: it speaks to a worker
// or master socket the way nginx's uwsgi_pass does.
package uwsgitest

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/supervise-go/supervise/uwsgi"
)

// What NginxVars reports for the parts of a request that come from nginx's
// configuration and connection rather than from the client.
const (
	DocumentRoot   = "/usr/share/nginx/html"
	ServerProtocol = "HTTP/1.1"
	RequestScheme  = "http"
	RemoteAddr     = "127.0.0.1"
	RemotePort     = "48522"
	ServerPort     = "80"
	ServerName     = "localhost"
)

// Do writes one uwsgi packet (modifier1 0) made of vars, then body, to conn
// in a single write, and reads the raw HTTP response the server answers
// with. The response body reads from conn: read it, then close conn (one
// request per connection). REQUEST_METHOD in vars tells ReadResponse
// whether a body follows (none for HEAD).
//
// If the write fails (the server may answer and close without reading the
// body), Do still tries to read a response, and returns the write error
// only when there is none.
func Do(conn net.Conn, vars []uwsgi.Var, body []byte) (*http.Response, error) {
	pkt, err := uwsgi.AppendPacket(make([]byte, 0, uwsgi.HeaderSize+uwsgi.BlockSize(vars)+len(body)), uwsgi.ModifierWSGI, 0, vars)
	if err != nil {
		return nil, err
	}
	pkt = append(pkt, body...)
	_, werr := conn.Write(pkt)
	method := http.MethodGet
	for _, v := range vars {
		if v.Key == "REQUEST_METHOD" && v.Value != "" {
			method = v.Value
			break
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		if werr != nil {
			return nil, werr
		}
		return nil, err
	}
	return resp, nil
}

// NginxVars builds the vars nginx 1.22 sends for a client request with
// `include uwsgi_params`, in its order: QUERY_STRING, REQUEST_METHOD,
// CONTENT_TYPE, CONTENT_LENGTH, REQUEST_URI, PATH_INFO (the decoded,
// normalised path: nginx's $document_uri), DOCUMENT_ROOT, SERVER_PROTOCOL,
// REQUEST_SCHEME, REMOTE_ADDR, REMOTE_PORT, SERVER_PORT, SERVER_NAME (the
// constants above), then one HTTP_* var per header value (HTTP_HOST first).
//
// headers are the client's. CONTENT_TYPE and CONTENT_LENGTH are empty when
// the client sent no such header; a bodyLen > 0 without a Content-Length
// header is sent as one (HTTP_CONTENT_LENGTH too), as a client would have.
// Without a Host header HTTP_HOST is ServerName. Header names holding '_'
// are dropped, as nginx does by default (underscores_in_headers off).
func NginxVars(method, uri string, headers http.Header, bodyLen int) []uwsgi.Var {
	h := headers.Clone()
	if h == nil {
		h = http.Header{}
	}
	if h.Get("Host") == "" {
		h.Set("Host", ServerName)
	}
	if bodyLen > 0 && h.Get("Content-Length") == "" {
		h.Set("Content-Length", strconv.Itoa(bodyLen))
	}
	p, query, _ := strings.Cut(uri, "?")
	vars := make([]uwsgi.Var, 0, 13+len(h)+1)
	vars = append(vars,
		uwsgi.Var{Key: "QUERY_STRING", Value: query},
		uwsgi.Var{Key: "REQUEST_METHOD", Value: method},
		uwsgi.Var{Key: "CONTENT_TYPE", Value: h.Get("Content-Type")},
		uwsgi.Var{Key: "CONTENT_LENGTH", Value: h.Get("Content-Length")},
		uwsgi.Var{Key: "REQUEST_URI", Value: uri},
		uwsgi.Var{Key: "PATH_INFO", Value: DocumentURI(p)},
		uwsgi.Var{Key: "DOCUMENT_ROOT", Value: DocumentRoot},
		uwsgi.Var{Key: "SERVER_PROTOCOL", Value: ServerProtocol},
		uwsgi.Var{Key: "REQUEST_SCHEME", Value: RequestScheme},
		uwsgi.Var{Key: "REMOTE_ADDR", Value: RemoteAddr},
		uwsgi.Var{Key: "REMOTE_PORT", Value: RemotePort},
		uwsgi.Var{Key: "SERVER_PORT", Value: ServerPort},
		uwsgi.Var{Key: "SERVER_NAME", Value: ServerName},
	)
	names := make([]string, 0, len(h))
	for name := range h {
		if name != "Host" && !strings.Contains(name, "_") {
			names = append(names, name)
		}
	}
	slices.Sort(names) // http.Header has no order; clients send Host first
	for _, name := range append([]string{"Host"}, names...) {
		key := "HTTP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		for _, v := range h[name] {
			vars = append(vars, uwsgi.Var{Key: key, Value: v})
		}
	}
	return vars
}

// DocumentURI is nginx's $document_uri for a request path: percent-decoded,
// "." and ".." resolved, slashes merged, a trailing slash kept.
func DocumentURI(p string) string {
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	clean := path.Clean(p)
	if clean != "/" && (strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")) {
		clean += "/"
	}
	return clean
}
