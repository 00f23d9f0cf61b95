package frontend

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/supervise-go/supervise/uwsgi"
)

// The fast path's request head parser: it reads an HTTP/1.x head from
// raw bytes and builds the same uwsgi vars as net/http + Vars would, for
// the plain requests that make up nearly all traffic. Anything unusual it
// hands off, and net/http serves (or refuses) it as before; so every rule
// below either matches net/http's server exactly or is stricter.

// parseStatus is what parseRawRequest made of the bytes so far.
type parseStatus int

const (
	parseIncomplete parseStatus = iota // no CRLFCRLF yet: read more
	parseOK                            // a request the fast path serves
	parseHandoff                       // net/http must see it (invalid, or something the fast path leaves alone)
)

type rawField struct{ Name, Value string } // name as sent; value with leading/trailing SP/HTAB trimmed

// rawRequest is an HTTP/1.x request head parsed from the bytes a client
// sent. Every string is a slice of one string copy of the head.
type rawRequest struct {
	Method        string
	Target        string     // the request-target as sent; origin-form only (starts with '/')
	Path          string     // the target's path, percent-decoded, as net/http's r.URL.Path
	RawQuery      string     // after the first '?', as sent, as r.URL.RawQuery
	Proto         string     // "HTTP/1.0" or "HTTP/1.1"
	Minor         int        // 0 or 1
	Host          string     // as r.Host
	ContentType   string     // the first Content-Type value, "" if none
	ContentLength int64      // -1: no Content-Length header; else its value
	Close         bool       // as net/http's server sets r.Close: the connection ends after this request
	Fields        []rawField // every header line in order (reuse the slice's capacity across requests)

	contentLengthText string // the Content-Length value as sent, to send it back without formatting
}

// parseRawRequest parses the request head at the start of buf into r and
// returns the head's length (through the blank line) with parseOK.
//
// It returns parseIncomplete while buf holds no blank line yet and
// nothing seen so far rules the request out: the caller reads more, and
// caps how much (net/http answers heads beyond Server.MaxHeaderBytes
// with 431; hand those off). A bare LF, or a first line that cannot
// start a method, hands off at once rather than waiting for a CRLFCRLF
// that may never come. Unless the status is parseOK, r holds nothing
// meaningful. parseRawRequest does not keep buf.
func parseRawRequest(buf []byte, r *rawRequest) (int, parseStatus) {
	n, st := rawHeadLength(buf)
	if st != parseOK {
		return 0, st
	}
	if !r.parse(string(buf[:n])) {
		return 0, parseHandoff
	}
	return n, parseOK
}

// rawHeadLength finds the blank line ending the head: every line must end
// in CRLF.
func rawHeadLength(buf []byte) (int, parseStatus) {
	start := 0 // of the current line
	for {
		i := bytes.IndexByte(buf[start:], '\n')
		if i < 0 {
			break
		}
		i += start
		if i == 0 || buf[i-1] != '\r' {
			return 0, parseHandoff // bare LF: net/http's to judge
		}
		if i-1 == start { // an empty line
			if start == 0 {
				return 0, parseHandoff // no request line (net/http skips these only after a POST)
			}
			return i + 1, parseOK
		}
		start = i + 1
	}
	// Incomplete: rule out what cannot become a request we serve, such
	// as a TLS handshake on the plain port, without waiting for more.
	first := buf
	if i := bytes.IndexByte(buf, '\r'); i >= 0 {
		first = buf[:i]
	}
	for _, c := range first {
		if c == ' ' {
			break
		}
		if !rawTchar[c] {
			return 0, parseHandoff
		}
	}
	return 0, parseIncomplete
}

// parse fills r from the head s (ending in CRLFCRLF); false hands off.
func (r *rawRequest) parse(s string) bool {
	*r = rawRequest{Fields: r.Fields[:0], ContentLength: -1}

	// Request line: METHOD SP TARGET SP HTTP/1.x CRLF.
	i := 0
	for i < len(s) && rawTchar[s[i]] {
		i++
	}
	if i == 0 || i == len(s) || s[i] != ' ' {
		return false
	}
	r.Method = s[:i]
	if r.Method == "CONNECT" {
		return false // net/http gives CONNECT its own Host and target rules
	}
	i++
	t := i
	query, escaped := -1, false
	for ; i < len(s) && s[i] != ' '; i++ {
		switch c := s[i]; {
		case c < 0x21 || c > 0x7e || c == '#':
			return false
		case c == '?':
			if query < 0 {
				query = i
			}
		case c == '%':
			if query < 0 {
				escaped = true
			}
		}
	}
	if i == t || s[t] != '/' || i == len(s) {
		return false
	}
	r.Target = s[t:i]
	path := r.Target
	if query >= 0 {
		path, r.RawQuery = s[t:query], s[query+1:i]
	}
	r.Path = path
	if escaped {
		var ok bool
		if r.Path, ok = rawUnescapePath(path); !ok {
			return false
		}
	}
	i++
	switch {
	case strings.HasPrefix(s[i:], "HTTP/1.1\r\n"):
		r.Minor = 1
	case strings.HasPrefix(s[i:], "HTTP/1.0\r\n"):
	default:
		return false
	}
	r.Proto = s[i : i+8]
	i += len("HTTP/1.x\r\n")

	// Header lines, up to the empty line that ends s.
	hosts, lengths := 0, 0
	hasClose, hasKeepAlive, haveType := false, false, false
	for s[i] != '\r' {
		name := i
		for rawTchar[s[i]] {
			i++
		}
		if i == name || s[i] != ':' {
			return false // empty or bad name, space before ':', or obs-fold
		}
		f := rawField{Name: s[name:i]}
		i++
		for s[i] == ' ' || s[i] == '\t' {
			i++
		}
		v := i
		eol := v + strings.IndexByte(s[v:], '\r') // s ends in CRLF: never -1
		for ; i < eol; i++ {
			if rawCTL[s[i]] {
				return false // a CTL net/http refuses with 400
			}
		}
		if s[i+1] != '\n' {
			return false // a CR inside the line
		}
		i += 2
		end := eol // after the value's last non-blank byte
		for end > v && (s[end-1] == ' ' || s[end-1] == '\t') {
			end--
		}
		f.Value = s[v:end]
		r.Fields = append(r.Fields, f)

		switch rawHeaderID(f.Name) {
		case rawHdrHost:
			hosts++
			if hosts > 1 || !rawValidHost(f.Value) {
				return false
			}
			r.Host = f.Value
		case rawHdrContentLength:
			lengths++
			n, ok := rawContentLength(f.Value)
			if lengths > 1 || !ok {
				return false
			}
			r.ContentLength, r.contentLengthText = n, f.Value
		case rawHdrContentType:
			if !haveType {
				r.ContentType, haveType = f.Value, true
			}
		case rawHdrConnection:
			hasClose = hasClose || rawHasToken(f.Value, "close")
			hasKeepAlive = hasKeepAlive || rawHasToken(f.Value, "keep-alive")
		case rawHdrHandoff:
			return false
		}
	}
	if s[i+1] != '\n' {
		return false // a line starting with a bare CR
	}
	if r.Minor == 1 {
		if hosts != 1 {
			return false
		}
		r.Close = hasClose
	} else {
		r.Close = hasClose || !hasKeepAlive
	}
	return true
}

// The headers the parser or the vars treat specially.
const (
	rawHdrOther = iota
	rawHdrHost
	rawHdrContentLength
	rawHdrContentType
	rawHdrConnection
	rawHdrCookie
	rawHdrPragma
	rawHdrCacheControl
	rawHdrHandoff // Transfer-Encoding, Trailer, Expect, Upgrade: net/http's business
)

// rawHeaderID classifies a header name, ASCII case-insensitively.
func rawHeaderID(name string) int {
	switch len(name) {
	case 4:
		if rawEqualLower(name, "host") {
			return rawHdrHost
		}
	case 6:
		if rawEqualLower(name, "cookie") {
			return rawHdrCookie
		}
		if rawEqualLower(name, "pragma") {
			return rawHdrPragma
		}
		if rawEqualLower(name, "expect") {
			return rawHdrHandoff
		}
	case 7:
		if rawEqualLower(name, "upgrade") {
			return rawHdrHandoff
		}
		if rawEqualLower(name, "trailer") {
			return rawHdrHandoff
		}
	case 10:
		if rawEqualLower(name, "connection") {
			return rawHdrConnection
		}
	case 12:
		if rawEqualLower(name, "content-type") {
			return rawHdrContentType
		}
	case 13:
		if rawEqualLower(name, "cache-control") {
			return rawHdrCacheControl
		}
	case 14:
		if rawEqualLower(name, "content-length") {
			return rawHdrContentLength
		}
	case 17:
		if rawEqualLower(name, "transfer-encoding") {
			return rawHdrHandoff
		}
	}
	return rawHdrOther
}

// rawEqualLower reports whether s equals lower, a lower-case ASCII
// string, ignoring the case of s's ASCII letters.
func rawEqualLower(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// rawEqualFold reports whether a and b are equal ignoring the case of
// their ASCII letters.
func rawEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// rawHasToken is httpguts.HeaderValuesContainsToken for one value and
// a lower-case token: v's comma-separated elements, trimmed of SP and
// HTAB, compared ASCII case-insensitively.
func rawHasToken(v, token string) bool {
	for {
		elem, rest, more := strings.Cut(v, ",")
		if rawEqualLower(strings.Trim(elem, " \t"), token) {
			return true
		}
		if !more {
			return false
		}
		v = rest
	}
}

// rawContentLength is net/http's: one unsigned decimal that fits in 63
// bits (leading zeros allowed, no sign, not empty).
func rawContentLength(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		d := v[i] - '0'
		if d > 9 || n > (1<<63-1-int64(d))/10 {
			return 0, false
		}
		n = n*10 + int64(d)
	}
	return n, true
}

// rawUnescapePath percent-decodes a request path as url.ParseRequestURI
// does ('+' stays '+'); false for a '%' not followed by two hex digits,
// and for %00.
func rawUnescapePath(p string) (string, bool) {
	b := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' {
			if i+2 >= len(p) || !rawIsHex(p[i+1]) || !rawIsHex(p[i+2]) {
				return "", false
			}
			c = rawUnhex(p[i+1])<<4 | rawUnhex(p[i+2])
			if c == 0 {
				return "", false // %00: net/http's path refuses it (server.go)
			}
			i += 2
		}
		b = append(b, c)
	}
	return string(b), true
}

func rawIsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func rawUnhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// rawTchar holds the RFC 9110 tchar bytes, those net/http allows in
// methods and header names (isTokenByte's, as a table for the hot loops).
var rawTchar = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = isTokenByte(byte(c))
	}
	return t
}()

// rawCTL holds the bytes net/http refuses in header values: the
// controls but HTAB, and DEL.
var rawCTL = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = c != '\t'
	}
	t[0x7f] = true
	return t
}()

// rawValidHost is httpguts.ValidHostHeader, which net/http's server
// applies to the Host header: only bytes some host, IPv6 literal or port
// expression may hold.
func rawValidHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !rawHostByte[h[i]] {
			return false
		}
	}
	return true
}

var rawHostByte = func() (t [256]bool) {
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

// appendRawVars is Vars for a rawRequest: the same keys and values;
// HTTP_* vars in the order the headers came (first occurrence's position
// for repeated ones). contentLength as in Vars (-1: none).
func appendRawVars(dst []uwsgi.Var, r *rawRequest, c *Conn, contentLength int64, documentRoot string) []uwsgi.Var {
	cl := ""
	if contentLength >= 0 {
		if contentLength == r.ContentLength && rawCanonicalDecimal(r.contentLengthText) {
			cl = r.contentLengthText
		} else {
			cl = strconv.FormatInt(contentLength, 10)
		}
	}
	dst = appendFixedVars(dst, fixedVars{query: r.RawQuery, method: r.Method, contentType: r.ContentType,
		contentLength: cl, requestURI: r.Target, path: r.Path, proto: r.Proto, host: r.Host}, c, documentRoot)
	if len(r.Fields) <= rawMaxScanFields {
		dst = appendRawHeaderVars(dst, r.Fields)
	} else {
		dst = appendManyRawHeaderVars(dst, r.Fields)
	}
	if cl != "" && r.ContentLength >= 0 {
		dst = append(dst, uwsgi.Var{Key: "HTTP_CONTENT_LENGTH", Value: cl})
	}
	return dst
}

// rawMaxScanFields is how many header lines appendRawHeaderVars handles by
// comparing names pairwise; beyond it a map keeps the work linear.
const rawMaxScanFields = 32

// appendRawHeaderVars appends one HTTP_* var per header name, in the order
// the names first came, repeated ones joined as Vars joins them.
func appendRawHeaderVars(dst []uwsgi.Var, fields []rawField) []uwsgi.Var {
	cacheControl, pragmaNoCache := false, false
	for i, f := range fields {
		id := rawHeaderID(f.Name)
		if rawSkipVar(id, f.Name) {
			continue
		}
		if rawSeenBefore(fields, i) {
			continue
		}
		cacheControl = cacheControl || id == rawHdrCacheControl
		pragmaNoCache = pragmaNoCache || id == rawHdrPragma && f.Value == "no-cache"
		value := f.Value
		for _, g := range fields[i+1:] {
			if rawEqualFold(g.Name, f.Name) {
				value += rawJoinSep(id) + g.Value
			}
		}
		dst = append(dst, uwsgi.Var{Key: rawHeaderKey(f.Name), Value: value})
	}
	return appendRawPragmaCacheControl(dst, pragmaNoCache, cacheControl)
}

// appendManyRawHeaderVars is appendRawHeaderVars for many header lines.
func appendManyRawHeaderVars(dst []uwsgi.Var, fields []rawField) []uwsgi.Var {
	cacheControl, pragmaNoCache := false, false
	type group struct {
		id     int
		values []string
	}
	var keys []string
	groups := map[string]*group{}
	for _, f := range fields {
		id := rawHeaderID(f.Name)
		if rawSkipVar(id, f.Name) {
			continue
		}
		// Names without '_' have distinct keys exactly when they differ
		// other than in case.
		key := rawHeaderKey(f.Name)
		if g := groups[key]; g != nil {
			g.values = append(g.values, f.Value)
			continue
		}
		cacheControl = cacheControl || id == rawHdrCacheControl
		pragmaNoCache = pragmaNoCache || id == rawHdrPragma && f.Value == "no-cache"
		keys = append(keys, key)
		groups[key] = &group{id: id, values: []string{f.Value}}
	}
	for _, key := range keys {
		g := groups[key]
		dst = append(dst, uwsgi.Var{Key: key, Value: strings.Join(g.values, rawJoinSep(g.id))})
	}
	return appendRawPragmaCacheControl(dst, pragmaNoCache, cacheControl)
}

// rawSkipVar reports whether Vars sends no HTTP_* var for the header.
func rawSkipVar(id int, name string) bool {
	switch id {
	case rawHdrHost, rawHdrContentLength, rawHdrHandoff:
		return true // Host is HTTP_HOST; Content-Length comes from the body's length
	}
	return strings.IndexByte(name, '_') >= 0 // as nginx drops them
}

func rawJoinSep(id int) string {
	if id == rawHdrCookie {
		return "; "
	}
	return ", "
}

// appendRawPragmaCacheControl adds what net/http's ReadRequest adds to a
// request whose first Pragma is "no-cache" and has no Cache-Control
// (fixPragmaCacheControl), so Vars sends it too.
func appendRawPragmaCacheControl(dst []uwsgi.Var, pragmaNoCache, cacheControl bool) []uwsgi.Var {
	if pragmaNoCache && !cacheControl {
		dst = append(dst, uwsgi.Var{Key: "HTTP_CACHE_CONTROL", Value: "no-cache"})
	}
	return dst
}

// rawSeenBefore reports whether a field before fields[i] has its name.
func rawSeenBefore(fields []rawField, i int) bool {
	for _, f := range fields[:i] {
		if rawEqualFold(f.Name, fields[i].Name) {
			return true
		}
	}
	return false
}

// rawCanonicalDecimal reports whether s is how strconv.FormatInt writes a
// non-negative number: digits, no leading zero unless it is "0".
func rawCanonicalDecimal(s string) bool {
	return s != "" && (s[0] != '0' || s == "0")
}

// rawKeys maps header names, as browsers and tools send them (canonical
// or lower case), to their HTTP_* keys, so the usual headers cost no
// allocation.
var rawKeys = func() map[string]string {
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

// rawHeaderKey is headerKey for a name as sent.
func rawHeaderKey(name string) string {
	if k, ok := rawKeys[name]; ok {
		return k
	}
	return buildKey(name)
}
