package frontend

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
)

// headField is one parsed header line of a worker's answer.
type headField struct{ key, value string }

// fastHead reads the worker's response head when it is plain: already
// whole in br after one read, an HTTP/1.x status of 200 or more with a
// body (not 204/304, not for HEAD), no Transfer-Encoding, at most one
// valid Content-Length, no obsolete line folding, no Connection header
// naming other headers. It puts the headers, minus the hop-by-hop ones,
// straight into dst (one string for the whole head, one []string block),
// where http.ReadResponse builds its own map for copyHeader to copy. ok
// false leaves br and dst untouched for readResponse; err is a failed
// first read.
func (x *exchange) fastHead(dst http.Header, method string) (status int, body io.Reader, ok bool, err error) {
	br := x.br
	if _, err := br.Peek(1); err != nil {
		return 0, nil, false, err
	}
	if method == http.MethodHead {
		return 0, nil, false, nil
	}
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return 0, nil, false, nil
	}
	// "HTTP/1.1 200 OK\r\n": the version, three digits, then a space or
	// the line's end.
	if len(buf) < 13 || string(buf[:7]) != "HTTP/1." || (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ' ||
		(buf[12] != ' ' && buf[12] != '\r') {
		return 0, nil, false, nil
	}
	for _, c := range buf[9:12] {
		if c < '0' || c > '9' {
			return 0, nil, false, nil
		}
		status = status*10 + int(c-'0')
	}
	if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified {
		return 0, nil, false, nil
	}
	head := string(buf[:end+2]) // every key and value below is a piece of it
	line := bytes.IndexByte(buf, '\n') + 1
	fields := x.fields[:0]
	defer func() { clear(fields); x.fields = fields[:0] }()
	contentLength := int64(-1)
	for line < end+2 {
		eol := line + bytes.IndexByte(buf[line:end+2], '\n')
		if eol < line || eol == line || buf[eol-1] != '\r' {
			return 0, nil, false, nil
		}
		colon := bytes.IndexByte(buf[line:eol], ':')
		if colon <= 0 {
			return 0, nil, false, nil
		}
		name := buf[line : line+colon]
		for _, c := range name {
			if !isTokenByte(c) {
				return 0, nil, false, nil // a space before the colon, folding, a bad name
			}
		}
		vs, ve := line+colon+1, eol-1
		for vs < ve && (buf[vs] == ' ' || buf[vs] == '\t') {
			vs++
		}
		for ve > vs && (buf[ve-1] == ' ' || buf[ve-1] == '\t') {
			ve--
		}
		for _, c := range buf[vs:ve] {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return 0, nil, false, nil
			}
		}
		key := canonicalKey(head[line : line+colon])
		value := head[vs:ve]
		switch key {
		case "Transfer-Encoding":
			return 0, nil, false, nil
		case "Connection":
			if splitTokens(value) != nil {
				return 0, nil, false, nil // it names headers to drop: the general path
			}
		case "Content-Length":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 || contentLength >= 0 {
				return 0, nil, false, nil
			}
			contentLength = n
		}
		fields = append(fields, headField{key, value})
		line = eol + 1
	}
	br.Discard(end + 4)
	block := make([]string, len(fields))
	for i, f := range fields {
		if isHopHeader(f.key) {
			continue
		}
		if old, ok := dst[f.key]; ok {
			dst[f.key] = append(old, f.value)
			continue
		}
		block[i] = f.value
		dst[f.key] = block[i : i+1 : i+1]
	}
	if contentLength < 0 {
		return status, br, true, nil // until the worker closes
	}
	x.lb = limitedBody{r: br, n: contentLength}
	return status, &x.lb, true, nil
}

// limitedBody is a body of known length: io.ErrUnexpectedEOF when the
// worker closes early (as http.ReadResponse's body), io.EOF after the
// last byte without another read.
type limitedBody struct {
	r io.Reader
	n int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n <= 0 {
		return n, io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func isHopHeader(key string) bool {
	switch key {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Te", "Trailer", "Upgrade":
		return true
	}
	return false
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

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
