package python_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// framingVector is one case of testdata/http-framing.json (see
// testdata/README.md): the front end's parsers run the same file.
type framingVector struct {
	Name    string `json:"name"`
	Request string `json:"request"`
	Verdict string `json:"verdict"`
	Served  int    `json:"served"`
	Body    *string
	RawBody json.RawMessage `json:"body"`
}

func loadFramingVectors(t *testing.T) []framingVector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "http-framing.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs []framingVector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatalf("testdata/http-framing.json: %v", err)
	}
	for i := range vs {
		if len(vs[i].RawBody) > 0 {
			var b string
			if err := json.Unmarshal(vs[i].RawBody, &b); err != nil {
				t.Fatalf("%s: body: %v", vs[i].Name, err)
			}
			vs[i].Body = &b
		}
	}
	if len(vs) < 20 {
		t.Fatalf("only %d framing vectors", len(vs))
	}
	return vs
}

// countingApp appends each request's path to served.log in its directory
// and answers with the body it read, so a test knows how many requests
// reached the app and what they read.
const countingApp = `
import os
LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "served.log")
def application(environ, start_response):
    data = environ["wsgi.input"].read()
    with open(LOG, "a") as f:
        f.write(environ["PATH_INFO"] + "\n")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
`

func (w *pyWorker) servedPaths(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(w.cmd.Dir, "served.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(data))
}

// exchange sends raw on a new http-socket connection, half-closes it and
// reads every response until the worker closes the connection.
func (w *pyWorker) exchange(t *testing.T, raw string) (resps []*http.Response, bodies []string) {
	t.Helper()
	conn, err := net.Dial("tcp", w.http)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).CloseWrite()
	r := bufio.NewReader(conn)
	for {
		if _, err := r.Peek(1); err == io.EOF {
			return resps, bodies
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("after %d responses: %v", len(resps), err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d body: %v", len(resps)+1, err)
		}
		resps = append(resps, resp)
		bodies = append(bodies, string(b))
	}
}

// Every shared framing vector against the Python worker's http-socket
// parser: the verdict, how many requests reached the app (a smuggled one
// never does), and the body the first request read.
func TestHTTPFramingVectors(t *testing.T) {
	w := startWorker(t, countingApp, nil)
	for _, v := range loadFramingVectors(t) {
		before := len(w.servedPaths(t))
		resps, bodies := w.exchange(t, v.Request)
		served := len(w.servedPaths(t)) - before
		if served != v.Served {
			t.Errorf("%s: %d requests reached the app, want %d", v.Name, served, v.Served)
		}
		switch v.Verdict {
		case "serve":
			if len(resps) != v.Served {
				t.Errorf("%s: %d responses, want %d", v.Name, len(resps), v.Served)
				continue
			}
			for i, r := range resps {
				if r.StatusCode != 200 {
					t.Errorf("%s: response %d is %d", v.Name, i+1, r.StatusCode)
				}
			}
			if v.Body != nil && bodies[0] != *v.Body {
				t.Errorf("%s: the app read %q, want %q", v.Name, bodies[0], *v.Body)
			}
		case "reject":
			if len(resps) == 0 {
				t.Errorf("%s: no response, want an error status", v.Name)
				continue
			}
			last := resps[len(resps)-1]
			if last.StatusCode < 400 || !last.Close {
				t.Errorf("%s: last response %d (close %v), want 4xx/5xx and Connection: close", v.Name, last.StatusCode, last.Close)
			}
			if len(resps) != v.Served+1 {
				t.Errorf("%s: %d responses, want %d served and one error", v.Name, len(resps), v.Served)
			}
		default:
			t.Fatalf("%s: unknown verdict %q", v.Name, v.Verdict)
		}
	}
}

func TestHTTPUnknownTransferCodingIs501(t *testing.T) {
	w := startWorker(t, countingApp, nil)
	resps, _ := w.exchange(t, "POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
	if len(resps) != 1 || resps[0].StatusCode != 501 {
		t.Fatalf("responses %v, want one 501", resps)
	}
}

// Pipelined requests on one keep-alive connection are all answered, in
// order, and the connection stays usable (it used to hang after the first).
func TestHTTPPipelinedRequestsAnsweredInOrder(t *testing.T) {
	w := startWorker(t, countingApp, nil)
	conn, err := net.Dial("tcp", w.http)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	conn.Write([]byte("GET /one HTTP/1.1\r\nHost: t\r\n\r\n" +
		"POST /two HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" +
		"POST /three HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n" +
		"GET /four HTTP/1.1\r\nHost: t\r\n\r\n"))
	r := bufio.NewReader(conn)
	for i, want := range []string{"", "abc", "de", ""} {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("response %d: %v\n%s", i+1, err, w.log.String())
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("response %d: %d %q, want 200 %q", i+1, resp.StatusCode, b, want)
		}
	}
	if got := strings.Join(w.servedPaths(t), " "); got != "/one /two /three /four" {
		t.Fatalf("the app saw %s", got)
	}
	conn.Write([]byte("GET /five HTTP/1.1\r\nHost: t\r\n\r\n")) // still open
	if resp, err := http.ReadResponse(r, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a request after the pipelined ones: %v %v", resp, err)
	}
}

// A chunked body past CHUNKED_IN_MEMORY (1 MiB) is held in a temp file;
// the app reads it whole.
func TestHTTPLargeChunkedBody(t *testing.T) {
	w := startWorker(t, countingApp, nil)
	var req strings.Builder
	var want strings.Builder
	req.WriteString("POST /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
	for i := 0; i < 48; i++ {
		chunk := strings.Repeat(string(rune('a'+i%26)), 65536)
		fmt.Fprintf(&req, "%x\r\n%s\r\n", len(chunk), chunk)
		want.WriteString(chunk)
	}
	req.WriteString("0\r\n\r\n")
	resps, bodies := w.exchange(t, req.String())
	if len(resps) != 1 || resps[0].StatusCode != 200 || bodies[0] != want.String() {
		t.Fatalf("%d responses; body %d bytes, want %d", len(resps), len(bodies[0]), want.Len())
	}
}
