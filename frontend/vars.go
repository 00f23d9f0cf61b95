package frontend

import (
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/supervise-go/supervise/uwsgi"
)

// connInfo is what the vars need to know about the client connection: set
// once per connection (see newConnInfo), not parsed again per request.
type connInfo struct {
	RemoteAddr, RemotePort string // the peer, or the client a trusted proxy names
	ServerAddr, ServerPort string // the local end the client connected to
	HTTPS                  bool
}

// appendVars appends the uwsgi vars nginx's /etc/nginx/uwsgi_params sends for r
// to dst, in its order: QUERY_STRING, REQUEST_METHOD, CONTENT_TYPE,
// CONTENT_LENGTH, REQUEST_URI, PATH_INFO (decoded and normalised, nginx's
// $document_uri), DOCUMENT_ROOT, SERVER_PROTOCOL, REQUEST_SCHEME, HTTPS
// (only when on), REMOTE_ADDR, REMOTE_PORT, SERVER_PORT, SERVER_NAME, then
// HTTP_HOST and one HTTP_* var per other header.
//
// contentLength is the body's exact length, -1 when the client sent no
// body and no Content-Length (CONTENT_LENGTH is then empty, as nginx's). Headers whose
// names hold '_' are dropped, as nginx does (underscores_in_headers off),
// so "X_Forwarded_For" cannot pose as X-Forwarded-For. Repeated headers
// are joined into one var (", ", or "; " for Cookie) so apps that keep
// environ in a dict see every value. HTTP_HOST is the request's host with
// its port, as nginx 1.30's $host$is_request_port$request_port.
func appendVars(dst []uwsgi.Var, r *http.Request, c *connInfo, contentLength int64, documentRoot string) []uwsgi.Var {
	cl := ""
	if contentLength >= 0 {
		cl = strconv.FormatInt(contentLength, 10)
	}
	dst = appendFixedVars(dst, fixedVars{query: r.URL.RawQuery, method: r.Method, contentType: headerValue(r.Header["Content-Type"]),
		contentLength: cl, requestURI: requestURI(r), path: r.URL.Path, proto: r.Proto, host: r.Host}, c, documentRoot)
	for name, values := range r.Header {
		if len(values) == 0 || strings.IndexByte(name, '_') >= 0 {
			continue
		}
		switch name {
		case "Content-Length":
			continue // added below from the exact length
		case "Host", "Transfer-Encoding", "Trailer":
			continue // net/http moves Host to r.Host; the body arrives de-chunked
		}
		value := values[0]
		if len(values) > 1 {
			sep := ", "
			if name == "Cookie" {
				sep = "; "
			}
			value = strings.Join(values, sep)
		}
		dst = append(dst, uwsgi.Var{Key: headerKey(name), Value: value})
	}
	if cl != "" && (r.Header["Content-Length"] != nil || len(r.TransferEncoding) > 0) {
		dst = append(dst, uwsgi.Var{Key: "HTTP_CONTENT_LENGTH", Value: cl})
	}
	return dst
}

// fixedVars are the request's parts the vars before HTTP_* are made of.
type fixedVars struct {
	query, method, contentType, contentLength, requestURI string
	path                                                  string // decoded
	proto, host                                           string
}

// appendFixedVars appends the vars uwsgi_params sends before the HTTP_*
// ones, in its order, for appendVars and appendRawVars alike.
func appendFixedVars(dst []uwsgi.Var, f fixedVars, c *connInfo, documentRoot string) []uwsgi.Var {
	scheme := "http"
	if c.HTTPS {
		scheme = "https"
	}
	host := f.host
	serverName := hostname(host)
	if serverName == "" {
		serverName = c.ServerAddr
		host = serverName
	}
	dst = append(dst,
		uwsgi.Var{Key: "QUERY_STRING", Value: f.query},
		uwsgi.Var{Key: "REQUEST_METHOD", Value: f.method},
		uwsgi.Var{Key: "CONTENT_TYPE", Value: f.contentType},
		uwsgi.Var{Key: "CONTENT_LENGTH", Value: f.contentLength},
		uwsgi.Var{Key: "REQUEST_URI", Value: f.requestURI},
		uwsgi.Var{Key: "PATH_INFO", Value: documentURI(f.path)},
		uwsgi.Var{Key: "DOCUMENT_ROOT", Value: documentRoot},
		uwsgi.Var{Key: "SERVER_PROTOCOL", Value: f.proto},
		uwsgi.Var{Key: "REQUEST_SCHEME", Value: scheme},
	)
	if c.HTTPS {
		dst = append(dst, uwsgi.Var{Key: "HTTPS", Value: "on"})
	}
	return append(dst,
		uwsgi.Var{Key: "REMOTE_ADDR", Value: c.RemoteAddr},
		uwsgi.Var{Key: "REMOTE_PORT", Value: c.RemotePort},
		uwsgi.Var{Key: "SERVER_PORT", Value: c.ServerPort},
		uwsgi.Var{Key: "SERVER_NAME", Value: serverName},
		uwsgi.Var{Key: "HTTP_HOST", Value: host},
	)
}

func headerValue(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// requestURI is nginx's $request_uri: the request target as sent, but
// for an absolute-form target ("GET http://host/x") only its path and
// query, as nginx keeps.
func requestURI(r *http.Request) string {
	u := r.RequestURI
	if u == "" || u[0] == '/' || u == "*" {
		return u
	}
	return r.URL.RequestURI()
}

// hostname is host without its port, lowercased when it holds capitals.
func hostname(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}

// documentURI is nginx's $document_uri for an already-decoded path: "."
// and ".." resolved (never above "/"), slashes merged, a trailing slash
// kept. Paths that need none of it are returned as they are.
func documentURI(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] == '/' && !needsClean(p) {
		return p
	}
	if p[0] != '/' {
		p = "/" + p
	}
	clean := path.Clean(p)
	if clean != "/" && (strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")) {
		clean += "/"
	}
	return clean
}

// needsClean reports whether p holds "//", "/./", "/../" or ends in "/."
// or "/..".
func needsClean(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' || i+1 == len(p) {
			continue
		}
		rest := p[i+1:]
		if rest[0] == '/' {
			return true
		}
		if rest[0] == '.' {
			if len(rest) == 1 || rest[1] == '/' {
				return true
			}
			if rest[1] == '.' && (len(rest) == 2 || rest[2] == '/') {
				return true
			}
		}
	}
	return false
}
