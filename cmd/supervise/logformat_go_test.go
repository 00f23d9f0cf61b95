package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/supervise-go/supervise/uwsgi"
)

// formatHandler answers as formatApp does.
func formatHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-A", "1")
		io.WriteString(w, "hello world\n")
	})
}

// The part before " | " is compared byte for byte; after it, with every
// number masked. The numbers after it are checked one by one where they
// must agree.
const sharedLogFormat = `%(addr) - %(user) "%(method) %(uri) %(proto)" %(status) %(rsize) "%(referer)" "%(uagent)" %(host) ` +
	`%(var.HTTP_X_TEST) %(var.QUERY_STRING) %(cookie.sid) %(nolv) %(metric.m) %(cl) %(werr) %(rerr) %(ioerr) %(%(x)) 50% ` +
	`%(modifier1) %(modifier2) %(switches) | %(core) %(wid) %(headers) %(vars) %(pktsize) %(hsize) %(size) ` +
	`[%(ltime)] [%(ctime)] [%(ftime)] %(time) %(epoch) %(tmsecs) %(tmicros) %(msecs) %(micros) %(secs)`

var formatFlags = []string{"--log-format", sharedLogFormat, "--log-date=%Y-%m-%d %H", "--logformat-strftime", "--log-x-forwarded-for"}

// formatServer is one server under comparison: its http-socket and
// uwsgi socket addresses and its log.
type formatServer struct{ httpAddr, uwsgiAddr, log string }

// uwsgiPacket is the uwsgi request nginx's uwsgi_params would send for
// one of formatRequests.
func uwsgiPacket(t *testing.T, raw string) []byte {
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	vars := []uwsgi.Var{{Key: "QUERY_STRING", Value: req.URL.RawQuery}, {Key: "REQUEST_METHOD", Value: req.Method},
		{Key: "CONTENT_TYPE", Value: ""}, {Key: "CONTENT_LENGTH", Value: req.Header.Get("Content-Length")},
		{Key: "REQUEST_URI", Value: req.RequestURI}, {Key: "PATH_INFO", Value: req.URL.Path},
		{Key: "SERVER_PROTOCOL", Value: req.Proto}, {Key: "REMOTE_ADDR", Value: "192.0.2.7"},
		{Key: "REMOTE_PORT", Value: "40000"}, {Key: "SERVER_PORT", Value: "80"}, {Key: "SERVER_NAME", Value: "ex.com"},
		{Key: "HTTP_HOST", Value: req.Host}}
	for _, k := range []string{"User-Agent", "Referer", "X-Test", "X-Forwarded-For", "Cookie", "Content-Length"} {
		if v := req.Header.Get(k); v != "" {
			vars = append(vars, uwsgi.Var{Key: "HTTP_" + strings.ToUpper(strings.ReplaceAll(k, "-", "_")), Value: v})
		}
	}
	pkt, err := uwsgi.AppendPacket(nil, 0, 0, vars)
	if err != nil {
		t.Fatal(err)
	}
	return append(pkt, body...)
}

// collectFormatLines sends formatRequests over http-socket, then the same
// requests as uwsgi packets, and returns the request lines logged, in
// that order.
func collectFormatLines(t *testing.T, s formatServer) (httpLines, uwsgiLines []string) {
	t.Helper()
	send := func(addr string, payloads []string, before int) []string {
		waitFor(t, "a server on "+addr, func() bool {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		for _, p := range payloads {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, p)
			io.ReadAll(c)
			c.Close()
		}
		var lines []string
		waitFor(t, "the request lines in "+s.log, func() bool {
			raw, _ := os.ReadFile(s.log)
			lines = nil
			for _, l := range strings.Split(string(raw), "\n") {
				if strings.Contains(l, " | ") && strings.Contains(l, "] [") {
					lines = append(lines, l)
				}
			}
			return len(lines) >= before+len(payloads)
		})
		return lines[before:]
	}
	if s.httpAddr != "" {
		httpLines = send(s.httpAddr, formatRequests, 0)
	}
	if s.uwsgiAddr != "" {
		var pkts []string
		for _, raw := range formatRequests {
			pkts = append(pkts, string(uwsgiPacket(t, raw)))
		}
		uwsgiLines = send(s.uwsgiAddr, pkts, len(httpLines))
	}
	return httpLines, uwsgiLines
}

func startUWSGIFormat(t *testing.T, dir, app string, flags []string) formatServer {
	uwsgiBin := requireTool(t, "uwsgi", "--version")
	writeFile(t, filepath.Join(dir, "app.py"), app)
	s := formatServer{fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t)), filepath.Join(dir, "uwsgi.log")}
	cmd := exec.Command(uwsgiBin, append([]string{"--plugins", "python3", "--http-socket", s.httpAddr, "--socket", s.uwsgiAddr,
		"--wsgi-file", "app.py", "--chdir", dir, "--master", "--processes", "1", "--logto", s.log}, flags...)...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return s
}

var digitsRe = regexp.MustCompile(`\d+`)

// compareFormatLines holds got to want: the part before " | " exactly,
// the rest with numbers masked, and the numbers named in exact (by
// position after " | ": 0 core, 1 wid, 2 headers, 3 vars, 4 pktsize,
// 5 hsize, 6 size) exactly, with hsizeExtra bytes more head in got.
func compareFormatLines(t *testing.T, what string, want, got []string, exact []int, hsizeExtra int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d lines, uWSGI logged %d", what, len(got), len(want))
	}
	for i := range want {
		w, g := strings.SplitN(want[i], " | ", 2), strings.SplitN(got[i], " | ", 2)
		ok := len(w) == 2 && len(g) == 2 && w[0] == g[0] && digitsRe.ReplaceAllString(w[1], "0") == digitsRe.ReplaceAllString(g[1], "0")
		if ok {
			wn, gn := strings.Fields(w[1]), strings.Fields(g[1])
			for _, j := range exact {
				wv := wn[j]
				if j == 5 || j == 6 {
					var n int
					fmt.Sscan(wv, &n)
					wv = fmt.Sprint(n + hsizeExtra)
				}
				if gn[j] != wv {
					ok = false
				}
			}
		}
		if !ok {
			t.Errorf("%s, request %d:\nuwsgi:     %q\nsupervise: %q", what, i, want[i], got[i])
		}
	}
}

// log-format lines from a Go worker equal uWSGI 2.0.21's for the same
// requests, over http-socket and over uwsgi.
func TestLogFormatGoWorkerMatchesUWSGI(t *testing.T) {
	processTest(t)
	dir := shortTempDir(t)
	u := startUWSGIFormat(t, dir, formatApp, formatFlags)
	wantHTTP, wantUwsgi := collectFormatLines(t, u)

	s := formatServer{fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t)), filepath.Join(dir, "go.log")}
	// Two threads: with one, the uwsgi socket's accept holds the only
	// request slot and http-socket waits for it (so %(core) is 0 or 1).
	startMaster(t, dir, append(append([]string{"--http-socket", s.httpAddr, "--socket", s.uwsgiAddr, "--processes", "1", "--threads", "2",
		"--logto", s.log, "--env", envHelper + "=formatapp"}, formatFlags...), "--", os.Args[0])...)
	gotHTTP, gotUwsgi := collectFormatLines(t, s)
	// Over http-socket net/http writes the head: %(hsize) is what the
	// handler's headers add up to, and %(vars) counts the names uWSGI's
	// parser would give the request.
	compareFormatLines(t, "Go worker, http-socket", wantHTTP, gotHTTP, []int{1, 2}, 0)
	// Over uwsgi the Go worker's head is uWSGI's, byte for byte.
	compareFormatLines(t, "Go worker, uwsgi", wantUwsgi, gotUwsgi, []int{1, 2, 3, 4, 5, 6}, 0)
}

// The front end's own request lines (supervise http --log-format) equal
// uWSGI's for the same requests, through the event loop and through
// net/http; the vars printed are the ones it forwards.
func TestLogFormatFrontEndMatchesUWSGI(t *testing.T) {
	processTest(t)
	dir := shortTempDir(t)
	u := startUWSGIFormat(t, dir, formatApp, formatFlags)
	want, _ := collectFormatLines(t, formatServer{httpAddr: u.httpAddr, log: u.log})
	for _, mode := range []string{"loop", "net/http"} {
		s := formatServer{httpAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), log: filepath.Join(dir, strings.ReplaceAll(mode, "/", "")+".log")}
		args := []string{"http", "--listen", s.httpAddr, "--to", u.uwsgiAddr, "--log-format", sharedLogFormat,
			"--log-date", "%Y-%m-%d %H", "--log-x-forwarded-for"}
		if mode == "net/http" {
			args = append(args, "--no-event-loop")
		}
		out, err := os.Create(s.log)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], args...)
		cmd.Stderr, cmd.Stdout = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); out.Close() })
		got, _ := collectFormatLines(t, s)
		// The front end is no worker: %(wid) and %(core) are 0; its head
		// has the headers it adds (Date, Connection).
		compareFormatLines(t, "front end ("+mode+")", want, got, nil, 0)
		for i, line := range got {
			if f := strings.Fields(strings.SplitN(line, " | ", 2)[1]); f[0] != "0" || f[1] != "0" || f[3] == "0" || f[4] == "0" {
				t.Errorf("front end (%s) request %d: core, wid, vars, pktsize = %v", mode, i, f[:5])
			}
		}
	}
}

const logvarApp = `import uwsgi
def application(environ, start_response):
    uwsgi.set_logvar("lv", "from-app")
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-A", "1")])
    return [b"hello world\n"]
`

// The Python worker's log-format lines equal uWSGI's over uwsgi and
// http-socket, with a logvar the app set (uwsgi.set_logvar), %(vars),
// %(pktsize) and %(headers).
func TestLogFormatPythonMatchesUWSGI(t *testing.T) {
	parallel(t)
	py := debianPython(t)
	dir := shortTempDir(t)
	flags := append([]string(nil), formatFlags...)
	flags[1] = "%(lv) " + sharedLogFormat
	u := startUWSGIFormat(t, dir, logvarApp, flags)
	wantHTTP, wantUwsgi := collectFormatLines(t, u)

	s := formatServer{fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t)), filepath.Join(dir, "py.log")}
	startMaster(t, dir, append([]string{"--http-socket", s.httpAddr, "--socket", s.uwsgiAddr, "--processes", "1",
		"--wsgi-file", "app.py", "--python-bin", py, "--chdir", dir, "--logto", s.log}, flags...)...)
	gotHTTP, gotUwsgi := collectFormatLines(t, s)
	if !strings.HasPrefix(gotHTTP[0], "from-app ") {
		t.Errorf("the app's logvar: %q", gotHTTP[0])
	}
	// Over http-socket, SERVER_NAME is the socket's address (uWSGI's is
	// the host name), so %(pktsize) differs; the head has the
	// Connection: close the worker adds.
	compareFormatLines(t, "Python worker, http-socket", wantHTTP, gotHTTP, []int{0, 1, 2, 3}, 0)
	// Over uwsgi, PEP 3333 drops the HTTP_CONTENT_LENGTH nginx repeats
	// before the app sees environ: the POST (request 1) counts one less.
	compareFormatLines(t, "Python worker, uwsgi", []string{wantUwsgi[0], wantUwsgi[2]}, []string{gotUwsgi[0], gotUwsgi[2]}, []int{0, 1, 2, 3, 4, 5, 6}, 0)
	compareFormatLines(t, "Python worker, uwsgi POST", wantUwsgi[1:2], gotUwsgi[1:2], []int{0, 1, 2}, 0)
}
