package frontend

import (
	"bufio"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// fastHead must give what http.ReadResponse and copyHeader give, or
// leave the answer to them.
func TestFastHeadMatchesReadResponse(t *testing.T) {
	cases := []struct {
		name, method, raw string
		fast              bool
	}{
		{"plain", "GET", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello", true},
		{"no reason", "GET", "HTTP/1.1 201\r\nContent-Length: 2\r\n\r\nok", true},
		{"http/1.0 until close", "GET", "HTTP/1.0 200 OK\r\nX-A:  spaced value \t\r\n\r\nall of it", true},
		{"repeated and lowercase", "GET", "HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\nx-app-name: v\r\nContent-Length: 0\r\n\r\n", true},
		{"hop headers dropped", "GET", "HTTP/1.1 200 OK\r\nConnection: close\r\nKeep-Alive: timeout=5\r\nUpgrade: h2c\r\nContent-Length: 1\r\n\r\nx", true},
		{"empty value", "GET", "HTTP/1.1 404 Not Found\r\nX-Empty:\r\nContent-Length: 1\r\n\r\nx", true},
		{"head request", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false},
		{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false},
		{"no content", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false},
		{"interim", "GET", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
		{"folded", "GET", "HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 2\r\n\r\nok", false},
		{"connection names a header", "GET", "HTTP/1.1 200 OK\r\nConnection: X-Private\r\nX-Private: 1\r\nContent-Length: 2\r\n\r\nok", false},
		{"two lengths", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", false},
		{"bare newlines", "GET", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false},
		{"space before colon", "GET", "HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 2\r\n\r\nok", false},
		{"not http", "GET", "not http\r\n\r\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := exchanges.Get().(*exchange)
			defer x.release()
			x.br.Reset(strings.NewReader(c.raw))
			got := http.Header{}
			status, body, ok, err := x.fastHead(got, c.method)
			if err != nil || ok != c.fast {
				t.Fatalf("fast %v, err %v; want fast %v", ok, err, c.fast)
			}
			if !ok {
				if len(got) != 0 || x.br.Buffered() != len(c.raw) {
					t.Fatalf("a refused head changed something: %v, %d buffered", got, x.br.Buffered())
				}
				return
			}
			gotBody, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(c.method, "http://x/", nil)
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(c.raw)), req)
			if err != nil {
				t.Fatal(err)
			}
			want := http.Header{}
			copyHeader(want, resp.Header)
			wantBody, _ := io.ReadAll(resp.Body)
			if status != resp.StatusCode || !reflect.DeepEqual(got, want) || string(gotBody) != string(wantBody) {
				t.Errorf("fast: %d %v %q\nReadResponse: %d %v %q", status, got, gotBody, resp.StatusCode, want, wantBody)
			}
		})
	}
}

func TestFastHeadShortBody(t *testing.T) {
	x := exchanges.Get().(*exchange)
	defer x.release()
	x.br.Reset(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"))
	_, body, ok, err := x.fastHead(http.Header{}, "GET")
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if b, err := io.ReadAll(body); err != io.ErrUnexpectedEOF || string(b) != "short" {
		t.Fatalf("%q %v, want the 5 bytes and io.ErrUnexpectedEOF", b, err)
	}
}

// The seed app's answer to GET /user/bob, as supervise's Python worker
// sends it.
const benchHead = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 23\r\nConnection: close\r\n\r\n<h1>Hello, bob!</h1>\n\n\n"

func BenchmarkHeadFast(b *testing.B) {
	b.ReportAllocs()
	rd := strings.NewReader(benchHead)
	for b.Loop() {
		rd.Reset(benchHead)
		x := exchanges.Get().(*exchange)
		x.br.Reset(rd)
		h := http.Header{}
		_, body, ok, _ := x.fastHead(h, "GET")
		if !ok {
			b.Fatal("not fast")
		}
		body.Read(x.buf)
		x.release()
	}
}

func BenchmarkHeadReadResponse(b *testing.B) {
	b.ReportAllocs()
	rd := strings.NewReader(benchHead)
	req, _ := http.NewRequest("GET", "http://x/", nil)
	for b.Loop() {
		rd.Reset(benchHead)
		x := exchanges.Get().(*exchange)
		x.br.Reset(rd)
		h := http.Header{}
		resp, err := readResponse(x.br, req)
		if err != nil {
			b.Fatal(err)
		}
		copyHeader(h, resp.Header)
		resp.Body.Read(x.buf)
		resp.Body.Close()
		x.release()
	}
}

// A signed Content-Length is not plain: the general path judges it.
func TestScanAnswerHeadRefusesSignedLength(t *testing.T) {
	var h answerHead
	for _, v := range []string{"+5", "-5", " 5x"} {
		complete, ok := scanAnswerHead([]byte("HTTP/1.1 200 OK\r\nContent-Length: "+v+"\r\n\r\nhello"), &h)
		if !complete || ok {
			t.Errorf("Content-Length %q: complete=%v plain=%v", v, complete, ok)
		}
	}
	if complete, ok := scanAnswerHead([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), &h); !complete || !ok || h.contentLength != 5 {
		t.Errorf("plain answer refused: %v %v %d", complete, ok, h.contentLength)
	}
}
