# Drives asgi.py's parsers without sockets, for asgi_parsers_test.go:
# one JSON request a line on stdin, one JSON answer a line on stdout.
#   {"kind": "ws"|"http"|"uwsgi"|"chunked"|"wsgi-http", "data": b64, "cuts": [n...]}
# The data is fed in pieces cut at the given offsets (the same bytes, split
# as a network might), so a test can check the outcome does not depend on
# how the bytes arrive. argv[1] is the directory worker.py and asgi.py are in.
import asyncio
import base64
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, sys.argv[1])
for k in list(os.environ):
    if k.startswith("SUPERVISE_") or k.startswith("LISTEN_"):
        del os.environ[k]
os.environ["SUPERVISE_DISABLE_LOGGING"] = "1"
import worker as W  # noqa: E402
import asgi  # noqa: E402

asgi.W = W
W.log = lambda *a, **k: None
b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731


class Transport(object):
    def __init__(self, loop):
        self.loop = loop
        self.out = bytearray()
        self.closed = False
        self.conn = None

    def write(self, data):
        if not self.closed:
            self.out += data

    def close(self):
        if not self.closed:
            self.closed = True
            self.loop.call_soon(self.conn.connection_lost, None)

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass

    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 8000) if name == "sockname" else default


def pieces(data, cuts):
    at = 0
    for c in sorted(set(c for c in cuts if 0 < c < len(data))):
        yield data[at:c]
        at = c
    yield data[at:]


def run_until_quiet(loop):
    # until nothing is ready to run (tasks waiting on futures stay pending)
    for _ in range(1000):
        loop.run_until_complete(asyncio.sleep(0))
        if not loop._ready:
            return


def serve(kind, data, cuts):
    """Feeds data to one asgi.py connection; returns what the app saw and
    the bytes written back."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    seen = []

    async def app(scope, receive, send):
        if scope["type"] == "websocket":
            msg = await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            while True:
                msg = await receive()
                if msg["type"] == "websocket.disconnect":
                    seen.append({"disconnect": msg["code"]})
                    return
                if msg.get("text") is not None:
                    seen.append({"text": msg["text"]})
                else:
                    seen.append({"bytes": b64(msg["bytes"])})
        body = b""
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return  # a body cut short or malformed: the request never completed
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        seen.append({"method": scope["method"], "path": scope["path"], "body": b64(body)})
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    server = asgi.Server(app, "driver", loop)
    c = asgi.Conn(server, "uwsgi" if kind == "uwsgi" else "http", 0, None, ("127.0.0.1", 1234))
    t = Transport(loop)
    t.conn = c
    server.conns.add(c)
    c.connection_made(t)
    errors = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(repr(ctx.get("exception") or ctx.get("message"))))
    if kind == "ws":
        c.data_received(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        run_until_quiet(loop)
        t.out.clear()
    for piece in pieces(data, cuts):
        if t.closed:
            break
        try:
            c.data_received(piece)
        except Exception as e:
            errors.append("data_received raised %r" % (e,))
            break
        run_until_quiet(loop)
    if not t.closed and kind != "ws":
        if not c.eof_received():
            c.close()
        run_until_quiet(loop)
    for timer in (c.timer,):
        if timer is not None:
            timer.cancel()
    if kind == "ws" and not t.closed:
        # the client goes away: the app must see 1006
        t.closed = True
        c.connection_lost(None)
        run_until_quiet(loop)
    for task in asyncio.all_tasks(loop):
        task.cancel()
    run_until_quiet(loop)
    loop.close()
    return {"seen": seen, "out": b64(bytes(t.out)), "closed": t.closed, "errors": errors}


def chunked(data, cuts):
    d = asgi.ChunkedBody()
    out = []
    at = 0
    for piece in pieces(data, cuts):
        at += len(piece)
        try:
            got, rest = d.feed(piece)
        except W.FramingError as e:
            return {"error": str(e), "data": b64(b"".join(out))}
        out.extend(got)
        if rest is not None:  # the bytes after the body: the rest of this piece and every later one
            return {"data": b64(b"".join(out)), "rest": b64(rest + data[at:])}
    return {"data": b64(b"".join(out)), "incomplete": True}


WSGI_SEEN = []
WSGI_WORKER = None


def wsgi_http(data):
    """The threaded worker's http-socket path (worker.py) on the same bytes
    (one Worker for every call: each holds a wake-up pipe)."""
    global WSGI_WORKER
    seen = WSGI_SEEN
    del seen[:]

    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        # PEP 3333's latin-1 PATH_INFO, decoded as ASGI's scope["path"] is
        path = environ["PATH_INFO"].encode("latin-1").decode("utf-8", "replace")
        seen.append({"method": environ["REQUEST_METHOD"], "path": path, "body": b64(body)})
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    if WSGI_WORKER is None:
        WSGI_WORKER = W.Worker(app, "t")
        WSGI_WORKER.board = W.NoScoreboard()
        WSGI_WORKER.local.board = WSGI_WORKER.board.core(0)
        WSGI_WORKER.local.logbuf = []
    wk = WSGI_WORKER
    conn, client = socket.socketpair()
    th = threading.Thread(target=lambda: (client.sendall(data), client.shutdown(socket.SHUT_WR)))
    th.start()
    wk.serve_http(conn, ("127.0.0.1", 1234), 0, None)
    conn.close()
    th.join()
    out = bytearray()
    while True:
        b = client.recv(65536)
        if not b:
            break
        out += b
    client.close()
    return {"seen": list(seen), "out": b64(bytes(out))}


class _Resp(object):
    def __init__(self, conn):
        self.conn = conn
        self.nbytes = 0


def wsgi_ws(data):
    """uwsgi_websocket.py's codec (uwsgi.websocket_recv) on the same
    frames: the messages recv returned until it raised, and the bytes it
    wrote back (pongs, the close frame)."""
    ws_mod = sys.modules.get("_supervise_uwsgi_websocket")
    if ws_mod is None:
        import importlib.util
        spec = importlib.util.spec_from_file_location("_supervise_uwsgi_websocket", os.path.join(sys.argv[1], "uwsgi_websocket.py"))
        ws_mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ws_mod)
        ws_mod._log = lambda *a: None
    conn, client = socket.socketpair()

    def send():
        try:
            client.sendall(data)
            client.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server failed the connection before reading it all
    th = threading.Thread(target=send)
    th.start()
    ws = ws_mod._WebSocket(_Resp(conn), None, "/ws")
    ws.last_ping = ws.last_pong = time.monotonic()  # no keepalive ping in this exchange
    seen = []
    try:
        while True:
            seen.append({"bytes": b64(ws.recv(False))})
    except OSError as e:
        if str(e) != ws_mod.RECV_ERROR:
            raise
    # Read what the sender still sends before closing: a unix socket
    # closed with unread input resets its peer, and the reset can come
    # before the close frame is read.
    conn.shutdown(socket.SHUT_WR)
    out = bytearray()
    while True:
        b = client.recv(65536)
        if not b:
            break
        out += b
    while conn.recv(65536):
        pass
    th.join()
    conn.close()
    client.close()
    return {"seen": seen, "out": b64(bytes(out)), "closed": True}


for line in sys.stdin:
    req = json.loads(line)
    data = base64.b64decode(req["data"])
    kind = req["kind"]
    try:
        if kind == "chunked":
            ans = chunked(data, req.get("cuts") or [])
        elif kind == "wsgi-http":
            ans = wsgi_http(data)
        elif kind == "wsgi-ws":
            ans = wsgi_ws(data)
        else:
            ans = serve(kind, data, req.get("cuts") or [])
    except BaseException:
        import traceback
        ans = {"errors": [traceback.format_exc()]}
    sys.stdout.write(json.dumps(ans) + "\n")
    sys.stdout.flush()
