package frontend

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/supervise-go/supervise/uwsgi"
)

// The fast path's request head parser: it reads an HTTP/1.x head from
// raw bytes and builds the same uwsgi vars as net/http + appendVars would, for
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
		if !tchar[c] {
			return 0, parseHandoff
		}
	}
	return 0, parseIncomplete
}

// parse fills r from the head s (ending in CRLFCRLF); false hands off.
func (r *rawRequest) parse(s string) bool {
	*r = rawRequest{Fields: r.Fields[:0], ContentLength: -1}
	i, ok := r.parseRequestLine(s)
	return ok && r.parseFields(s, i)
}

// parseRequestLine reads METHOD SP TARGET SP HTTP/1.x CRLF: where the
// header lines start.
func (r *rawRequest) parseRequestLine(s string) (int, bool) {
	i := 0
	for i < len(s) && tchar[s[i]] {
		i++
	}
	if i == 0 || i == len(s) || s[i] != ' ' {
		return 0, false
	}
	r.Method = s[:i]
	if r.Method == "CONNECT" {
		return 0, false // net/http gives CONNECT its own Host and target rules
	}
	i, ok := r.parseTarget(s, i+1)
	if !ok {
		return 0, false
	}
	i++
	switch {
	case strings.HasPrefix(s[i:], "HTTP/1.1\r\n"):
		r.Minor = 1
	case strings.HasPrefix(s[i:], "HTTP/1.0\r\n"):
	default:
		return 0, false
	}
	r.Proto = s[i : i+8]
	return i + len("HTTP/1.x\r\n"), true
}

// parseTarget reads the origin-form target starting at s[t]: where the
// space after it is.
func (r *rawRequest) parseTarget(s string, t int) (int, bool) {
	i := t
	query, escaped := -1, false
	for ; i < len(s) && s[i] != ' '; i++ {
		switch c := s[i]; {
		case c < 0x21 || c > 0x7e || c == '#':
			return 0, false
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
		return 0, false
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
			return 0, false
		}
	}
	return i, true
}

// parseFields reads the header lines starting at s[i], up to the empty
// line that ends s. One loop, not a call per line: those cost the parser
// a tenth of its time (BenchmarkRawRequest/parse).
func (r *rawRequest) parseFields(s string, i int) bool {
	var seen seenHeaders
	for s[i] != '\r' {
		name := i
		for tchar[s[i]] {
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
			if ctl[s[i]] {
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
		if !r.take(f, &seen) {
			return false
		}
	}
	if s[i+1] != '\n' {
		return false // a line starting with a bare CR
	}
	if r.Minor == 1 {
		if seen.hosts != 1 {
			return false
		}
		r.Close = seen.close
	} else {
		r.Close = seen.close || !seen.keepAlive
	}
	return true
}

// seenHeaders is what parse learns from the header lines together.
type seenHeaders struct {
	hosts, lengths          int
	close, keepAlive, ctype bool // Connection: close, keep-alive; a Content-Type
}

// take notes a header the parser or the vars treat specially: false
// hands the request off.
func (r *rawRequest) take(f rawField, seen *seenHeaders) bool {
	switch headerID(f.Name) {
	case hdrHost:
		seen.hosts++
		if seen.hosts > 1 || !validHost(f.Value) {
			return false
		}
		r.Host = f.Value
	case hdrContentLength:
		seen.lengths++
		n, ok := rawContentLength(f.Value)
		if seen.lengths > 1 || !ok {
			return false
		}
		r.ContentLength, r.contentLengthText = n, f.Value
	case hdrContentType:
		if !seen.ctype {
			r.ContentType, seen.ctype = f.Value, true
		}
	case hdrConnection:
		seen.close = seen.close || hasToken(f.Value, "close")
		seen.keepAlive = seen.keepAlive || hasToken(f.Value, "keep-alive")
	case hdrHandoff:
		return false
	}
	return true
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
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return "", false
			}
			c = unhex(p[i+1])<<4 | unhex(p[i+2])
			if c == 0 {
				return "", false // %00: net/http's path refuses it (server.go)
			}
			i += 2
		}
		b = append(b, c)
	}
	return string(b), true
}

// appendRawVars is appendVars for a rawRequest: the same keys and values;
// HTTP_* vars in the order the headers came (first occurrence's position
// for repeated ones). contentLength as in appendVars (-1: none).
func appendRawVars(dst []uwsgi.Var, r *rawRequest, c *connInfo, contentLength int64, documentRoot string) []uwsgi.Var {
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
// the names first came, repeated ones joined as appendVars joins them.
func appendRawHeaderVars(dst []uwsgi.Var, fields []rawField) []uwsgi.Var {
	cacheControl, pragmaNoCache := false, false
	for i, f := range fields {
		id := headerID(f.Name)
		if rawSkipVar(id, f.Name) {
			continue
		}
		if rawSeenBefore(fields, i) {
			continue
		}
		cacheControl = cacheControl || id == hdrCacheControl
		pragmaNoCache = pragmaNoCache || id == hdrPragma && f.Value == "no-cache"
		value := f.Value
		for _, g := range fields[i+1:] {
			if equalFold(g.Name, f.Name) {
				value += rawJoinSep(id) + g.Value
			}
		}
		dst = append(dst, uwsgi.Var{Key: headerKey(f.Name), Value: value})
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
		id := headerID(f.Name)
		if rawSkipVar(id, f.Name) {
			continue
		}
		// Names without '_' have distinct keys exactly when they differ
		// other than in case.
		key := headerKey(f.Name)
		if g := groups[key]; g != nil {
			g.values = append(g.values, f.Value)
			continue
		}
		cacheControl = cacheControl || id == hdrCacheControl
		pragmaNoCache = pragmaNoCache || id == hdrPragma && f.Value == "no-cache"
		keys = append(keys, key)
		groups[key] = &group{id: id, values: []string{f.Value}}
	}
	for _, key := range keys {
		g := groups[key]
		dst = append(dst, uwsgi.Var{Key: key, Value: strings.Join(g.values, rawJoinSep(g.id))})
	}
	return appendRawPragmaCacheControl(dst, pragmaNoCache, cacheControl)
}

// rawSkipVar reports whether appendVars sends no HTTP_* var for the header.
func rawSkipVar(id int, name string) bool {
	switch id {
	case hdrHost, hdrContentLength, hdrHandoff:
		return true // Host is HTTP_HOST; Content-Length comes from the body's length
	}
	return strings.IndexByte(name, '_') >= 0 // as nginx drops them
}

func rawJoinSep(id int) string {
	if id == hdrCookie {
		return "; "
	}
	return ", "
}

// appendRawPragmaCacheControl adds what net/http's ReadRequest adds to a
// request whose first Pragma is "no-cache" and has no Cache-Control
// (fixPragmaCacheControl), so appendVars sends it too.
func appendRawPragmaCacheControl(dst []uwsgi.Var, pragmaNoCache, cacheControl bool) []uwsgi.Var {
	if pragmaNoCache && !cacheControl {
		dst = append(dst, uwsgi.Var{Key: "HTTP_CACHE_CONTROL", Value: "no-cache"})
	}
	return dst
}

// rawSeenBefore reports whether a field before fields[i] has its name.
func rawSeenBefore(fields []rawField, i int) bool {
	for _, f := range fields[:i] {
		if equalFold(f.Name, fields[i].Name) {
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
