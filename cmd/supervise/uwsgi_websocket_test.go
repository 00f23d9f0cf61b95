package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/stats"
)

// wsgiWebSocketApp echoes with uWSGI's WebSocket API and notes in $EVENTS
// how each WebSocket ended; any other path is a plain WSGI answer.
const wsgiWebSocketApp = `import os, uwsgi

def note(line):
    with open(os.environ["EVENTS"], "a") as f:
        f.write(line + "\n")

def application(env, start_response):
    if env["PATH_INFO"] == "/ws":
        uwsgi.websocket_handshake(env["HTTP_SEC_WEBSOCKET_KEY"], env.get("HTTP_ORIGIN", ""))
        while True:
            try:
                msg = uwsgi.websocket_recv()
            except IOError as e:
                note("recv raised IOError: %s" % e)
                return []
            if msg == b"binary":
                uwsgi.websocket_send_binary(b"\x00\x01")
            elif msg == b"nb":
                uwsgi.websocket_send(repr(uwsgi.websocket_recv_nb()))
            else:
                uwsgi.websocket_send(b"echo: " + msg)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"plain"]
`

// wsSession runs the exchanges both servers must answer alike: echo, a
// long message, a binary one, a non-blocking recv with nothing there, a
// ping (pong), then the client's close (a close frame back, and the
// app's recv raises IOError).
func wsSession(t *testing.T, addr string) {
	t.Helper()
	ws := dialWS(t, addr, "/ws")
	ws.echo(t, "hello")
	ws.echo(t, strings.Repeat("long ", 20000))
	ws.send(t, 1, []byte("binary"))
	if op, got := ws.recv(t, 20*time.Second); op != 2 || string(got) != "\x00\x01" {
		t.Fatalf("websocket_send_binary: op %d %q", op, got)
	}
	ws.send(t, 1, []byte("nb"))
	// uWSGI's first keepalive round pings at once: recv_nb finding nothing
	// sends a ping, then returns b"".
	if op, _ := ws.recv(t, 20*time.Second); op != 9 {
		t.Fatalf("websocket_recv_nb with nothing there: op %d, want a ping first", op)
	}
	ws.send(t, 10, nil)
	if op, got := ws.recv(t, 20*time.Second); op != 1 || string(got) != "b''" {
		t.Fatalf("websocket_recv_nb with nothing there: op %d %q, want b''", op, got)
	}
	ws.send(t, 9, []byte("ping?"))
	if op, _ := ws.recv(t, 20*time.Second); op != 10 {
		t.Fatalf("a ping got op %d, want a pong", op)
	}
	ws.send(t, 8, binary.BigEndian.AppendUint16(nil, 1000))
	if op, _ := ws.recv(t, 20*time.Second); op != 8 {
		t.Fatalf("a close got op %d, want a close frame back", op)
	}
}

func waitEvents(t *testing.T, dir, want string, n int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		raw, _ := os.ReadFile(filepath.Join(dir, "events"))
		if strings.Count(string(raw), want) >= n {
			return string(raw)
		}
		if time.Now().After(deadline) {
			t.Fatalf("events: want %d x %q, have:\n%s", n, want, raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// uWSGI's WebSocket API in the threaded WSGI worker, on http-socket and
// through the front end's tunnel (uwsgi protocol to the worker), side by
// side with real uWSGI 2.0.21 running the same app on its http-socket.
func TestUWSGIWebSocketAPI(t *testing.T) {
	py := requireTool(t, "/usr/bin/python3", "-c", "import sys")
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "app.py"), wsgiWebSocketApp)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	front := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	statsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m := startMaster(t, dir, "--stats", statsAddr, "--socket", filepath.Join(dir, "app.sock"), "--http-socket", httpAddr, "--http", front,
		"--wsgi-file", "app.py", "--processes", "1", "--threads", "4", "--python-bin", py, "--chdir", dir,
		"--env", "EVENTS="+filepath.Join(dir, "events"), "--worker-reload-mercy", "30")
	m.waitLog(`all workers ready`, 1)
	waitListening(t, front)

	wsSession(t, httpAddr)
	waitEvents(t, dir, "recv raised IOError: unable to receive websocket message", 1)
	wsSession(t, front)
	waitEvents(t, dir, "recv raised IOError: unable to receive websocket message", 2)
	if code, body := get(t, "http://"+front+"/plain"); code != 200 || body != "plain" {
		t.Fatalf("a plain request: %d %q", code, body)
	}
	// nginx's uwsgi_pass with the stock uwsgi_params: nginx switches to a
	// tunnel when the worker answers 101 to a request with Upgrade.
	ngx := strings.TrimPrefix(startNginx(t, shortTempDir(t), "unix:"+filepath.Join(dir, "app.sock")), "http://")
	wsSession(t, ngx)
	waitEvents(t, dir, "recv raised IOError: unable to receive websocket message", 3)

	// A reload closes open WebSockets with 1001 (going away) at once, not
	// after worker-reload-mercy, and the app's recv raises.
	a, b := dialWS(t, httpAddr, "/ws"), dialWS(t, front, "/ws")
	a.echo(t, "before the reload")
	b.echo(t, "before the reload")
	// Each open WebSocket holds a thread: a busy request in the stats, as in uWSGI.
	st, _, err := stats.Fetch(statsAddr)
	if err != nil {
		t.Fatal(err)
	}
	busy := 0
	for _, c := range st.Workers[0].Cores {
		busy += c.InRequest
	}
	if st.Workers[0].Status != "busy" || busy != 2 {
		t.Fatalf("with 2 WebSockets open the worker is %s with %d cores in a request, want busy with 2", st.Workers[0].Status, busy)
	}
	start := time.Now()
	m.signal(syscall.SIGHUP)
	a.wantClose(t, 1001, 20*time.Second) // going away, at the reload
	b.wantClose(t, 1001, 20*time.Second)
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("closed %v after the reload (worker-reload-mercy is 30 s)", took)
	}
	m.waitLog(`worker stopped: `, 1)
	waitEvents(t, dir, "recv raised IOError", 5)
	dialWS(t, httpAddr, "/ws").echo(t, "after the reload")

	// The same app under real uWSGI answers the same exchanges.
	uw := requireTool(t, "/usr/bin/uwsgi", "--plugins", "python3", "--version")
	udir := shortTempDir(t)
	writeFile(t, filepath.Join(udir, "app.py"), wsgiWebSocketApp)
	uaddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	u := startUWSGI(t, uw, udir, uaddr, "--plugins", "python3", "--http-socket", uaddr, "--wsgi-file", "app.py",
		"--env", "EVENTS="+filepath.Join(udir, "events"))
	waitListening(t, uaddr)
	wsSession(t, uaddr)
	waitEvents(t, udir, "recv raised IOError: unable to receive websocket message", 1)
	u.Stop(t)
}

// A client that stops answering pings: after websocket-ping-freq of
// silence the worker pings, and when websocket-pong-tolerance passes
// without a pong, recv raises and the WebSocket is closed.
func TestUWSGIWebSocketPingTimeout(t *testing.T) {
	py := requireTool(t, "/usr/bin/python3", "-c", "import sys")
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "app.py"), wsgiWebSocketApp)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m := startMaster(t, dir, "--http-socket", httpAddr, "--wsgi-file", "app.py", "--processes", "1",
		"--python-bin", py, "--chdir", dir, "--env", "EVENTS="+filepath.Join(dir, "events"),
		"--websocket-ping-freq", "1", "--websocket-pong-tolerance", "1", "--websocket-max-size", "1")
	m.waitLog(`all workers ready`, 1)

	ws := dialWS(t, httpAddr, "/ws")
	start := time.Now()
	if op, _ := ws.recv(t, 10*time.Second); op != 9 {
		t.Fatalf("after 1 s of silence: op %d, want a ping", op)
	}
	ws.send(t, 10, nil) // answered: the WebSocket lives on
	if op, _ := ws.recv(t, 10*time.Second); op != 9 {
		t.Fatalf("after the next second of silence: op %d, want a ping", op)
	}
	op, _ := ws.recv(t, 10*time.Second) // this ping goes unanswered
	for op == 9 {
		op, _ = ws.recv(t, 10*time.Second)
	}
	if op != 8 {
		t.Fatalf("an unanswered ping: op %d, want the close frame", op)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Fatalf("closed after %v, before a ping could go unanswered", took)
	}
	waitEvents(t, dir, "recv raised IOError", 1)

	// websocket-max-size = 1 (KB): a larger message ends the WebSocket
	// with 1009 (message too big).
	big := dialWS(t, httpAddr, "/ws")
	big.echo(t, strings.Repeat("s", 1000))
	big.send(t, 1, []byte(strings.Repeat("b", 1025)))
	big.wantClose(t, 1009, 10*time.Second)
	waitEvents(t, dir, "recv raised IOError", 2)
}
