package frontend

import (
	"net/http"
	"strings"
)

// The ASCII and header tables every parser here uses (like net/http's
// httpguts): the event loop's request parser (loop_request.go) and
// answer scanner (response.go), the framing guard in front of net/http
// (nethttp_framing.go), the uwsgi vars (vars.go) and the net/http proxy
// (nethttp_proxy.go). HTTP's names and tokens are ASCII and compared
// ignoring the case of their letters only; strings.EqualFold would also
// fold Unicode (K and the Kelvin sign).

// lowerASCII maps a byte to its lower case: A-Z to a-z, the rest as is.
var lowerASCII = func() (t [256]byte) {
	for c := range t {
		t[c] = byte(c)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c - 'A' + 'a')
	}
	return t
}()

// equalFold reports whether a and b are equal ignoring the case of their
// ASCII letters.
func equalFold[T ~string | ~[]byte](a T, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lowerASCII[a[i]] != lowerASCII[b[i]] {
			return false
		}
	}
	return true
}

// hasToken is httpguts.HeaderValuesContainsToken for one value: v's
// comma-separated elements, trimmed of SP and HTAB, compared ASCII
// case-insensitively with token.
func hasToken(v, token string) bool {
	for {
		elem, rest, more := strings.Cut(v, ",")
		if equalFold(strings.Trim(elem, " \t"), token) {
			return true
		}
		if !more {
			return false
		}
		v = rest
	}
}

// connectionTokens are the names a Connection header value lists, minus
// close and keep-alive: the headers it asks a proxy to drop.
func connectionTokens(v string) []string {
	var out []string
	for {
		elem, rest, more := strings.Cut(v, ",")
		if tok := strings.Trim(elem, " \t"); tok != "" && !equalFold(tok, "close") && !equalFold(tok, "keep-alive") {
			out = append(out, tok)
		}
		if !more {
			return out
		}
		v = rest
	}
}

// tchar holds the RFC 9110 tchar bytes, those net/http allows in methods
// and header names.
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// ctl holds the bytes net/http refuses in header values: the controls
// but HTAB, and DEL.
var ctl = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = c != '\t'
	}
	t[0x7f] = true
	return t
}()

// validHost is httpguts.ValidHostHeader, which net/http's server applies
// to the Host header: only bytes some host, IPv6 literal or port
// expression may hold.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !hostByte[h[i]] {
			return false
		}
	}
	return true
}

var hostByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!$%&()*+,-.:;=[']_~" {
		t[c] = true
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// hopHeaders are per connection (RFC 9110 7.6.1): never forwarded.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Te", "Trailer", "Upgrade"}

// isHopHeader reports whether a header name, in any case, is hop-by-hop.
func isHopHeader[T ~string | ~[]byte](name T) bool {
	for _, h := range hopHeaders {
		if equalFold(name, h) {
			return true
		}
	}
	return false
}

// The headers the request parser, the framing guard or the vars treat
// specially.
const (
	hdrOther = iota
	hdrHost
	hdrContentLength
	hdrContentType
	hdrConnection
	hdrCookie
	hdrPragma
	hdrCacheControl
	hdrHandoff // Transfer-Encoding, Trailer, Expect, Upgrade: net/http's business
)

// headerID classifies a header name, ASCII case-insensitively.
func headerID(name string) int {
	switch len(name) {
	case 4:
		if equalFold(name, "host") {
			return hdrHost
		}
	case 6:
		if equalFold(name, "cookie") {
			return hdrCookie
		}
		if equalFold(name, "pragma") {
			return hdrPragma
		}
		if equalFold(name, "expect") {
			return hdrHandoff
		}
	case 7:
		if equalFold(name, "upgrade") {
			return hdrHandoff
		}
		if equalFold(name, "trailer") {
			return hdrHandoff
		}
	case 10:
		if equalFold(name, "connection") {
			return hdrConnection
		}
	case 12:
		if equalFold(name, "content-type") {
			return hdrContentType
		}
	case 13:
		if equalFold(name, "cache-control") {
			return hdrCacheControl
		}
	case 14:
		if equalFold(name, "content-length") {
			return hdrContentLength
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			return hdrHandoff
		}
	}
	return hdrOther
}

// headerKeys maps header names, as browsers and tools send them
// (canonical or lower case), to their HTTP_* keys, so the usual headers
// cost no allocation. Read-only after init.
var headerKeys = func() map[string]string {
	m := map[string]string{}
	for _, h := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Cache-Control", "Connection",
		"Content-Type", "Cookie", "Origin", "Pragma", "Referer", "User-Agent", "Upgrade-Insecure-Requests",
		"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "X-Real-IP", "X-Requested-With",
		"Authorization", "If-Modified-Since", "If-None-Match", "If-Range", "Range", "Sec-Fetch-Mode",
		"Sec-Fetch-Site", "Sec-Fetch-Dest", "Sec-Fetch-User", "Dnt", "DNT", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile",
		"Sec-Ch-Ua-Platform", "Sec-GPC", "Sec-Gpc", "Priority", "Keep-Alive", "Te", "TE", "Content-Encoding", "Via",
		"Forwarded", "X-Forwarded-Port", "X-Request-Id", "X-Request-ID"} {
		k := buildKey(h)
		m[h] = k
		m[strings.ToLower(h)] = k
	}
	return m
}()

// headerKey is the HTTP_* var name of a header name.
func headerKey(name string) string {
	if k, ok := headerKeys[name]; ok {
		return k
	}
	return buildKey(name)
}

func buildKey(name string) string {
	b := make([]byte, 0, 5+len(name))
	b = append(b, "HTTP_"...)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

// canonicalKey is http.CanonicalHeaderKey without an allocation for the
// names workers usually send.
func canonicalKey(name string) string {
	switch name {
	case "Content-Type", "content-type":
		return "Content-Type"
	case "Content-Length", "content-length":
		return "Content-Length"
	case "Set-Cookie", "set-cookie":
		return "Set-Cookie"
	case "Cache-Control", "cache-control":
		return "Cache-Control"
	case "Location", "location":
		return "Location"
	case "Date", "date":
		return "Date"
	case "Server", "server":
		return "Server"
	case "Connection", "connection":
		return "Connection"
	}
	return http.CanonicalHeaderKey(name)
}
