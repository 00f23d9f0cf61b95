package frontend

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/supervise-go/supervise/uwsgi"
)

// The fast path's promise: whatever parseRawRequest accepts, net/http's
// server accepts too and makes the same request of, so appendRawVars
// sends what appendVars sends. checkRawRequest holds parseRawRequest to that
// against a real http.Server, for the table tests and the fuzzer.

// served is what net/http's server made of a request: the handler's
// view, appendVars for two connections, whether it got that far at all.
type served struct {
	method, host, path, rawQuery, requestURI, proto string
	close                                           bool
	contentLength                                   int64
	header                                          http.Header
	vars, varsTLS                                   []uwsgi.Var
}

// tlsConn is a connection with HTTPS on and no local address, the
// other branch of every connection-dependent var.
var tlsConn = &connInfo{RemoteAddr: "2001:db8::1", RemotePort: "1", ServerPort: "443", HTTPS: true}

// pipeConn is a client connection that sends fixed bytes then EOF and
// throws the server's answer away; Close reports the server is done.
type pipeConn struct {
	r      *bytes.Reader
	once   sync.Once
	closed chan struct{}
	got    []served // set by the handler, before the server closes the conn
}

func (c *pipeConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *pipeConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *pipeConn) Close() error                { c.once.Do(func() { close(c.closed) }); return nil }
func (c *pipeConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080} }
func (c *pipeConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 40100}
}
func (c *pipeConn) SetDeadline(time.Time) error     { return nil }
func (c *pipeConn) SetReadDeadline(time.Time) error { return nil }
func (c *pipeConn) SetWriteDeadline(time.Time) error {
	return nil
}

// pipeListener hands the server the connections serveRaw makes.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080} }

type pipeConnKey struct{}

var (
	rawServerOnce sync.Once
	rawServerLn   *pipeListener
)

// serveRaw sends input to one long-lived real http.Server (in this
// process, no sockets) as one connection and returns what its handler
// saw of the first request; ok is false when the server refused it.
func serveRaw(input []byte) (s served, ok bool) {
	rawServerOnce.Do(func() {
		rawServerLn = &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
		srv := &http.Server{
			Handler:  http.HandlerFunc(recordRequest),
			ErrorLog: log.New(io.Discard, "", 0),
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				return context.WithValue(ctx, pipeConnKey{}, c)
			},
		}
		go srv.Serve(rawServerLn) // lives as long as the test binary
	})
	c := &pipeConn{r: bytes.NewReader(input), closed: make(chan struct{})}
	rawServerLn.conns <- c
	<-c.closed
	if len(c.got) == 0 {
		return served{}, false
	}
	return c.got[0], true
}

func recordRequest(w http.ResponseWriter, r *http.Request) {
	c := r.Context().Value(pipeConnKey{}).(*pipeConn)
	cl := int64(-1)
	if r.Header["Content-Length"] != nil {
		cl = r.ContentLength
	}
	c.got = append(c.got, served{
		method: r.Method, host: r.Host, path: r.URL.Path, rawQuery: r.URL.RawQuery, requestURI: r.RequestURI,
		proto: r.Proto, close: r.Close, contentLength: cl, header: r.Header.Clone(),
		vars:    appendVars(nil, r, testConn, cl, "/root"),
		varsTLS: appendVars(nil, r, tlsConn, cl, ""),
	})
}

// headConsumed is how many bytes http.ReadRequest takes for the head of
// the request input starts with.
func headConsumed(input []byte) (*http.Request, int, error) {
	src := bytes.NewReader(input)
	br := bufio.NewReader(src)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, 0, err
	}
	return req, len(input) - src.Len() - br.Buffered(), nil
}

// checkRawRequest parses input and checks the result against net/http.
func checkRawRequest(t testing.TB, input []byte) (*rawRequest, parseStatus) {
	t.Helper()
	r := &rawRequest{Fields: make([]rawField, 0, 4)}
	n, st := parseRawRequest(input, r)
	switch st {
	case parseIncomplete, parseHandoff:
		if n != 0 {
			t.Fatalf("status %d with n = %d", st, n)
		}
		if st == parseIncomplete && bytes.Contains(input, []byte("\r\n\r\n")) {
			t.Fatalf("incomplete, yet %q holds a CRLFCRLF", input)
		}
		return r, st
	case parseOK:
	default:
		t.Fatalf("status %d", st)
	}

	req, consumed, err := headConsumed(input)
	if err != nil {
		t.Fatalf("parseOK, but http.ReadRequest: %v\n%q", err, input)
	}
	if n != consumed {
		t.Fatalf("n = %d, http.ReadRequest took %d\n%q", n, consumed, input)
	}
	// The loop sees heads arrive in pieces: each piece short of the
	// blank line is incomplete, never handed off.
	for i := 0; i < n; i++ {
		if m, st := parseRawRequest(input[:i], &rawRequest{}); st != parseIncomplete || m != 0 {
			t.Fatalf("prefix %q of %q: status %d, n %d", input[:i], input[:n], st, m)
		}
	}
	s, ok := serveRaw(input)
	if !ok {
		t.Fatalf("parseOK, but net/http's server refuses %q", input)
	}
	if r.Method != s.method || r.Host != s.host || r.Path != s.path || r.RawQuery != s.rawQuery ||
		r.Target != s.requestURI || r.Proto != s.proto || r.Close != s.close || r.ContentLength != s.contentLength ||
		r.Minor != int(r.Proto[len(r.Proto)-1]-'0') || r.ContentType != s.header.Get("Content-Type") {
		t.Fatalf("parsed %+v\nnet/http %+v\n%q", *r, s, input)
	}
	if r.Close != req.Close {
		t.Fatalf("Close %v, http.ReadRequest %v", r.Close, req.Close)
	}
	checkFields(t, r.Fields, req.Header)
	checkVars(t, appendRawVars(nil, r, testConn, r.ContentLength, "/root"), s.vars, input)
	checkVars(t, appendRawVars(nil, r, tlsConn, r.ContentLength, ""), s.varsTLS, input)
	// Reusing r (and its Fields) gives the same again.
	r2 := *r
	r2.Fields = slices.Clone(r.Fields)
	if m, st := parseRawRequest(input, r); st != parseOK || m != n || !rawEqual(r, &r2) {
		t.Fatalf("second parse differs: %+v", *r)
	}
	return r, st
}

func rawEqual(a, b *rawRequest) bool {
	x, y := *a, *b
	x.Fields, y.Fields = nil, nil
	return reflect.DeepEqual(x, y) && slices.Equal(a.Fields, b.Fields)
}

// checkFields: Fields, merged by canonical name, are net/http's header.
func checkFields(t testing.TB, fields []rawField, h http.Header) {
	t.Helper()
	got := http.Header{}
	for _, f := range fields {
		got.Add(f.Name, f.Value)
	}
	for k, v := range h {
		if k == "Cache-Control" && got[k] == nil && got.Get("Pragma") == "no-cache" {
			continue // fixPragmaCacheControl's
		}
		if !slices.Equal(got[k], v) {
			t.Fatalf("header %s: fields %q, net/http %q", k, got[k], v)
		}
	}
	for k := range got {
		if h[k] == nil && k != "Host" { // http.ReadRequest moves Host to r.Host
			t.Fatalf("field %s not in net/http's header %q", k, h)
		}
	}
}

// checkVars: the fixed vars exactly, in order; the HTTP_* vars the same
// set (appendRawVars sends them in header order, appendVars in map order).
func checkVars(t testing.TB, got, want []uwsgi.Var, input []byte) {
	t.Helper()
	fixed := func(vs []uwsgi.Var) []uwsgi.Var {
		i := slices.IndexFunc(vs, func(v uwsgi.Var) bool { return v.Key == "HTTP_HOST" })
		return vs[:i+1]
	}
	gf, wf := fixed(got), fixed(want)
	if !slices.Equal(gf, wf) {
		t.Fatalf("fixed vars\n got %q\nwant %q\n%q", gf, wf, input)
	}
	sorted := func(vs []uwsgi.Var) []uwsgi.Var {
		vs = slices.Clone(vs)
		slices.SortFunc(vs, func(a, b uwsgi.Var) int { return strings.Compare(a.Key, b.Key) })
		return vs
	}
	gh, wh := sorted(got[len(gf):]), sorted(want[len(wf):])
	if !slices.Equal(gh, wh) {
		t.Fatalf("HTTP_* vars\n got %q\nwant %q\n%q", gh, wh, input)
	}
}

const (
	chromeGET = "GET /static/app.js?v=3 HTTP/1.1\r\n" +
		"Host: localhost:8080\r\n" +
		"Connection: keep-alive\r\n" +
		"sec-ch-ua-platform: \"Linux\"\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n" +
		"sec-ch-ua: \"Google Chrome\";v=\"131\", \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"\r\n" +
		"sec-ch-ua-mobile: ?0\r\n" +
		"Accept: */*\r\n" +
		"Sec-Fetch-Site: same-origin\r\n" +
		"Sec-Fetch-Mode: no-cors\r\n" +
		"Sec-Fetch-Dest: script\r\n" +
		"Referer: http://localhost:8080/\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Accept-Language: en-GB,en-US;q=0.9,en;q=0.8\r\n" +
		"Cookie: session=4f1c2a; theme=dark\r\n\r\n"
	firefoxPOST = "POST /login HTTP/1.1\r\n" +
		"Host: example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\n" +
		"Content-Length: 27\r\n" +
		"Origin: https://example.com\r\n" +
		"DNT: 1\r\n" +
		"Sec-GPC: 1\r\n" +
		"Connection: keep-alive\r\n" +
		"Referer: https://example.com/login\r\n" +
		"Upgrade-Insecure-Requests: 1\r\n" +
		"Sec-Fetch-Dest: document\r\n" +
		"Sec-Fetch-Mode: navigate\r\n" +
		"Sec-Fetch-Site: same-origin\r\n" +
		"Sec-Fetch-User: ?1\r\n" +
		"Priority: u=0, i\r\n\r\n" +
		"user=bob&password=hunter2!!"
	curlGET = "GET /user/bob HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.11.1\r\nAccept: */*\r\n\r\n"
	wrkGET  = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
	abGET   = "GET /hello HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n"
)

type rawCase struct {
	name  string
	input string
	want  parseStatus
	check func(*rawRequest) bool // for parseOK, beyond net/http's agreement
}

var rawCases = []rawCase{
	// Real clients.
	{"chrome", chromeGET, parseOK, func(r *rawRequest) bool {
		return r.Path == "/static/app.js" && r.RawQuery == "v=3" && !r.Close && len(r.Fields) == 14 && r.ContentLength == -1
	}},
	{"firefox post", firefoxPOST, parseOK, func(r *rawRequest) bool {
		return r.ContentLength == 27 && r.ContentType == "application/x-www-form-urlencoded" && r.Method == "POST"
	}},
	{"curl", curlGET, parseOK, func(r *rawRequest) bool { return r.Host == "127.0.0.1:8080" && r.Minor == 1 }},
	{"wrk", wrkGET, parseOK, nil},
	{"ab 1.0", abGET, parseOK, func(r *rawRequest) bool { return r.Close && r.Minor == 0 }},
	{"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", parseOK, func(r *rawRequest) bool {
		return !r.Close && r.Host == ""
	}},
	{"1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", parseOK, func(r *rawRequest) bool { return r.Close }},
	{"1.0 keep-alive in second header", "GET / HTTP/1.0\r\nConnection: x\r\nconnection: te,  KEEP-ALIVE \r\n\r\n", parseOK, func(r *rawRequest) bool {
		return !r.Close
	}},
	{"1.0 no host", "GET /x HTTP/1.0\r\n\r\n", parseOK, func(r *rawRequest) bool { return r.Host == "" && r.Close }},
	{"1.1 close", "GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n", parseOK, func(r *rawRequest) bool { return r.Close }},
	{"1.1 close among tokens", "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade,\tclose\r\n\r\n", parseOK, func(r *rawRequest) bool { return r.Close }},
	{"1.1 closed no token", "GET / HTTP/1.1\r\nHost: h\r\nConnection: closed, keep-alive\r\n\r\n", parseOK, func(r *rawRequest) bool { return !r.Close }},
	{"escapes", "GET /a%20b/%2e%2E/c%2Fd?x=%zz HTTP/1.1\r\nHost: h\r\n\r\n", parseOK, func(r *rawRequest) bool {
		return r.Path == "/a b/../c/d" && r.RawQuery == "x=%zz"
	}},
	{"plus", "GET /a+b HTTP/1.1\r\nHost: h\r\n\r\n", parseOK, func(r *rawRequest) bool { return r.Path == "/a+b" }},
	{"nul", "GET /a%00 HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil}, // net/http's path answers 400
	{"second '?'", "GET /a?b?c HTTP/1.1\r\nHost: h\r\n\r\n", parseOK, func(r *rawRequest) bool { return r.RawQuery == "b?c" }},
	{"trailing '?'", "GET /a? HTTP/1.1\r\nHost: h\r\n\r\n", parseOK, func(r *rawRequest) bool { return r.Path == "/a" && r.RawQuery == "" }},
	{"double slash", "GET //evil.example/x HTTP/1.1\r\nHost: h\r\n\r\n", parseOK, func(r *rawRequest) bool { return r.Path == "//evil.example/x" }},
	{"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", parseOK, func(r *rawRequest) bool { return r.Host == "" }},
	{"ipv6 host", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", parseOK, nil},
	{"host case", "GET / HTTP/1.1\r\nhOsT: Example.COM\r\n\r\n", parseOK, func(r *rawRequest) bool { return r.Host == "Example.COM" }},
	{"repeated headers", "GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nX-A: 1\r\ncookie: b=2\r\nx-a:2\r\nX-A:  \t3 \t\r\nX_A: 4\r\n\r\n", parseOK, func(r *rawRequest) bool {
		return len(r.Fields) == 7 && r.Fields[4] == rawField{"x-a", "2"} && r.Fields[5].Value == "3"
	}},
	{"empty values", "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Blank:  \t \r\nX-Empty: z\r\n\r\n", parseOK, nil},
	{"obs-text value", "GET / HTTP/1.1\r\nHost: h\r\nX-Name: J\xc3\xbcrgen\xff\r\n\r\n", parseOK, nil},
	{"value with tab and colon", "GET / HTTP/1.1\r\nHost: h\r\nX-T: a\tb: c\r\n\r\n", parseOK, nil},
	{"odd token names", "GET / HTTP/1.1\r\nHost: h\r\n!#$%&'*+-.^`|~0: x\r\n\r\n", parseOK, nil},
	{"content-length", "PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 0005\r\n\r\nhello", parseOK, func(r *rawRequest) bool { return r.ContentLength == 5 }},
	{"content-length max", "PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n", parseOK, nil},
	{"content-length padded", "PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length:\t 12 \r\n\r\n", parseOK, func(r *rawRequest) bool { return r.ContentLength == 12 }},
	{"content-type first", "POST / HTTP/1.1\r\nHost: h\r\nContent-Type:\r\ncontent-type: text/plain\r\nContent-Length: 0\r\n\r\n", parseOK, func(r *rawRequest) bool {
		return r.ContentType == ""
	}},
	{"pragma no-cache alone", "GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n\r\n", parseOK, nil},
	{"pragma no-cache second", "GET / HTTP/1.1\r\nHost: h\r\nPragma: x\r\nPragma: no-cache\r\n\r\n", parseOK, nil},
	{"pragma with cache-control", "GET / HTTP/1.1\r\nHost: h\r\ncache-control: max-age=0\r\npragma: no-cache\r\n\r\n", parseOK, nil},
	{"pragma case", "GET / HTTP/1.1\r\nHost: h\r\nPragma: No-Cache\r\n\r\n", parseOK, nil},
	{"Te header", "GET / HTTP/1.1\r\nHost: h\r\nTE: trailers\r\n\r\n", parseOK, nil},
	{"extension method", "PURGE /x HTTP/1.1\r\nHost: h\r\n\r\n", parseOK, nil},
	{"lowercase method", "get / HTTP/1.1\r\nHost: h\r\n\r\n", parseOK, func(r *rawRequest) bool { return r.Method == "get" }},
	{"odd target bytes", "GET /<>\"{}|\\^`[]!$&'()*+,;=:@~ HTTP/1.1\r\nHost: h\r\n\r\n", parseOK, nil},
	{"pipelined", wrkGET + wrkGET, parseOK, nil},
	{"pipelined after body", firefoxPOST + curlGET, parseOK, nil},

	// Not yet.
	{"empty", "", parseIncomplete, nil},
	{"method only", "GET", parseIncomplete, nil},
	{"request line", "GET / HTTP/1.1\r\n", parseIncomplete, nil},
	{"one header", "GET / HTTP/1.1\r\nHost: h\r\n", parseIncomplete, nil},
	{"last CR", "GET / HTTP/1.1\r\nHost: h\r\n\r", parseIncomplete, nil},
	{"CR", "GET / HTTP/1.1\r", parseIncomplete, nil},

	// Handed off.
	{"tls handshake", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", parseHandoff, nil},
	{"leading CRLF", "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"bare LF", "GET / HTTP/1.1\nHost: h\n\n", parseHandoff, nil},
	{"bare LF incomplete", "GET / HTTP/1.1\n", parseHandoff, nil},
	{"bare LF at end", "GET / HTTP/1.1\r\nHost: h\r\n\n", parseHandoff, nil},
	{"bare CR", "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", parseHandoff, nil},
	{"bare CR line", "GET / HTTP/1.1\r\nHost: h\r\n\rX: y\r\n\r\n", parseHandoff, nil},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n 2\r\n\r\n", parseHandoff, nil},
	{"leading space header", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", parseHandoff, nil},
	{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", parseHandoff, nil},
	{"no colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A\r\n\r\n", parseHandoff, nil},
	{"empty name", "GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", parseHandoff, nil},
	{"bad name", "GET / HTTP/1.1\r\nHost: h\r\nX(A): x\r\n\r\n", parseHandoff, nil},
	{"ctl in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n", parseHandoff, nil},
	{"del in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x7f\r\n\r\n", parseHandoff, nil},
	{"nul in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: \x00\r\n\r\n", parseHandoff, nil},
	{"chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", parseHandoff, nil},
	{"TE on 1.0", "POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n", parseHandoff, nil},
	{"expect", "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n", parseHandoff, nil},
	{"upgrade", "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", parseHandoff, nil},
	{"h2c upgrade", "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", parseHandoff, nil},
	{"trailer", "GET / HTTP/1.1\r\nHost: h\r\nTrailer: X\r\n\r\n", parseHandoff, nil},
	{"duplicate CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", parseHandoff, nil},
	{"differing CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\nxy", parseHandoff, nil},
	{"empty CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", parseHandoff, nil},
	{"signed CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\nx", parseHandoff, nil},
	{"negative CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", parseHandoff, nil},
	{"hex CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x1\r\n\r\n", parseHandoff, nil},
	{"list CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\n", parseHandoff, nil},
	{"huge CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", parseHandoff, nil},
	{"missing host", "GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n", parseHandoff, nil},
	{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", parseHandoff, nil},
	{"two hosts 1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", parseHandoff, nil},
	{"bad host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", parseHandoff, nil},
	{"bad host slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", parseHandoff, nil},
	{"bad host 1.0", "GET / HTTP/1.0\r\nHost: a\"b\r\n\r\n", parseHandoff, nil},
	{"absolute form", "GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"connect", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", parseHandoff, nil},
	{"connect path", "CONNECT /rpc HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"fragment", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"bad escape", "GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"short escape", "GET /a%4 HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"short escape before query", "GET /a%4?x HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"non-ascii target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"ctl target", "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"empty target", "GET  HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", parseHandoff, nil},
	{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"HTTP/0.9", "GET /\r\n\r\n", parseHandoff, nil},
	{"lowercase proto", "GET / http/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"extra space before target", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"extra space before proto", "GET /  HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"tab separator", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"bad method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
	{"empty method", " / HTTP/1.1\r\nHost: h\r\n\r\n", parseHandoff, nil},
}

func TestParseRawRequest(t *testing.T) {
	for _, c := range rawCases {
		t.Run(c.name, func(t *testing.T) {
			r, st := checkRawRequest(t, []byte(c.input))
			if st != c.want {
				t.Fatalf("status %d, want %d", st, c.want)
			}
			if c.check != nil && !c.check(r) {
				t.Fatalf("parsed %+v", *r)
			}
		})
	}
}

// Every handoff the table names as a refusal is one net/http refuses as
// well, so handing it off costs nothing; the rest (Expect, chunked, ...)
// net/http serves.
func TestRawHandoffsNetHTTPRefuses(t *testing.T) {
	for _, name := range []string{"leading space header", "space before colon", "no colon", "empty name", "bad name",
		"ctl in value", "del in value", "nul in value", "differing CL", "empty CL", "signed CL", "negative CL",
		"hex CL", "list CL", "huge CL", "missing host", "two hosts", "two hosts 1.0", "bad host", "bad host slash",
		"bad host 1.0", "bad escape", "short escape", "short escape before query", "ctl target", "empty target",
		"HTTP/2.0", "HTTP/0.9", "lowercase proto", "extra space before target", "extra space before proto",
		"trailing space", "tab separator", "bad method", "empty method", "bare CR", "bare CR line"} {
		i := slices.IndexFunc(rawCases, func(c rawCase) bool { return c.name == name })
		if i < 0 {
			t.Fatalf("no case %q", name)
		}
		if _, ok := serveRaw([]byte(rawCases[i].input)); ok {
			t.Errorf("%s: net/http's server serves %q", name, rawCases[i].input)
		}
	}
	for _, name := range []string{"bare LF", "obs-fold", "chunked", "expect", "fragment", "absolute form",
		"non-ascii target", "duplicate CL", "trailer", "connect path", "HTTP/1.2"} {
		i := slices.IndexFunc(rawCases, func(c rawCase) bool { return c.name == name })
		if _, ok := serveRaw([]byte(rawCases[i].input)); !ok {
			t.Errorf("%s: net/http's server refuses %q", name, rawCases[i].input)
		}
	}
}

// Many header lines take appendRawVars' map path: the same vars.
func TestRawManyHeaders(t *testing.T) {
	var b strings.Builder
	b.WriteString("GET /many HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n")
	for i := 0; i < 3*rawMaxScanFields; i++ {
		b.WriteString([]string{"X-A: ", "x-b: ", "Cookie: ", "X-C-", "X_D: "}[i%5])
		if i%5 == 3 {
			b.WriteString(string(rune('a'+i%26)) + ": ")
		}
		b.WriteString(strings.Repeat("v", i%3) + "\r\n")
	}
	b.WriteString("\r\n")
	r, st := checkRawRequest(t, []byte(b.String()))
	if st != parseOK || len(r.Fields) <= rawMaxScanFields {
		t.Fatalf("status %d, %d fields", st, len(r.Fields))
	}
	// And both paths agree on order, too.
	small := appendRawHeaderVars(nil, r.Fields)
	many := appendManyRawHeaderVars(nil, r.Fields)
	if !slices.Equal(small, many) {
		t.Fatalf("scan %q\n map %q", small, many)
	}
}

// Heads beyond bufio's 4096 bytes, with a CRLF straddling the edge of
// net/http's read buffer at each offset: big cookies are common.
func TestRawLongHeads(t *testing.T) {
	for pad := 4060; pad < 4100; pad++ {
		input := "GET /big HTTP/1.1\r\nHost: h\r\nCookie: " + strings.Repeat("c", pad) + "\r\nX-After: y\r\n\r\n"
		if _, st := checkRawRequest(t, []byte(input)); st != parseOK {
			t.Fatalf("pad %d: status %d", pad, st)
		}
	}
}

// The body length the caller passes may differ from the header's (an
// empty body, none): CONTENT_LENGTH follows it, as in appendVars.
func TestRawVarsContentLength(t *testing.T) {
	for _, c := range []struct {
		input string
		cl    int64
	}{
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n", 7},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", 0},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 123456\r\n\r\n", 123456},
		{"POST / HTTP/1.1\r\nHost: h\r\n\r\n", 0},
		{"POST / HTTP/1.1\r\nHost: h\r\n\r\n", -1},
	} {
		var r rawRequest
		if _, st := parseRawRequest([]byte(c.input), &r); st != parseOK {
			t.Fatalf("%q: status %d", c.input, st)
		}
		req := readRequest(t, c.input)
		req.Header.Del("Host")
		checkVars(t, appendRawVars(nil, &r, testConn, c.cl, "/r"), appendVars(nil, req, testConn, c.cl, "/r"), []byte(c.input))
	}
}

// What real clients send costs the parser one allocation (the head's
// string) and the vars none.
func TestRawRequestAllocs(t *testing.T) {
	for _, input := range []string{chromeGET, firefoxPOST, curlGET, wrkGET, abGET} {
		var r rawRequest
		vars := make([]uwsgi.Var, 0, 64)
		b := []byte(input)
		parseRawRequest(b, &r) // sizes r.Fields
		if n := testing.AllocsPerRun(100, func() { parseRawRequest(b, &r) }); n != 1 {
			t.Errorf("parseRawRequest: %v allocations for %q", n, input)
		}
		cl := r.ContentLength
		if n := testing.AllocsPerRun(100, func() { vars = appendRawVars(vars[:0], &r, testConn, cl, "/root") }); n != 0 {
			t.Errorf("appendRawVars: %v allocations for %q", n, input)
		}
	}
}

func FuzzRawRequest(f *testing.F) {
	for _, c := range rawCases {
		f.Add([]byte(c.input))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		checkRawRequest(t, input)
	})
}

// BenchmarkRawRequest: a Chrome GET through the fast path's parser and
// vars (and each alone), and through http.ReadRequest and appendVars.
func BenchmarkRawRequest(b *testing.B) {
	input := []byte(chromeGET)
	b.Run("raw", func(b *testing.B) {
		var r rawRequest
		var vars []uwsgi.Var
		b.ReportAllocs()
		b.SetBytes(int64(len(input)))
		for b.Loop() {
			n, st := parseRawRequest(input, &r)
			if st != parseOK || n != len(input) {
				b.Fatal(st)
			}
			vars = appendRawVars(vars[:0], &r, testConn, -1, "/root")
		}
	})
	b.Run("parse", func(b *testing.B) {
		var r rawRequest
		b.ReportAllocs()
		for b.Loop() {
			parseRawRequest(input, &r)
		}
	})
	b.Run("vars", func(b *testing.B) {
		var r rawRequest
		parseRawRequest(input, &r)
		var vars []uwsgi.Var
		b.ReportAllocs()
		for b.Loop() {
			vars = appendRawVars(vars[:0], &r, testConn, -1, "/root")
		}
	})
	b.Run("net-http", func(b *testing.B) {
		src := bytes.NewReader(input)
		br := bufio.NewReader(src)
		var vars []uwsgi.Var
		b.ReportAllocs()
		b.SetBytes(int64(len(input)))
		for b.Loop() {
			src.Reset(input)
			br.Reset(src)
			req, err := http.ReadRequest(br)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Del("Host")
			vars = appendVars(vars[:0], req, testConn, -1, "/root")
		}
	})
}
