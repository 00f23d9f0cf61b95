package python_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/supervise-go/supervise/worker/python"
)

// fastPathDriver serves each request of a table of apps three ways in one
// process and prints every difference: "ref", the general path (the vars
// parsed pair by pair, every chunk sent by Response.write and its head
// made by _head, as every uwsgi request was before the common one had its
// own code); "parse", serve_uwsgi_conn on a worker that has no layout for
// the block (so the parse); "fast", serve_uwsgi_conn with the layout
// known (the environ from the layout, the head by Response.plain_head
// with the first chunk, in run_app). What must be
// equal: the bytes on the wire, the request line (timestamp and duration
// aside), what the scoreboard counts, and what the worker logs (a
// traceback's message and exception, not its frames, which name the
// functions). Each app runs with the default request line and with a
// log-format that prints the sizes and header count.
const fastPathDriver = `
import importlib.util, io, os, re, socket, sys, tempfile
os.environ.update({"LISTEN_FDS": "0", "SUPERVISE_THREADS": "1", "SUPERVISE_WORKER_ID": "3"})
spec = importlib.util.spec_from_file_location("worker", sys.argv[1])
W = importlib.util.module_from_spec(spec)
sys.modules["worker"] = W
spec.loader.exec_module(W)

class Closing(object):  # what Flask returns: an iterable with close()
    def __init__(self, chunks, fail=False):
        self.chunks, self.fail = chunks, fail
    def __iter__(self):
        return iter(self.chunks)
    def close(self):
        if self.fail:
            raise RuntimeError("close failed")

def gen(chunks, fail_at=None):
    for i, c in enumerate(chunks):
        if i == fail_at:
            raise KeyError("mid-body")
        yield c

class General(W.Response):
    """Every head by Response._head, every chunk by Response.write."""
    def plain_head(self):
        return None

HDRS = [("Content-Type", "text/plain"), ("X-A", "1")]

def simple(status="200 OK", headers=HDRS, body=(b"hello",), kind=list):
    """An app; body or headers may be a function making them anew for each request."""
    def app(environ, start_response):
        start_response(status, headers() if callable(headers) else headers)
        got = body() if callable(body) else body
        return kind(got) if kind is not None else got
    return app

def app_write(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written ")
    return [b"and returned"]

def app_raise_before(environ, start_response):
    raise ValueError("boom before")

def app_raise_after(environ, start_response):
    start_response("200 OK", HDRS)
    raise ValueError("boom after")

def app_twice(environ, start_response):
    start_response("200 OK", HDRS)
    start_response("200 OK", HDRS)
    return [b"x"]

def app_exc_info(environ, start_response):
    start_response("200 OK", HDRS)
    def body():
        yield b"first"
        try:
            raise ValueError("late")
        except ValueError:
            start_response("500 Oops", HDRS, sys.exc_info())
        yield b"never"
    return body()

def app_exc_info_early(environ, start_response):
    start_response("200 OK", HDRS)
    try:
        raise ValueError("early")
    except ValueError:
        start_response("503 Later", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"replaced"]

def app_no_start(environ, start_response):
    return [b"body before start_response"]

def app_file(environ, start_response):
    f = open(sys.argv[1], "rb")
    start_response("200 OK", [("Content-Length", str(os.fstat(f.fileno()).st_size))])
    return environ["wsgi.file_wrapper"](f)

def app_body(environ, start_response):
    data = environ["wsgi.input"].read()
    start_response("200 OK", HDRS)
    return [b"got %d: %s" % (len(data), data)]

def app_environ(environ, start_response):
    start_response("200 OK", HDRS)
    keys = sorted(k for k in environ if k != "wsgi.input" and k != "wsgi.errors")
    return [repr([(k, environ[k]) for k in keys]).encode()]

APPS = [
    ("one chunk", simple()),
    ("tuple", simple(kind=tuple)),
    ("chunks and empties", simple(body=(b"", b"a", b"", b"bc", b""))),
    ("empty list", simple(body=())),
    ("one empty chunk", simple(body=(b"",))),
    ("generator", simple(kind=gen)),
    ("generator failing first", simple(body=lambda: gen([b"a", b"b"], 0), kind=None)),
    ("generator failing later", simple(body=lambda: gen([b"a", b"b"], 1), kind=None)),
    ("closing iterable", simple(kind=Closing)),
    ("close raises", simple(body=lambda: Closing([b"x"], True), kind=None)),
    ("bytearray and memoryview", simple(body=(bytearray(b"ab"), memoryview(b"cd")))),
    ("str chunk", simple(body=("text",))),
    ("None result", simple(body=None, kind=None)),
    ("no headers", simple(headers=[])),
    ("204 no body", simple(status="204 No Content", headers=[], body=())),
    ("status without reason", simple(status="200 ")),
    ("status short", simple(status="20 OK")),
    ("status not a number", simple(status="abc Bad")),
    ("status bytes", simple(status=b"200 OK")),
    ("status CR LF", simple(status="200 OK\r\nX-Evil: 1")),
    ("value CR LF", simple(headers=[("X-A", "a\r\nX-Evil: 1")])),
    ("value NUL", simple(headers=[("X-A", "a\x00b")])),
    ("name with LF", simple(headers=[("X\nA", "1")])),
    ("value not latin-1", simple(headers=[("X-A", "\u20ac")])),
    ("value int", simple(headers=[("Content-Length", 5)])),
    ("name int", simple(headers=[(5, "x")])),
    ("name bytes", simple(headers=[(b"X-A", "x")])),
    ("connection close", simple(headers=[("Connection", "close")])),
    ("connection int", simple(headers=[("Connection", 1)])),
    ("headers as lists", simple(headers=[["X-A", "1"], ["X-B", "2"]])),
    ("headers a tuple", simple(headers=(("X-A", "1"),))),
    ("headers a generator", simple(headers=lambda: (h for h in [("X-A", "1")]))),
    ("headers a generator, then bytes", simple(headers=lambda: (h for h in [("X-A", "1"), (b"X-B", "2")]))),
    ("header of three", simple(headers=[("X-A", "1", "2")])),
    ("header a str", simple(headers=["ab"])),
    ("headers None", simple(headers=None)),
    ("str subclass", simple(headers=[(type("S", (str,), {})("X-A"), "1")])),
    # two headers, plain_head's one format: each way its checks can fail
    ("two, second value int", simple(headers=[("X-A", "1"), ("Content-Length", 5)])),
    ("two, second name int", simple(headers=[("X-A", "1"), (5, "x")])),
    ("two, second connection int", simple(headers=[("X-A", "1"), ("Connection", 1)])),
    ("two, second name bytes", simple(headers=[("X-A", "1"), (b"X-B", "2")])),
    ("two, first name int, second of three", simple(headers=[(5, "x"), ("X-B", "2", "3")])),
    ("two, second of three", simple(headers=[("X-A", "1"), ("X-B", "2", "3")])),
    ("two, second a str", simple(headers=[("X-A", "1"), "ab"])),
    ("two, second None", simple(headers=[("X-A", "1"), None])),
    ("two, second value CR LF", simple(headers=[("X-A", "1"), ("X-B", "a\r\nX-Evil: 1")])),
    ("two, first value subclass", simple(headers=[("X-A", type("S", (str,), {"__str__": lambda s: "other"})("1")), ("X-B", "2")])),
    ("two, second not latin-1", simple(headers=[("X-A", "1"), ("X-B", "\u20ac")])),
    ("write()", app_write),
    ("raise before start_response", app_raise_before),
    ("raise after start_response", app_raise_after),
    ("start_response twice", app_twice),
    ("exc_info after sending", app_exc_info),
    ("exc_info before sending", app_exc_info_early),
    ("body before start_response", app_no_start),
    ("file_wrapper", app_file),
    ("request body", app_body),
    ("environ", app_environ),
]

def packet(body=b""):
    pairs = [("QUERY_STRING", "a=1"), ("REQUEST_METHOD", "POST" if body else "GET"), ("CONTENT_TYPE", ""),
             ("CONTENT_LENGTH", str(len(body)) if body else ""), ("REQUEST_URI", "/p q?a=1"), ("PATH_INFO", "/p q"),
             ("SERVER_PROTOCOL", "HTTP/1.1"), ("REQUEST_SCHEME", "http"), ("REMOTE_ADDR", "127.0.0.1"),
             ("REMOTE_PORT", "54321"), ("SERVER_NAME", "localhost"), ("SERVER_PORT", "80"), ("HTTP_HOST", "h")]
    block = b"".join(len(k).to_bytes(2, "little") + k.encode() + len(v).to_bytes(2, "little") + v.encode()
                     for k, v in pairs)
    return b"\x00" + len(block).to_bytes(2, "little") + b"\x00" + block + body

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.M)
DURATION = re.compile(r"duration=[0-9.]+ms")

def normal(text):
    text = DURATION.sub("duration=D", STAMP.sub("T", text))
    # a traceback's message and exception, not its frames
    return "\n".join(l for l in text.splitlines() if not l.startswith("   "))

def serve(worker, how, pkt):
    ends = []
    worker.local.board = (lambda fmt, raw: W.time.monotonic_ns(), lambda *a: ends.append(a[:1] + a[2:]), lambda: ends.append("read error"))
    worker.local.logbuf = []
    if how != "fast":
        worker.layouts = {}
    a, b = socket.socketpair()
    a.sendall(pkt)
    conn = W.FdConn(0, None)
    conn.fd, conn.limit, conn.wait = b.fileno(), -1, False
    hits = worker.layout_hits
    err = tempfile.TemporaryFile()
    saved = os.dup(2)
    os.dup2(err.fileno(), 2)
    raised = None
    try:
        if how == "ref":
            data = conn.recv(conn.BUF)
            data, end, env = worker.read_uwsgi_vars(conn, data)
            length = int(env.get("CONTENT_LENGTH") or 0)
            env["wsgi.input"] = W.Input(conn, data[end:], length) if length else io.BytesIO()
            env["wsgi.url_scheme"] = "http"
            worker.run_app(env, General(conn, env["SERVER_PROTOCOL"], None), 0, W.time.monotonic_ns())
        else:
            worker.serve_uwsgi_conn(conn, 0)
    except Exception as e:  # accept_one logs it and closes the connection
        raised = repr(e)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    took_fast = worker.layout_hits > hits
    if took_fast != (how == "fast"):
        print("%s: took the %s path" % (how, "fast" if took_fast else "general"))
    b.close()
    wire = b""
    while True:
        got = a.recv(65536)
        if not got:
            break
        wire += got
    a.close()
    err.seek(0)
    logged = normal(err.read().decode())
    err.close()
    return wire, normal("".join(worker.local.logbuf)), (ends, raised), logged

bad = 0
checked = 0
for fmt in ("", "%(status) %(size) %(rsize) %(hsize) %(headers) %(werr) %(uri)"):
    if fmt:
        os.environ["SUPERVISE_LOG_FORMAT"] = fmt
    for name, app in APPS:
        for body in (b"", b"small body"):
            worker = W.Worker(app, "app")
            got = {}
            for how in ("ref", "parse", "fast", "fast"):
                got[how] = serve(worker, how, packet(body))
            for how in ("parse", "fast"):
                for what, x, y in zip(("wire", "request line", "scoreboard", "log"), got["ref"], got[how]):
                    checked += 1
                    if x != y:
                        bad += 1
                        print("%s (body %r, log-format %r): %s: %s %r, ref %r" % (name, body, fmt, how, what, y, x))
print("compared %d, %d differ" % (checked, bad))
`

// The common uwsgi request has its own code (serve_uwsgi_conn: the
// layout's environ, the head with the first chunk); whatever the app does,
// that code answers and logs exactly what the general path does. A table
// of apps (every response shape and every way start_response, the head
// and the app can fail) is served through both in one process, and the
// bytes sent, the request lines, the scoreboard's counts and the logged
// errors compared.
func TestUwsgiFastPathAnswersAsTheGeneralPath(t *testing.T) {
	needPython(t)
	dir := t.TempDir()
	script := filepath.Join(dir, python.FileName)
	if _, err := python.WriteAll(dir, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python3, "-W", "error", "-c", fastPathDriver, script)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("driver: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "compared ") || !strings.HasSuffix(last, ", 0 differ") || len(lines) != 1 {
		t.Fatalf("the fast path differs from the general one:\n%s", out)
	}
	t.Log(last)
}
