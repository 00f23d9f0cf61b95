package frontend

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/supervise-go/supervise/internal/nginxtest"
)

// TestFramingVectorsNginx is the differential half of the framing table:
// the same bytes to a real nginx (uwsgi_pass to a fake worker, as the
// front end passes them) must get the `nginx` column's verdict where the
// table gives one, else the `verdict` column's.
func TestFramingVectorsNginx(t *testing.T) {
	bin := nginxtest.Binary()
	if bin == "" {
		t.Skip("nginx not installed (apt-get install nginx-light)")
	}
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", echoBody)
	base := nginxtest.Start(t, bin, dir, nginxtest.UwsgiPass("unix:"+w.path))
	for _, v := range loadFramingVectors(t) {
		t.Run(strings.ReplaceAll(v.Name, " ", "_"), func(t *testing.T) {
			before := w.count()
			want := v
			if v.Nginx != "" {
				verdict, _, _ := strings.Cut(v.Nginx, " ")
				want.Verdict, want.Status = verdict, nginxStatus(v)
				if verdict == "serve" {
					want.Served = strings.Count(v.Request, " HTTP/1.") // each request in the bytes
				}
			}
			o := sendVector(t, base, want)
			var body []byte
			if w.count() > before {
				w.mu.Lock()
				body = w.body[before]
				w.mu.Unlock()
			}
			served := w.count() - before
			t.Logf("nginx answered %v, closed %v", o.statuses, o.closed)
			checkOutcome(t, want, o, served, body)
		})
	}
}

// nginxStatus is the status in v's nginx column ("reject (501)"), or 0.
func nginxStatus(v framingVector) int {
	_, status, _ := strings.Cut(v.Nginx, " ")
	n, _ := strconv.Atoi(strings.Trim(status, "()"))
	return n
}

// pathVectors are request targets whose percent-decoding puts control
// bytes into PATH_INFO: status and PATH_INFO are what nginx 1.22 answers
// and passes (TestPathVectorsNginx checks), and the front end must do the
// same (TestPathVectors). nginx refuses only %00; CR and LF it passes on
// (PATH_INFO is length-prefixed in the uwsgi packet, and an app that
// echoes it into a header is stopped at the answer: see
// TestAnswerHeaderWithCTL502).
var pathVectors = []struct {
	name, target string
	status       int
	pathInfo     string
}{
	{"plain", "/a%20b", 200, "/a b"},
	{"NUL", "/a%00b", 400, ""},
	{"CR LF", "/a%0d%0aSet-Cookie:%20x", 200, "/a\r\nSet-Cookie: x"},
	{"DEL", "/a%7fb", 200, "/a\x7fb"},
	{"TAB", "/a%09b", 200, "/a\tb"},
}

// checkPathVectors sends each path vector to base on its own connection.
func checkPathVectors(t *testing.T, base string, w *fakeWorker) {
	for _, v := range pathVectors {
		before := w.count()
		c, br := dialFront(t, base)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", v.target)
		resp, _ := readAnswer(t, br, "GET")
		if resp.StatusCode != v.status {
			t.Errorf("%s: status %d; want %d", v.name, resp.StatusCode, v.status)
		}
		if v.status != 200 {
			if w.count() != before {
				t.Errorf("%s: the request reached the worker", v.name)
			}
			continue
		}
		p, _ := w.last()
		if pi, _ := p.Get("PATH_INFO"); pi != v.pathInfo {
			t.Errorf("%s: PATH_INFO %q; want %q", v.name, pi, v.pathInfo)
		}
	}
}

func TestPathVectorsNginx(t *testing.T) {
	bin := nginxtest.Binary()
	if bin == "" {
		t.Skip("nginx not installed (apt-get install nginx-light)")
	}
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", echoBody)
	checkPathVectors(t, nginxtest.Start(t, bin, dir, nginxtest.UwsgiPass("unix:"+w.path)), w)
}

func TestPathVectors(t *testing.T) {
	for _, noLoop := range []bool{false, true} {
		dir := tempDir(t)
		w := startFakeWorker(t, dir, "w.sock", echoBody)
		base, _ := frontFor(t, Config{Backends: []string{w.path}, NoEventLoop: noLoop})
		checkPathVectors(t, base, w)
	}
}
