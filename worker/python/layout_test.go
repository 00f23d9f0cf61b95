package python_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/supervise-go/supervise/uwsgi"
)

// The app answers with what it got in the vars, one line.
const environEchoApp = `
def application(environ, start_response):
    keys = sorted(k for k in environ if k.startswith("HTTP_") or k in ("PATH_INFO", "SCRIPT_NAME", "QUERY_STRING"))
    body = " ".join("%s=%s" % (k, environ[k]) for k in keys)
    body += " version=%r" % (environ["wsgi.version"],)
    body = body.encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

func echoPacket(t *testing.T, kv ...string) []byte {
	t.Helper()
	vars := []uwsgi.Var{{Key: "REQUEST_METHOD", Value: "GET"}, {Key: "SERVER_PROTOCOL", Value: "HTTP/1.1"}}
	for i := 0; i < len(kv); i += 2 {
		vars = append(vars, uwsgi.Var{Key: kv[i], Value: kv[i+1]})
	}
	pkt, err := uwsgi.AppendPacket(nil, 0, 0, vars)
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

func echoBody(t *testing.T, out string) string {
	t.Helper()
	_, body, ok := strings.Cut(out, "\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 200") || !ok {
		t.Fatalf("answer %q", out)
	}
	return body
}

// The worker remembers a vars block's layout (offsets and keys) by its
// size, to parse the next block of that layout with a few C calls. Blocks
// of one size with other values, other keys of the same lengths, or the
// same keys with the lengths split differently must each get their own
// environ: nothing but the layout is remembered, and a layout is used only
// when the block's lengths and keys match it. Each is sent twice (the
// first builds a layout, the second uses it), on one worker.
func TestUwsgiVarsLayoutsNeverServeStaleValues(t *testing.T) {
	w := startWorker(t, environEchoApp, nil)
	cases := []struct {
		kv   []string
		want string
	}{
		{[]string{"PATH_INFO", "/aaa", "HTTP_X_ONE", "1", "HTTP_CONTENT_TYPE", "t/x"},
			"HTTP_X_ONE=1 PATH_INFO=/aaa SCRIPT_NAME= version=(1, 0)"},
		// the same size and layout, other values
		{[]string{"PATH_INFO", "/bbb", "HTTP_X_ONE", "2", "HTTP_CONTENT_TYPE", "t/y"},
			"HTTP_X_ONE=2 PATH_INFO=/bbb SCRIPT_NAME= version=(1, 0)"},
		// the same size and lengths, other keys
		{[]string{"PATH_INFO", "/ccc", "HTTP_X_TWO", "3", "HTTP_CONTENT_TYPE", "t/z"},
			"HTTP_X_TWO=3 PATH_INFO=/ccc SCRIPT_NAME= version=(1, 0)"},
		{[]string{"PATH_INFO", "/ddd", "HTTP_X_TWO", "4", "SCRIPT_NAME", "/tt"},
			"HTTP_X_TWO=4 PATH_INFO=/ddd SCRIPT_NAME=/tt version=(1, 0)"},
		// the same size, the lengths split differently
		{[]string{"PATH_INFO", "/eeee", "HTTP_X_ONE", "", "HTTP_CONTENT_TYPE", "t/x"},
			"HTTP_X_ONE= PATH_INFO=/eeee SCRIPT_NAME= version=(1, 0)"},
		{[]string{"PATH_INFO", "/ff", "HTTP_X_ONE", "56", "HTTP_CONTENT_TYPE", "t/x"},
			"HTTP_X_ONE=56 PATH_INFO=/ff SCRIPT_NAME= version=(1, 0)"},
		// a key twice: the last value wins, as in a pair-by-pair parse
		{[]string{"PATH_INFO", "/g", "HTTP_X_ONE", "a", "HTTP_X_ONE", "b"},
			"HTTP_X_ONE=b PATH_INFO=/g SCRIPT_NAME= version=(1, 0)"},
		// latin-1 text (PEP 3333)
		{[]string{"PATH_INFO", "/\xe9", "HTTP_X_ONE", "\xff"},
			"HTTP_X_ONE=\xff PATH_INFO=/\xe9 SCRIPT_NAME= version=(1, 0)"},
	}
	sizes := map[int]int{}
	for _, c := range cases {
		sizes[len(echoPacket(t, c.kv...))]++
	}
	if len(sizes) > 4 {
		t.Fatalf("the cases should share block sizes: %v", sizes)
	}
	for round := 0; round < 2; round++ {
		for _, c := range cases {
			if got := echoBody(t, w.uwsgiRaw(t, echoPacket(t, c.kv...))); got != c.want {
				t.Errorf("round %d, vars %q: environ %q, want %q", round, c.kv, got, c.want)
			}
		}
	}
	// More sizes than a worker remembers: every answer still its own.
	for round := 0; round < 2; round++ {
		for i := 0; i < 150; i++ {
			path := "/" + strings.Repeat("p", i)
			want := fmt.Sprintf("HTTP_X_N=%d PATH_INFO=%s SCRIPT_NAME= version=(1, 0)", i, path)
			if got := echoBody(t, w.uwsgiRaw(t, echoPacket(t, "PATH_INFO", path, "HTTP_X_N", fmt.Sprint(i)))); got != want {
				t.Fatalf("size %d: environ %q, want %q", i, got, want)
			}
		}
	}
}
