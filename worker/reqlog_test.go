package worker

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/supervise-go/supervise/ipc"
)

func reqLogFor(t *testing.T, env map[string]string) (*reqLog, *bytes.Buffer) {
	for _, k := range []string{ipc.EnvDisableLogging, ipc.EnvLogOnly, ipc.EnvLogFormat, ipc.EnvLogStrftime, ipc.EnvLogXFF, ipc.EnvLogJSON} {
		t.Setenv(k, env[k])
	}
	var out bytes.Buffer
	l := newLogger()
	l.w = &out
	return newReqLog(l, 1), &out
}

func done(status int, written int64, took time.Duration) *reqDone {
	r := httptest.NewRequest("GET", "/p?q=1", nil)
	r.RemoteAddr = "10.0.0.1:5000"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	return &reqDone{r: r, status: status, written: written, start: time.Now(), took: took}
}

// disable-logging with log-4xx, log-slow and log-big logs the requests
// that match one of them, in the format given.
func TestReqLogOnlyExceptions(t *testing.T) {
	q, out := reqLogFor(t, map[string]string{ipc.EnvDisableLogging: "1", ipc.EnvLogOnly: "4xx,slow=100,big=1000",
		ipc.EnvLogFormat: "%(status) %(rsize) %(msecs)"})
	for _, d := range []*reqDone{done(200, 5, 0), done(404, 5, 0), done(200, 5, 150*time.Millisecond), done(200, 1000, 0), done(500, 5, 0)} {
		q.request(d)
	}
	if got, want := out.String(), "404 5 0\n200 5 150\n200 1000 0\n"; got != want {
		t.Fatalf("logged %q, want %q", got, want)
	}
}

// log-ioerror logs, with disable-logging, a request that had both a read
// error and a write error (uWSGI's rule), and no other; %(rerr) and
// %(werr) count them.
func TestReqLogIOError(t *testing.T) {
	q, out := reqLogFor(t, map[string]string{ipc.EnvDisableLogging: "1", ipc.EnvLogOnly: "ioerror,sendfile",
		ipc.EnvLogFormat: "%(status) %(rerr) %(werr)"})
	for _, errs := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		d := done(200, 5, 0)
		d.readFailed, d.writeFailed = errs[0], errs[1]
		q.request(d)
	}
	if got, want := out.String(), "200 1 1\n"; got != want {
		t.Fatalf("logged %q, want %q", got, want)
	}
}

// A uwsgi request's body is CONTENT_LENGTH bytes; one the client cuts
// short is io.ErrUnexpectedEOF and marks the request's read as failed.
func TestRequestBodyEndsEarly(t *testing.T) {
	whole := &requestBody{r: strings.NewReader("hello, more"), left: 5}
	if b, err := io.ReadAll(whole); err != nil || string(b) != "hello" || whole.failed {
		t.Fatalf("read %q, %v, failed=%v; want hello", b, err, whole.failed)
	}
	short := &requestBody{r: strings.NewReader("hel"), left: 5}
	if b, err := io.ReadAll(short); !errors.Is(err, io.ErrUnexpectedEOF) || string(b) != "hel" || !short.failed {
		t.Fatalf("read %q, %v, failed=%v; want hel, unexpected EOF, failed", b, err, short.failed)
	}
}

// With log-encoder = json a format line is the message of one JSON
// object; log-x-forwarded-for shows the header in the fixed line too.
func TestReqLogJSONAndXFF(t *testing.T) {
	q, out := reqLogFor(t, map[string]string{ipc.EnvLogJSON: "1", ipc.EnvLogFormat: `%(addr) "%(method) %(uri)" %(status)`, ipc.EnvLogXFF: "1"})
	q.request(done(200, 5, 0))
	var obj map[string]any
	if err := json.Unmarshal(out.Bytes(), &obj); err != nil {
		t.Fatalf("%q: %v", out.String(), err)
	}
	if obj["@message"] != `203.0.113.9 "GET /p?q=1" 200` || obj["@level"] != "info" {
		t.Fatalf("%v", obj)
	}
	q, out = reqLogFor(t, map[string]string{ipc.EnvLogXFF: "1"})
	q.request(done(200, 5, 0))
	if !strings.Contains(out.String(), "request: method=GET path=/p?q=1 status=200 bytes=5 ") || !strings.HasSuffix(out.String(), " remote=203.0.113.9\n") {
		t.Fatalf("%q", out.String())
	}
}

// %(var.NAME) over http-socket: the names uWSGI's parser gives.
func TestHTTPEnv(t *testing.T) {
	r := httptest.NewRequest("POST", "/a%20b?x=1", strings.NewReader("abc"))
	r.RemoteAddr = "10.0.0.1:5000"
	r.Header.Set("X-Request-Id", "rid")
	e := (*httpEnv)(r)
	for k, want := range map[string]string{"REQUEST_METHOD": "POST", "PATH_INFO": "/a b", "QUERY_STRING": "x=1",
		"REMOTE_ADDR": "10.0.0.1", "REMOTE_PORT": "5000", "HTTP_X_REQUEST_ID": "rid", "HTTP_HOST": "example.com", "NOPE": ""} {
		if got := e.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// The cost of a request line in the worker, written to a discarding
// writer: the fixed line, the combined log-format, and both as JSON.
func BenchmarkRequestLine(b *testing.B) {
	combined := `%(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size) "%(referer)" "%(uagent)" %(msecs)`
	for _, bc := range []struct{ name, format, json string }{{"fixed", "", ""}, {"format", combined, ""},
		{"fixed-json", "", "1"}, {"format-json", combined, "1"}} {
		b.Run(bc.name, func(b *testing.B) {
			for _, k := range []string{ipc.EnvDisableLogging, ipc.EnvLogOnly, ipc.EnvLogStrftime, ipc.EnvLogXFF} {
				b.Setenv(k, "")
			}
			b.Setenv(ipc.EnvLogFormat, bc.format)
			b.Setenv(ipc.EnvLogJSON, bc.json)
			l := newLogger()
			l.w = io.Discard
			q := newReqLog(l, 1)
			d := done(200, 1234, 1234567)
			d.r.Header.Set("User-Agent", "curl/8.0")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				q.request(d)
			}
		})
	}
}

// With req-logger (ipc.EnvReqLog) every request line, fixed, formatted
// or JSON, starts with the mark the master routes it by; without it,
// none does.
func TestReqLogMarksRequestLines(t *testing.T) {
	for _, env := range []map[string]string{{}, {ipc.EnvLogFormat: "%(status)"}, {ipc.EnvLogJSON: "1"}, {ipc.EnvLogJSON: "1", ipc.EnvLogFormat: "%(status)"}} {
		t.Setenv(ipc.EnvReqLog, "1")
		q, out := reqLogFor(t, env)
		q.request(done(200, 5, 0))
		q.request(done(201, 5, 0))
		lines := strings.SplitAfter(out.String(), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], ipc.ReqLogMark) || !strings.HasPrefix(lines[1], ipc.ReqLogMark) ||
			strings.Count(out.String(), ipc.ReqLogMark) != 2 {
			t.Fatalf("%v: %q", env, out.String())
		}
		t.Setenv(ipc.EnvReqLog, "")
		q, out = reqLogFor(t, env)
		q.request(done(200, 5, 0))
		if strings.Contains(out.String(), ipc.ReqLogMark) {
			t.Fatalf("%v, no req-logger: %q", env, out.String())
		}
	}
}
