package frontend

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/supervise-go/supervise/logformat"
)

// With disable-logging the front end still logs the requests
// log-4xx/log-slow name, in the log-format given, X-Forwarded-For as the
// client with log-x-forwarded-for, and the vars it forwards for %(var.NAME).
func TestAccessLogFormatAndExceptions(t *testing.T) {
	var lines []string
	s, err := New(Config{Backends: []string{"127.0.0.1:1"}, DisableLogging: true, AccessLog: AccessLog{
		Format: logformat.Compile(`%(addr) "%(method) %(uri)" %(status) %(rsize) %(var.HTTP_X_ID) %(var.REMOTE_ADDR) %(headers)`, "", 1, 0),
		Only:   logformat.ParseOnly("4xx,slow=50"), XFF: true,
		Out: func(b []byte) { lines = append(lines, string(b)) }}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/a?b=1", nil)
	r.Header.Set("X-Id", "rid")
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	c := &connInfo{RemoteAddr: "10.0.0.1", RemotePort: "5000"}
	h := http.Header{"Content-Type": {"text/plain"}}
	s.logRequest(r, c, 200, 5, time.Now(), h)                             // not logged
	s.logRequest(r, c, 404, 7, time.Now(), h)                             // 4xx
	s.logRequest(r, c, 200, 9, time.Now().Add(-80*time.Millisecond), nil) // slow
	want := "203.0.113.9 \"GET /a?b=1\" 404 7 rid 10.0.0.1 1\n203.0.113.9 \"GET /a?b=1\" 200 9 rid 10.0.0.1 0\n"
	if got := strings.Join(lines, ""); got != want {
		t.Fatalf("logged %q\nwant   %q", got, want)
	}
}
