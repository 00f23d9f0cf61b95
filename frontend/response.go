package frontend

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
)

// answerHead is a worker's answer head as scanAnswerHead found it: spans
// of the buffer it was read into.
type answerHead struct {
	status        int
	statusEnd     int   // the status line's end (its CR)
	end           int   // the head's length, blank line included
	contentLength int64 // -1: none
	hasDate       bool
	fields        []fieldSpan
}

// fieldSpan is one header line: name [ns,ne), value [vs,ve), and the
// whole line [ls,le) with its CRLF.
type fieldSpan struct{ ns, ne, vs, ve, ls, le int }

// scanAnswerHead reads a worker's answer head from buf when it is plain:
// whole in buf, an HTTP/1.x status of 200 or more with a body (not
// 204/304), no Transfer-Encoding, at most one valid Content-Length, no
// obsolete line folding, no Connection header naming other headers.
// complete false: buf has no blank line yet. ok false: not plain (or not
// valid); the general path (http.ReadResponse) takes it.
func scanAnswerHead(buf []byte, h *answerHead) (complete, ok bool) {
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return false, false
	}
	h.fields = h.fields[:0]
	h.status, h.contentLength, h.hasDate, h.end = 0, -1, false, end+4
	// "HTTP/1.1 200 OK\r\n": the version, three digits, then a space or
	// the line's end.
	if len(buf) < 13 || string(buf[:7]) != "HTTP/1." || (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ' ||
		(buf[12] != ' ' && buf[12] != '\r') {
		return true, false
	}
	for _, c := range buf[9:12] {
		if c < '0' || c > '9' {
			return true, false
		}
		h.status = h.status*10 + int(c-'0')
	}
	if h.status < 200 || h.status == http.StatusNoContent || h.status == http.StatusNotModified {
		return true, false
	}
	h.statusEnd = bytes.IndexByte(buf, '\n') - 1
	if buf[h.statusEnd] != '\r' {
		return true, false // a bare LF: the loop would copy the reason phrase short
	}
	for _, c := range buf[12:h.statusEnd] {
		if ctl[c] {
			return true, false // a CR or another CTL in the reason phrase, which the loop copies
		}
	}
	for line := h.statusEnd + 2; line < end+2; {
		eol := line + bytes.IndexByte(buf[line:end+2], '\n')
		if eol < line || eol == line || buf[eol-1] != '\r' {
			return true, false
		}
		colon := bytes.IndexByte(buf[line:eol], ':')
		if colon <= 0 {
			return true, false
		}
		for _, c := range buf[line : line+colon] {
			if !tchar[c] {
				return true, false // a space before the colon, folding, a bad name
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
			if ctl[c] {
				return true, false
			}
		}
		name, value := buf[line:line+colon], buf[vs:ve]
		switch {
		case equalFold(name, "Transfer-Encoding"):
			return true, false
		case equalFold(name, "Connection"):
			if connectionTokens(string(value)) != nil {
				return true, false // it names headers to drop: the general path
			}
		case equalFold(name, "Content-Length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || h.contentLength >= 0 || value[0] < '0' || value[0] > '9' { // "+5": the general path judges it
				return true, false
			}
			h.contentLength = n
		case equalFold(name, "Date"):
			h.hasDate = true
		}
		h.fields = append(h.fields, fieldSpan{line, line + colon, vs, ve, line, eol + 1})
		line = eol + 1
	}
	return true, true
}

// fastHead reads the worker's response head when it is plain (see
// scanAnswerHead) and already whole in br after one read, and not for a
// HEAD request. It puts the headers, minus the hop-by-hop ones, straight
// into dst (one string for the whole head, one []string block), where
// http.ReadResponse builds its own map for copyHeader to copy. ok false
// leaves br and dst untouched for readResponse; err is a failed first
// read.
func (x *exchange) fastHead(dst http.Header, method string) (status int, body io.Reader, ok bool, err error) {
	br := x.br
	if _, err := br.Peek(1); err != nil {
		return 0, nil, false, err
	}
	if method == http.MethodHead {
		return 0, nil, false, nil
	}
	buf, _ := br.Peek(br.Buffered())
	h := &x.head
	if complete, plain := scanAnswerHead(buf, h); !complete || !plain {
		return 0, nil, false, nil
	}
	head := string(buf[:h.end]) // every key and value below is a piece of it
	block := make([]string, len(h.fields))
	for i, f := range h.fields {
		key := canonicalKey(head[f.ns:f.ne])
		if isHopHeader(key) {
			continue
		}
		value := head[f.vs:f.ve]
		if old, ok := dst[key]; ok {
			dst[key] = append(old, value)
			continue
		}
		block[i] = value
		dst[key] = block[i : i+1 : i+1]
	}
	br.Discard(h.end)
	if h.contentLength < 0 {
		return h.status, br, true, nil // until the worker closes
	}
	x.lb = limitedBody{r: br, n: h.contentLength}
	return h.status, &x.lb, true, nil
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
