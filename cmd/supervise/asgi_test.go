package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/stats"
)

// fastAPIApp is a FastAPI app with a path parameter, a JSON POST, a
// streaming response, a request body read as a stream, a slow endpoint,
// a WebSocket echo and lifespan events (written to $EVENTS).
const fastAPIApp = `import asyncio, os
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

app = FastAPI()
started = []

def event(what):
    with open(os.environ["EVENTS"], "a") as f:
        f.write("%s %d\n" % (what, os.getpid()))

@app.on_event("startup")
async def startup():
    started.append(os.getpid())
    event("startup")

@app.on_event("shutdown")
async def shutdown():
    event("shutdown")

@app.get("/items/{item_id}")
async def item(item_id: int, q: str = ""):
    return {"item_id": item_id, "q": q, "started": started == [os.getpid()]}

class Item(BaseModel):
    name: str
    price: float

@app.post("/items")
async def create(item: Item):
    return {"name": item.name, "double": item.price * 2}

@app.get("/stream")
async def stream(n: int = 3):
    async def gen():
        for i in range(n):
            yield b"part %d\n" % i
            await asyncio.sleep(0.01)
    return StreamingResponse(gen(), media_type="text/plain")

@app.post("/count")
async def count(request: Request):
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
    return {"bytes": total}

@app.get("/sleep")
async def sleep(s: float = 1):
    await asyncio.sleep(s)
    return {"slept": s}

@app.get("/pid")
async def pid():
    return {"pid": os.getpid()}

@app.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            msg = await websocket.receive_text()
            await websocket.send_text("echo: " + msg)
    except WebSocketDisconnect as e:
        event("ws-closed-%d" % e.code)
`

func fastAPIPython(t *testing.T) string {
	return requireTool(t, "/usr/bin/python3", "-c", "import fastapi, pydantic")
}

// startASGI runs the FastAPI app with asgi = app:app on a uwsgi unix
// socket and an http-socket; it returns the master, the dir, the uwsgi
// socket and the http-socket's address.
func startASGI(t *testing.T, extra ...string) (m *masterProc, dir, sock, httpAddr string) {
	t.Helper()
	py := fastAPIPython(t)
	dir = shortTempDir(t)
	sock = filepath.Join(dir, "app.sock")
	writeFile(t, filepath.Join(dir, "app.py"), fastAPIApp)
	httpAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append([]string{"--socket", sock, "--http-socket", httpAddr, "--asgi", "app:app", "--processes", "2",
		"--python-bin", py, "--chdir", dir, "--env", "EVENTS=" + filepath.Join(dir, "events")}, extra...)
	m = startMaster(t, dir, args...)
	m.waitLog(`all workers ready`, 1)
	return m, dir, sock, httpAddr
}

func asgiEvents(t *testing.T, dir string) string {
	raw, _ := os.ReadFile(filepath.Join(dir, "events"))
	return string(raw)
}

func TestASGIFastAPIBehindNginxAndOnHTTPSocket(t *testing.T) {
	statsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m, dir, sock, httpAddr := startASGI(t, "--stats", statsAddr, "--async", "8")
	if got := strings.Count(asgiEvents(t, dir), "startup"); got != 2 {
		t.Fatalf("lifespan startup ran %d times before ready, want once per worker:\n%s", got, asgiEvents(t, dir))
	}
	nginx := startNginx(t, dir, "unix:"+sock)
	// nginx's uwsgi_pass tunnels a WebSocket once the worker answers 101.
	dialWS(t, strings.TrimPrefix(nginx, "http://"), "/ws").echo(t, "through nginx's uwsgi_pass")
	for _, base := range []string{nginx, "http://" + httpAddr} {
		code, body := get(t, base+"/items/42?q=hi")
		if code != 200 || body != `{"item_id":42,"q":"hi","started":true}` {
			t.Fatalf("%s path parameter: %d %q", base, code, body)
		}
		resp, err := http.Post(base+"/items", "application/json", strings.NewReader(`{"name":"pen","price":1.25}`))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(raw) != `{"name":"pen","double":2.5}` {
			t.Fatalf("%s JSON POST: %d %q", base, resp.StatusCode, raw)
		}
		resp, err = http.Post(base+"/items", "application/json", strings.NewReader(`{"name":"pen"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 422 {
			t.Fatalf("%s invalid JSON POST: %d, want FastAPI's 422", base, resp.StatusCode)
		}
		code, body = get(t, base+"/stream?n=4")
		if code != 200 || body != "part 0\npart 1\npart 2\npart 3\n" {
			t.Fatalf("%s streaming response: %d %q", base, code, body)
		}
		// A 5 MB body, streamed to the app in pieces (and chunked on the
		// way in where Go's client sends it so: unknown length).
		big := bytes.Repeat([]byte("x"), 5<<20)
		resp, err = http.Post(base+"/count", "application/octet-stream", io.MultiReader(bytes.NewReader(big)))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(raw) != `{"bytes":5242880}` {
			t.Fatalf("%s streamed request body: %d %q", base, resp.StatusCode, raw)
		}
	}
	// The streaming response reaches an http-socket client chunk by chunk.
	conn, err := net.Dial("tcp", httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /stream?n=2 HTTP/1.1\r\nHost: x\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" || string(raw) != "part 0\npart 1\n" {
		t.Fatalf("streaming on http-socket: %v %q, want chunked", resp.TransferEncoding, raw)
	}
	st := waitStats(t, statsAddr, func(st *stats.Stats) bool {
		var n uint64
		for _, w := range st.Workers {
			n += w.Requests
		}
		return n >= 11
	})
	for _, w := range st.Workers {
		if len(w.Cores) != 8 {
			t.Errorf("worker %d has %d cores, want async = 8", w.ID, len(w.Cores))
		}
	}
	m.signal(syscall.SIGTERM)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if got := strings.Count(asgiEvents(t, dir), "shutdown"); got != 2 {
		t.Fatalf("lifespan shutdown ran %d times at stop, want once per worker:\n%s", got, asgiEvents(t, dir))
	}
}

// wsClient is a minimal RFC 6455 client: masked text frames out, frames in.
type wsClient struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialWS(t *testing.T, addr, path string) *wsClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, addr)
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(conn)
	var head []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("WebSocket handshake: %v after %q", err, head)
		}
		if line == "\r\n" {
			break
		}
		head = append(head, strings.ToLower(strings.TrimRight(line, "\r\n")))
	}
	if len(head) == 0 || !strings.HasPrefix(head[0], "http/1.1 101 ") ||
		!contains(head, "sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=") {
		t.Fatalf("WebSocket handshake answered %q", head)
	}
	conn.SetReadDeadline(time.Time{})
	return &wsClient{conn: conn, r: r}
}

func (c *wsClient) send(t *testing.T, op byte, payload []byte) {
	t.Helper()
	frame := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		frame = append(frame, 0x80|byte(n))
	case n < 65536:
		frame = append(frame, 0x80|126, byte(n>>8), byte(n))
	default:
		frame = append(frame, 0x80|127)
		frame = binary.BigEndian.AppendUint64(frame, uint64(n))
	}
	var mask [4]byte
	rand.Read(mask[:])
	frame = append(frame, mask[:]...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := c.conn.Write(frame); err != nil {
		t.Fatal(err)
	}
}

// recv reads one frame (the server's are unmasked and, from our server,
// never fragmented).
func (c *wsClient) recv(t *testing.T, within time.Duration) (op byte, payload []byte) {
	t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(within))
	var hdr [2]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		t.Fatalf("reading a WebSocket frame: %v", err)
	}
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		io.ReadFull(c.r, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		io.ReadFull(c.r, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.r, payload); err != nil {
		t.Fatalf("reading a WebSocket payload: %v", err)
	}
	return hdr[0] & 0x0f, payload
}

// wantClose reads the next frame (within the time given) and fails the
// test unless it is a close frame with code.
func (c *wsClient) wantClose(t *testing.T, code uint16, within time.Duration) {
	t.Helper()
	op, got := c.recv(t, within)
	if op != 8 || len(got) < 2 || binary.BigEndian.Uint16(got) != code {
		t.Fatalf("got op %d %q, want a close frame with %d", op, got, code)
	}
}

func (c *wsClient) echo(t *testing.T, msg string) {
	t.Helper()
	c.send(t, 1, []byte(msg))
	op, got := c.recv(t, 20*time.Second)
	if op != 1 || string(got) != "echo: "+msg {
		t.Fatalf("WebSocket echo of %q: op %d %q", msg, op, got)
	}
}

// A FastAPI WebSocket echo on http-socket; a reload closes it with 1001
// (going away) at once, well within worker-reload-mercy, and the app sees
// the same code.
func TestASGIWebSocketEchoAndGoingAwayOnReload(t *testing.T) {
	parallel(t)
	m, dir, _, httpAddr := startASGI(t, "--worker-reload-mercy", "30")
	ws := dialWS(t, httpAddr, "/ws")
	ws.echo(t, "hello")
	ws.echo(t, strings.Repeat("long ", 20000)) // 100 kB: 64-bit lengths both ways
	ws.send(t, 9, []byte("ping?"))
	if op, got := ws.recv(t, 20*time.Second); op != 10 || string(got) != "ping?" {
		t.Fatalf("ping answered with op %d %q, want a pong", op, got)
	}
	start := time.Now()
	m.signal(syscall.SIGHUP)
	ws.wantClose(t, 1001, 30*time.Second) // going away, at the reload
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("closed %v after the reload", took)
	}
	m.waitLog(`worker stopped: `, 2)
	if !strings.Contains(asgiEvents(t, dir), "ws-closed-1001") {
		t.Fatalf("the app did not see code 1001:\n%s", asgiEvents(t, dir))
	}
	// The new generation serves WebSockets too.
	dialWS(t, httpAddr, "/ws").echo(t, "again")
}

// The master's policies see an ASGI worker through the scoreboard as any
// other: harakiri kills a stuck request's worker, max-requests recycles.
func TestASGIHarakiriAndMaxRequests(t *testing.T) {
	parallel(t)
	m, _, sock, httpAddr := startASGI(t, "--processes", "1", "--harakiri", "2", "--max-requests", "4", "--min-worker-lifetime", "0")
	start := time.Now()
	conn, err := net.Dial("tcp", httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /sleep?s=60 HTTP/1.1\r\nHost: x\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, _ := conn.Read(make([]byte, 100))
	if took := time.Since(start); n != 0 || took > 20*time.Second {
		t.Fatalf("stuck request: read %d bytes after %v, want the connection cut by the 2 s harakiri", n, took)
	}
	m.waitLog(`HARAKIRI: .*request="GET /sleep\?s=60"`, 1)
	m.waitLog(`worker.1: ready: `, 2)
	for i := 0; i < 10; i++ {
		if code, _ := uwsgiGet(t, sock, "/pid"); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	m.waitLog(`replacing worker: it served max-requests`, 1)
}

// Through the front end (http =): plain requests on its event loop, the
// WebSocket as a tunnel to a worker's uwsgi socket; a reload's 1001
// reaches the client through the tunnel.
func TestASGIWebSocketThroughTheFrontEnd(t *testing.T) {
	parallel(t)
	front := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m, dir, _, _ := startASGI(t, "--http", front)
	waitListening(t, front)
	if code, body := get(t, "http://"+front+"/items/7"); code != 200 || body != `{"item_id":7,"q":"","started":true}` {
		t.Fatalf("through the front end: %d %q", code, body)
	}
	ws := dialWS(t, front, "/ws")
	ws.echo(t, "through the front end")
	ws.echo(t, strings.Repeat("x", 70000))
	other := dialWS(t, front, "/ws") // a second tunnel, and requests beside them
	other.echo(t, "second")
	if code, _ := get(t, "http://"+front+"/items/8"); code != 200 {
		t.Fatalf("a request beside open WebSockets: %d", code)
	}
	m.signal(syscall.SIGHUP)
	ws.wantClose(t, 1001, 30*time.Second) // going away, at the reload
	other.wantClose(t, 1001, 30*time.Second)
	m.waitLog(`worker stopped: `, 2)
	if n := strings.Count(asgiEvents(t, dir), "ws-closed-1001"); n != 2 {
		t.Fatalf("the app saw %d closes with 1001, want 2:\n%s", n, asgiEvents(t, dir))
	}
	dialWS(t, front, "/ws").echo(t, "after the reload")
}

// floodApp streams 64 KiB parts for ever and notes how many send()
// returned; a listener task notes receive()'s http.disconnect, and the
// stream notes the OSError its send() raises once the client is gone.
const floodApp = `import asyncio, os

def note(line):
    with open(os.environ["EVENTS"], "a") as f:
        f.write(line + "\n")

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    async def listen():
        msg = await receive()
        while msg["type"] == "http.request" and msg.get("more_body"):
            msg = await receive()
        msg = await receive()
        note("receive " + msg["type"])
    task = asyncio.ensure_future(listen())
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]})
    part = b"x" * 65536
    sent = 0
    try:
        while True:
            await send({"type": "http.response.body", "body": part, "more_body": True})
            sent += 1
            with open(os.environ["EVENTS"] + ".count", "w") as f:
                f.write(str(sent))
    except OSError as e:
        note("send raised " + type(e).__name__)
    await task
`

// Backpressure and http.disconnect: a client that does not read holds
// the app's send() (a bounded number of parts go out, not an endless
// stream into memory); when it goes away the app's receive() says
// http.disconnect and its next send() raises OSError.
func TestASGIBackpressureAndDisconnect(t *testing.T) {
	py := fastAPIPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "flood.py"), floodApp)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	events := filepath.Join(dir, "events")
	m := startMaster(t, dir, "--http-socket", httpAddr, "--asgi", "flood", "--processes", "1", "--python-bin", py,
		"--chdir", dir, "--env", "EVENTS="+events, "--socket-timeout", "60")
	m.waitLog(`all workers ready`, 1)
	conn, err := net.Dial("tcp", httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).SetReadBuffer(64 << 10)
	fmt.Fprintf(conn, "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n")
	count := func() int {
		raw, _ := os.ReadFile(events + ".count")
		var n int
		fmt.Sscan(string(raw), &n)
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for count() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the app never streamed")
		}
		time.Sleep(10 * time.Millisecond) // polling the app's counter file
	}
	time.Sleep(time.Second) // a window for an unbounded stream to show itself
	if n := count(); n > 300 {
		t.Fatalf("%d parts (%d MB) sent to a client that reads nothing: send() does not wait", n, n/16)
	}
	conn.Close()
	for !strings.Contains(readFileString(events), "send raised") || !strings.Contains(readFileString(events), "receive http.disconnect") {
		if time.Now().After(deadline) {
			t.Fatalf("after the client left the app noted %q (%d parts sent)", readFileString(events), count())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readFileString(path string) string {
	raw, _ := os.ReadFile(path)
	return string(raw)
}

// supervise check imports the ASGI app as the worker will.
func TestCheckImportsTheASGIApp(t *testing.T) {
	py := fastAPIPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "app.py"), fastAPIApp)
	env := []string{"PATH=" + os.Getenv("PATH")}
	sock := filepath.Join(dir, "app.sock")
	if code, stdout, stderr := runCheck(t, env, "--socket", sock, "--asgi", "app:app", "--python-bin", py, "--chdir", dir); code != 0 || !strings.Contains(stdout, "configuration OK") {
		t.Fatalf("check of a good ASGI app: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := runCheck(t, env, "--socket", sock, "--asgi", "app:nope", "--python-bin", py, "--chdir", dir); code == 0 || !strings.Contains(stderr, "has no attribute 'nope'") {
		t.Fatalf("check of a missing ASGI attribute: exit %d\n%s", code, stderr)
	}
}
