"""supervise's ASGI server: the worker's engine when the config names an
ASGI app (`asgi = module:app`). One asyncio loop (uvloop's when the
interpreter has it) accepts on the inherited sockets and speaks the uwsgi
protocol (nginx's uwsgi_pass) and HTTP/1.1 (http-socket, WebSockets
included) to the app, with lifespan startup and shutdown. Standard library
only. worker.py's main() hands over here (main(w, uwsgi_mod)); the
scoreboard, the log lines, the notify socket and the lifeline are
worker.py's, so stats, harakiri, max-requests and reloads see an ASGI
worker as any other.

Concurrency: SUPERVISE_THREADS is the number of cores, the connections one
worker holds at once (the `async` option, uWSGI's async cores); each gets
its own scoreboard core. With every core busy the worker stops accepting
(the kernel queues, other workers take them) and answers keep-alive
requests with Connection: close, as the threaded worker does.
"""

import asyncio
import base64
import errno
import gc
import hashlib
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections import deque
from http import HTTPStatus

W = None  # worker.py's module, set by main()

ENV_PY_ASGI = "SUPERVISE_PY_ASGI"
ENV_ASGI_LOOP = "SUPERVISE_ASGI_LOOP"
REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
BODY_HIGH = 256 * 1024  # request body bytes buffered before reading pauses
ENV_WS_MAX_SIZE = "SUPERVISE_WS_MAX_SIZE"
WS_MAX = int(os.environ.get(ENV_WS_MAX_SIZE) or 1 << 20)  # largest WebSocket message (websocket-max-size, default 1024 KB)
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LIFESPAN_TIMEOUT = 60.0
_CTLS = bytes(range(0, 9)) + bytes(range(10, 32)) + b"\x7f"


class Disconnected(OSError):
    """send() after the client went away (ASGI 2.4: a subclass of OSError)."""


class Server(object):
    def __init__(self, app, app_name, loop):
        env = os.environ
        self.app = app
        self.app_name = app_name
        self.loop = loop
        self.cores = W.configured_threads()
        self.buffer_size = int(env.get(W.ENV_BUFFER_SIZE, "4096"))
        self.max_pairs = 2 * max(1, int(env.get(W.ENV_MAX_VARS) or W.DEFAULT_MAX_VARS))
        ms = int(env.get(W.ENV_SOCKET_TIMEOUT_MS) or W.DEFAULT_SOCKET_TIMEOUT_MS)
        self.timeout = ms / 1000.0 if ms > 0 else None
        self.log_requests = env.get(W.ENV_DISABLE_LOGGING, "") != "1"
        self.log_only = None if self.log_requests else W.log_only_rule(env.get(W.ENV_LOG_ONLY, ""))
        self.log_format = None
        if env.get(W.ENV_LOG_FORMAT):
            self.log_format = W.compile_log_format(env[W.ENV_LOG_FORMAT], env.get(W.ENV_LOG_STRFTIME, ""))
        self.logbuf = []
        self.board = W.NoScoreboard()
        if env.get(W.ENV_SCOREBOARD_FD):
            try:
                self.board = W.Scoreboard(int(env[W.ENV_SCOREBOARD_FD]), int(env.get(W.ENV_SCOREBOARD_SLOT, "0")))
            except (OSError, ValueError) as e:
                W.log("WARN", "scoreboard unavailable; stats will not count this worker", error=e)
        self.core_fns = [None] * self.cores  # (begin, end, read_error), made on first use
        self.free = list(range(self.cores - 1, -1, -1))
        self.conns = set()
        self.listeners = []
        names = env.get(W.ENV_LISTEN_FDNAMES, "").split(":")
        for i in range(int(env.get(W.ENV_LISTEN_FDS, "0"))):
            sock = socket.socket(fileno=W.FIRST_LISTEN_FD + i)
            sock.setblocking(False)
            proto = names[i] if i < len(names) and names[i] else "uwsgi"
            self.listeners.append((sock, proto))
        self.accepting = False
        self.stopping = False
        self.listener_gone = None
        self.state = {}  # lifespan state, copied into every request's scope
        self.lifespan_queue = None
        self.lifespan_task = None
        self.idle = None  # resolved when stopping and the last connection closes
        self.stop_future = None  # main() waits on it: SIGTERM, or the listening socket gone

    # -- accepting

    def core(self, i):
        fns = self.core_fns[i]
        if fns is None:
            fns = self.core_fns[i] = self.board.core(i)
        return fns

    def accept(self, on):
        if on == self.accepting:
            return
        self.accepting = on
        for sock, proto in self.listeners:
            if on:
                self.loop.add_reader(sock.fileno(), self.on_readable, sock, proto)
            else:
                self.loop.remove_reader(sock.fileno())

    def on_readable(self, sock, proto):
        # One connection per wakeup: the listener stays readable while more
        # wait, so this loop comes back for them after its other work, and
        # the other workers (woken too) take their share of a burst of
        # keep-alive clients instead of one worker taking them all.
        if self.free and not self.stopping:
            try:
                conn, addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    W.log("ERROR", "accept failed; pausing", error=e)
                    self.accept(False)
                    self.loop.call_later(0.1, self.resume_accepting)
                elif e.errno in (errno.EBADF, errno.ENOTSOCK, errno.EINVAL):
                    self.listener_died(sock, e)
                return
            core = self.free.pop()
            if not self.free:
                self.accept(False)
            conn.setblocking(False)
            if proto == "http" and conn.family != socket.AF_UNIX:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = Conn(self, proto, core, conn, addr)
            self.conns.add(c)
            self.loop.create_task(self.attach(conn, c))

    async def attach(self, sock, c):
        try:
            await self.loop.connect_accepted_socket(lambda: c, sock=sock)
        except OSError:
            sock.close()
            self.release(c)

    def resume_accepting(self):
        if self.free and not self.stopping:
            self.accept(True)

    def release(self, c):
        if c not in self.conns:
            return
        self.conns.discard(c)
        self.free.append(c.core)
        if not self.stopping:
            self.accept(True)
        elif not self.conns and self.idle is not None and not self.idle.done():
            self.idle.set_result(None)

    def listener_died(self, sock, err):
        if self.listener_gone is not None:
            return
        self.listener_gone = sock.fileno()
        W.log("ERROR", "the listening socket is gone (closed by the app?); exiting so the master starts a replacement",
              fd=sock.fileno(), error=err)
        if self.stop_future is not None and not self.stop_future.done():
            self.stop_future.set_result(None)

    # -- life cycle

    async def lifespan_startup(self):
        """Runs the app's lifespan protocol up to startup.complete. An app
        that raises at once does not speak lifespan (allowed by the spec):
        serving goes on. startup.failed, or an exception after receiving
        the startup event, is a failed start (exit 22 under need-app)."""
        q = self.lifespan_queue = asyncio.Queue()
        answer = self.loop.create_future()
        self.lifespan_answer = answer
        state = {"started": False}

        async def receive():
            msg = await q.get()
            if msg["type"] == "lifespan.startup":
                state["started"] = True
            return msg

        async def send(msg):
            t = msg.get("type")
            if t in ("lifespan.startup.complete", "lifespan.startup.failed",
                     "lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                if t == "lifespan.startup.failed" or t == "lifespan.shutdown.failed":
                    W.log("ERROR", "ASGI lifespan: " + t, message=msg.get("message", ""))
                if not self.lifespan_answer.done():
                    self.lifespan_answer.set_result(t)

        async def run():
            scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
            try:
                await self.app(scope, receive, send)
            except BaseException as e:
                if isinstance(e, asyncio.CancelledError):
                    raise
                if not state["started"] or self.lifespan_answer.done():
                    W.log("INFO", "the ASGI app does not support lifespan; serving without startup and shutdown events",
                          error="%s: %s" % (type(e).__name__, e))
                    if not self.lifespan_answer.done():
                        self.lifespan_answer.set_result("unsupported")
                else:
                    W.log_traceback("ASGI lifespan startup raised")
                    self.lifespan_answer.set_result("lifespan.startup.failed")
                return
            if not self.lifespan_answer.done():
                self.lifespan_answer.set_result("returned")

        self.lifespan_task = self.loop.create_task(run())
        q.put_nowait({"type": "lifespan.startup"})
        result = await asyncio.wait_for(answer, LIFESPAN_TIMEOUT)
        if result in ("unsupported", "returned"):
            self.lifespan_task = None
        return result != "lifespan.startup.failed"

    async def lifespan_shutdown(self):
        if self.lifespan_task is None or self.lifespan_task.done():
            return
        self.lifespan_answer = self.loop.create_future()
        self.lifespan_queue.put_nowait({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(asyncio.shield(self.lifespan_answer), LIFESPAN_TIMEOUT)
        except asyncio.TimeoutError:
            W.log("WARN", "ASGI lifespan shutdown did not complete in %d s" % LIFESPAN_TIMEOUT)

    def stop(self):
        """Graceful: stop accepting, close idle keep-alive connections,
        close WebSockets with 1001 (going away), let requests finish."""
        if self.stopping:
            return
        self.stopping = True
        self.accept(False)
        for c in list(self.conns):
            c.going_away()
        if self.idle is not None and not self.conns and not self.idle.done():
            self.idle.set_result(None)

    # -- the request log

    def log_request(self, environ, resp, status, elapsed, core, write_error):
        if not (self.log_requests or (self.log_only is not None and self.log_only(status, resp.nbytes - resp.hsize, elapsed))):
            return
        if W.LOG_JSON:
            if self.log_format is not None:
                line = W.json_line("INFO", self.log_format(environ, resp, status, elapsed, core, write_error)[:-1], {})
            else:
                line = W.JSON_REQUEST % (
                    W._timestamp(), resp.nbytes, elapsed / 1e6, W._jstr(environ.get("REQUEST_METHOD") or ""),
                    W._jstr(environ.get("REQUEST_URI") or environ.get("PATH_INFO") or ""),
                    W._jstr(environ.get(W.LOG_ADDR) or environ.get("REMOTE_ADDR", "-")), status)
        elif self.log_format is not None:
            line = self.log_format(environ, resp, status, elapsed, core, write_error)
        else:
            line = "%s [INFO]  %s: request: method=%s path=%s status=%d bytes=%d duration=%.2fms pid=%d remote=%s\n" % (
                W._timestamp(), W.NAME, environ.get("REQUEST_METHOD"), W._quote(environ.get("REQUEST_URI") or environ.get("PATH_INFO")),
                status, resp.nbytes, elapsed / 1e6, W.PID, environ.get(W.LOG_ADDR) or environ.get("REMOTE_ADDR", "-"))
        if W.REQ_MARK:
            line = W.REQ_MARK + line
        if not self.logbuf:
            self.loop.call_soon(self.flush_log)  # one write per loop turn, however many requests ended in it
        self.logbuf.append(line)

    def flush_log(self):
        if not self.logbuf:
            return
        data = "".join(self.logbuf).encode("utf-8", "replace")
        self.logbuf.clear()
        try:
            os.write(2, data)
        except OSError:
            pass


class ChunkedBody(object):
    """An incremental chunked request body decoder (RFC 9112 section 7.1)."""
    SIZE, DATA, CRLF, TRAILER = range(4)

    def __init__(self):
        self.state = self.SIZE
        self.buf = b""
        self.left = 0
        self.total = 0

    def feed(self, data):
        """The chunk data found and the bytes after the body (None while it
        goes on); FramingError for a malformed body."""
        buf = self.buf + data if self.buf else data
        out = []
        while True:
            st = self.state
            if st == self.DATA:
                take = min(self.left, len(buf))
                if take:
                    out.append(buf[:take])
                    buf = buf[take:]
                    self.left -= take
                if self.left:
                    break
                self.state = self.CRLF
            elif st == self.CRLF:
                if len(buf) < 2:
                    if buf and buf[:1] != b"\r":
                        raise W.FramingError("chunk data not followed by CRLF")
                    break
                if buf[:2] != b"\r\n":
                    raise W.FramingError("chunk data not followed by CRLF")
                buf = buf[2:]
                self.state = self.SIZE
            else:
                i = buf.find(b"\r\n")
                if i < 0 or i > W.CHUNK_LINE_MAX:
                    if len(buf) > W.CHUNK_LINE_MAX:  # judged alike however the line arrives
                        raise W.FramingError("chunk size line or trailer too long")
                    break
                line, buf = buf[:i], buf[i + 2:]
                if st == self.TRAILER:
                    if not line:
                        self.buf = b""
                        return out, buf
                    if W._TRAILER_LINE(line) is None:  # worker.py's rule: a bare CR/LF, a NUL: the end is ambiguous
                        raise W.FramingError("bad trailer field")
                    continue
                m = W._CHUNK_SIZE(line)
                if m is None:
                    raise W.FramingError("bad chunk size line")
                n = int(m.group(1), 16)
                self.total += n
                if n:
                    self.state, self.left = self.DATA, n
                else:
                    self.state = self.TRAILER
        self.buf = buf
        return out, None


class Resp(object):
    """What log-format reads of a response (worker.py's Response's names)."""
    __slots__ = ("nbytes", "hsize", "headers", "code")

    def __init__(self):
        self.nbytes = self.hsize = self.code = 0
        self.headers = None


class Conn(asyncio.Protocol):
    """One accepted connection: the uwsgi protocol (one request) or
    HTTP/1.1 (keep-alive, pipelined requests served in turn, WebSocket
    upgrade). The request runs as a task; data_received feeds its body."""

    def __init__(self, server, proto, core, sock, addr):
        self.server = server
        self.loop = server.loop
        self.http = proto == "http"
        self.core = core
        self.addr = addr
        self.transport = None
        self.buf = b""
        self.lost = False
        self.write_paused = False
        self.drain_waiters = []
        self.timer = None
        self.req = None  # the Request being served
        self.ws = None
        self.served = 0
        self.closing = False
        self.eof = False

    # -- asyncio.Protocol

    def connection_made(self, transport):
        self.transport = transport
        self.arm(self.server.timeout)

    def data_received(self, data):
        if self.ws is not None:
            self.ws.feed(data)
            return
        req = self.req
        if req is not None and not req.body_done:
            rest = req.feed(data)
            if rest is None:
                return
            data = rest
        if self.buf:
            self.buf += data
        else:
            self.buf = data
        if self.req is None:
            self.next_request()
        elif len(self.buf) > 65536:
            self.transport.pause_reading()  # pipelined requests: one at a time

    def eof_received(self):
        self.eof = True
        req = self.req
        if req is not None and not req.body_done:
            # the client stopped sending inside the body: a malformed request (400), as worker.py
            req.framing_error = W.FramingError("the client closed its side before the end of the body")
            req.body_done = True
            req.wake()
        return req is not None  # a request in flight still gets its answer

    def connection_lost(self, exc):
        self.lost = True
        self.disarm()
        for f in self.drain_waiters:
            if not f.done():
                f.set_result(None)
        self.drain_waiters = []
        if self.req is not None:
            self.req.lost()
        if self.ws is not None:
            self.ws.lost()
        self.server.release(self)

    def pause_writing(self):
        self.write_paused = True

    def resume_writing(self):
        self.write_paused = False
        for f in self.drain_waiters:
            if not f.done():
                f.set_result(None)
        self.drain_waiters = []

    async def drain(self):
        if self.lost:
            raise Disconnected("the client went away")
        if self.write_paused:
            f = self.loop.create_future()
            self.drain_waiters.append(f)
            await f
            if self.lost:
                raise Disconnected("the client went away")

    # -- timers (socket-timeout for a request's head; keep-alive idle)

    def arm(self, seconds):
        self.disarm()
        if seconds:
            self.timer = self.loop.call_later(seconds, self.timed_out)

    def disarm(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def timed_out(self):
        self.timer = None
        if self.buf or self.req is not None or not self.served:
            W.log("WARN", "socket-timeout: no data from the client for %d ms; connection closed" % (self.server.timeout * 1000))
            self.server.core(self.core)[2]()
        self.close()

    def close(self):
        if not self.closing:
            self.closing = True
            self.transport.close()

    def going_away(self):
        """The worker stops: an idle connection closes now, a WebSocket
        with 1001; a request in flight finishes (then the connection closes)."""
        if self.ws is not None:
            self.ws.going_away()
        elif self.req is None and self.served and not self.buf:
            self.close()  # idle keep-alive; one just accepted still gets its answer

    # -- requests

    def next_request(self):
        """Parses the next request head in buf, if it is all there, and
        starts serving it."""
        if self.closing or self.lost:
            return
        if self.http:
            i = self.buf.find(b"\r\n\r\n")
            limit = max(self.server.buffer_size, 8192)
            # The same verdict however the head arrives: a bare LF in the
            # first limit bytes is a 400, else a head past limit a 431.
            if (i < 0 or i > limit) and W._BARE_LF(self.buf[:limit]):
                self.simple(b"400 Bad Request")
                return
            if i < 0:
                if len(self.buf) > limit:
                    self.simple(b"431 Request Header Fields Too Large")
                elif self.buf:
                    self.arm(self.server.timeout)
                return
            if i > limit:
                self.simple(b"431 Request Header Fields Too Large")
                return
            head, self.buf = self.buf[:i + 2], self.buf[i + 4:]
            self.disarm()
            try:
                req = http_request(self, head)
            except W.FramingError as e:
                self.simple(e.status.encode())
                return
        else:
            if self.served:
                return
            buf = self.buf
            if len(buf) < 4:
                return
            size = buf[1] | (buf[2] << 8)
            if size > self.server.buffer_size:
                W.log("WARN", "invalid request block size: %d (max %d)... skip" % (size, self.server.buffer_size))
                self.server.core(self.core)[2]()
                self.close()
                return
            if buf[0] != 0 and buf[0] != W.MODIFIER_MANAGE_PATH_INFO:
                W.log("WARN", "unsupported uwsgi modifier1 %d (only 0 and 30 are served); connection closed" % buf[0])
                self.close()
                return
            end = 4 + size
            if len(buf) < end:
                return
            self.disarm()
            req = uwsgi_request(self, buf, end)
            if req is None:
                self.close()
                return
        rest, self.buf = self.buf, b""
        if self.ws is not None:
            if rest:
                self.ws.feed(rest)
            return
        self.req = req
        if rest:
            more = req.feed(rest)
            if more is not None:
                self.buf = more
        self.loop.create_task(req.run())

    def request_done(self, keep):
        self.req = None
        self.served += 1
        if not keep or self.lost or self.eof or self.server.stopping:
            self.close()
            return
        self.transport.resume_reading()
        if self.buf:
            self.next_request()
        else:
            self.arm(W.KEEPALIVE_IDLE)

    def simple(self, status):
        body = status + b"\n"
        self.transport.write(b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                             % (status, len(body), body))
        self.close()


def uwsgi_request(c, buf, end):
    server = c.server
    environ = W.Worker.parse_uwsgi_vars(buf, end, server.max_pairs)
    if not environ:
        if environ is None:
            W.log("WARN", "malformed uwsgi vars block; connection closed")
        elif environ is False:
            W.log("WARN", "more than %d vars in a uwsgi request (max-vars = %d allows 2 x max-vars, as uWSGI); "
                  "connection closed: raise max-vars" % (server.max_pairs, server.max_pairs // 2))
        else:
            W.log("WARN", "empty uwsgi vars block; request skipped, connection closed")
        server.core(c.core)[2]()
        return None
    c.buf = buf[end:]
    headers = []
    for k, v in environ.items():
        if k.startswith("HTTP_"):
            if k == "HTTP_CONTENT_TYPE" or k == "HTTP_CONTENT_LENGTH":
                continue
            headers.append((k[5:].lower().replace("_", "-").encode("latin-1"), v.encode("latin-1")))
    for k, name in (("CONTENT_TYPE", b"content-type"), ("CONTENT_LENGTH", b"content-length")):
        if environ.get(k):
            headers.append((name, environ[k].encode("latin-1")))
    try:
        length = max(int(environ.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        length = 0
    https = environ.get("HTTPS", "").lower() in ("on", "1") or environ.get("REQUEST_SCHEME") == "https"
    proto = environ.get("SERVER_PROTOCOL") or "HTTP/1.0"
    uri = environ.get("REQUEST_URI", "")
    raw_path = uri.partition("?")[0].encode("latin-1") if uri else environ.get("PATH_INFO", "").encode("latin-1")
    try:
        port = int(environ.get("SERVER_PORT") or 0)
    except ValueError:
        port = 0
    try:
        rport = int(environ.get("REMOTE_PORT") or 0)
    except ValueError:
        rport = 0
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": proto[5:] if proto.startswith("HTTP/") else "1.0",
        "method": environ.get("REQUEST_METHOD", "GET"), "scheme": "https" if https else "http",
        "path": environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace"),
        "raw_path": raw_path, "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "root_path": environ.get("SCRIPT_NAME", ""), "headers": headers,
        "client": (environ.get("REMOTE_ADDR", ""), rport), "server": (environ.get("SERVER_NAME", ""), port),
    }
    raw = bytes(memoryview(buf)[4:end])
    if environ.get("HTTP_UPGRADE", "").lower() == "websocket" and "upgrade" in environ.get("HTTP_CONNECTION", "").lower():
        # The front end (or any uwsgi client that tunnels, as uWSGI's http
        # router does) relays the connection raw after our 101.
        try:
            return websocket_request(c, scope, environ, W.VARS_UWSGI, raw, https)
        except W.FramingError as e:
            W.log("WARN", "bad WebSocket handshake; connection closed", error=e)
            return None
    return Request(c, scope, environ, proto, W.VARS_UWSGI, raw, length, None, False, False)


def http_request(c, head):
    """A Request (or the WebSocket) from an HTTP/1.1 head; FramingError
    for a request to refuse."""
    if W._REQUEST_HEAD_OK(head) is None:
        raise W.FramingError("bad request head")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise W.FramingError("bad request line")
    method, uri, proto = parts
    path, _, query = uri.partition("?")
    if path.startswith("http://") or path.startswith("https://"):
        path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
    sockname = c.transport.get_extra_info("sockname")
    server = (sockname[0], sockname[1]) if isinstance(sockname, tuple) else ("localhost", 0)
    remote = (c.addr[0], c.addr[1]) if isinstance(c.addr, tuple) and c.addr else ("", 0)
    environ = {
        "REQUEST_METHOD": method, "REQUEST_URI": uri, "PATH_INFO": W.unquote(path), "SCRIPT_NAME": "",
        "QUERY_STRING": query, "SERVER_PROTOCOL": proto, "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]), "REMOTE_ADDR": remote[0], "REMOTE_PORT": str(remote[1]),
    }
    headers = []
    conn_tokens = upgrade = ""
    for line in lines[1:-1]:
        k, _, v = line.partition(":")
        v = v.strip(" \t")
        lk = k.lower()
        headers.append((lk.encode("latin-1"), v.encode("latin-1")))
        key = lk.upper().replace("-", "_")
        if key == "CONTENT_TYPE" or key == "CONTENT_LENGTH":
            environ[key] = environ[key] + "," + v if key in environ else v
            continue
        if key == "CONNECTION":
            conn_tokens += "," + v.lower()
        elif key == "UPGRADE":
            upgrade = v.lower()
        hk = "HTTP_" + key
        environ[hk] = environ[hk] + "," + v if hk in environ else v
    keepalive = ("close" not in conn_tokens) if proto == "HTTP/1.1" else ("keep-alive" in conn_tokens)
    if not c.server.free or c.server.stopping:
        keepalive = False  # every core is on a connection: do not hold this one
    if "HTTP_TRANSFER_ENCODING" in environ or "CONTENT_LENGTH" in environ:
        length, chunked = W.Worker.body_framing(environ, proto)
    else:
        length, chunked = 0, False
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": proto[5:], "method": method, "scheme": "http",
        "path": environ["PATH_INFO"].encode("latin-1").decode("utf-8", "replace"),
        "raw_path": path.encode("latin-1"), "query_string": query.encode("latin-1"),
        "root_path": "", "headers": headers, "client": remote, "server": server,
    }
    if upgrade == "websocket" and "upgrade" in conn_tokens and method == "GET":
        return websocket_request(c, scope, environ, W.VARS_HTTP, head, False)
    expect = environ.get("HTTP_EXPECT", "").lower() == "100-continue"
    return Request(c, scope, environ, proto, W.VARS_HTTP, head, length, ChunkedBody() if chunked else None, keepalive, expect)


class Request(object):
    """One HTTP request and its ASGI receive and send."""

    def __init__(self, c, scope, environ, proto, fmt, raw, length, chunked, keepalive, expect):
        self.c = c
        self.scope = scope
        self.environ = environ
        self.proto = proto.encode("latin-1")
        self.fmt = fmt
        self.raw = raw
        self.left = length
        self.chunked = chunked
        self.body_done = chunked is None and length == 0
        self.chunks = deque()
        self.buffered = 0
        self.waiter = None
        self.expect = expect
        self.keepalive = keepalive
        self.head_only = scope["method"] == "HEAD"
        self.status = 0
        self.headers = None
        self.head_sent = False
        self.complete = False
        self.chunked_out = False
        self.disconnect = None  # a future: the client went away or the response is complete
        self.body_sent_all = False
        self.resp = Resp()
        self.framing_error = None

    # -- the body, from data_received

    def feed(self, data):
        """Takes this request's body out of data; returns what follows it
        (None while the body goes on)."""
        if self.body_done:
            return data
        rest = None
        if self.chunked is not None:
            try:
                out, rest = self.chunked.feed(data)
            except W.FramingError as e:
                self.framing_error = e
                self.body_done = True
                self.wake()
                return b""
            for piece in out:
                self.chunks.append(piece)
                self.buffered += len(piece)
            if rest is not None:
                self.body_done = True
        else:
            n = len(data)
            if n >= self.left:
                if self.left:
                    self.chunks.append(data[:self.left])
                    self.buffered += self.left
                rest = data[self.left:]
                self.left = 0
                self.body_done = True
            else:
                self.chunks.append(data)
                self.buffered += n
                self.left -= n
        if self.buffered > BODY_HIGH and not self.body_done:
            self.c.transport.pause_reading()  # backpressure: the app reads slower than the client sends
        self.wake()
        return rest

    def wake(self):
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def lost(self):
        self.wake()
        if self.disconnect is not None and not self.disconnect.done():
            self.disconnect.set_result(None)

    # -- ASGI

    async def receive(self):
        c = self.c
        if self.body_sent_all or c.lost:
            if not c.lost and not self.complete:
                if self.disconnect is None:
                    self.disconnect = c.loop.create_future()
                await self.disconnect
            return {"type": "http.disconnect"}
        if self.expect:
            self.expect = False
            if not self.head_sent and not self.body_done:
                c.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        while not self.chunks and not self.body_done and not c.lost:
            self.waiter = c.loop.create_future()
            if not c.lost:
                c.arm(c.server.timeout)
            await self.waiter
            self.waiter = None
            c.disarm()
        if self.framing_error is not None:
            if not self.head_sent and not c.lost:
                c.simple(b"400 Bad Request")  # RFC 9112 7.1: a malformed body is answered 400, then closed
                self.head_sent = True  # the app's own answer, if it sends one, goes nowhere
                self.resp.code = 400
            c.lost = True
            c.close()
            return {"type": "http.disconnect"}
        if c.lost and not self.body_done:
            return {"type": "http.disconnect"}
        body = b"".join(self.chunks) if len(self.chunks) != 1 else self.chunks[0]
        self.chunks.clear()
        if self.buffered > BODY_HIGH and not self.body_done:
            c.transport.resume_reading()
        self.buffered = 0
        if self.body_done:
            self.body_sent_all = True
        return {"type": "http.request", "body": body, "more_body": not self.body_done}

    async def send(self, msg):
        t = msg["type"]
        c = self.c
        if t == "http.response.body":
            if not self.head_sent and self.status == 0:
                raise RuntimeError("ASGI: http.response.body before http.response.start")
            if self.complete:
                raise RuntimeError("ASGI: http.response.body after the response was complete")
            if c.lost:
                raise Disconnected("the client went away")
            body = msg.get("body", b"")
            more = msg.get("more_body", False)
            if not self.head_sent:
                out = self.head(len(body), not more)
                self.head_sent = True
                if self.head_only:
                    body = b""
                if self.chunked_out and body:
                    out += b"%x\r\n%s\r\n" % (len(body), body)
                else:
                    out += body
            elif self.head_only:
                out = b""
            elif self.chunked_out and body:
                out = b"%x\r\n%s\r\n" % (len(body), body)
            else:
                out = body
            if not more:
                self.complete = True
                if self.chunked_out and not self.head_only:
                    out += b"0\r\n\r\n"
            if out:
                c.transport.write(out)
                self.resp.nbytes += len(out)
            if more:
                await c.drain()  # backpressure: wait while the transport's buffer is above its high-water mark
            elif self.disconnect is not None and not self.disconnect.done():
                self.disconnect.set_result(None)
        elif t == "http.response.start":
            if self.status:
                raise RuntimeError("ASGI: http.response.start sent twice")
            self.status = int(msg["status"])
            self.headers = msg.get("headers", [])
        else:
            raise RuntimeError("ASGI: unexpected message %r on an http connection" % (t,))

    def head(self, first_len, final):
        status = self.status
        lines = [b"%s %d %s\r\n" % (self.proto, status, REASONS.get(status, b"Unknown"))]
        has_length = said_close = False
        for k, v in self.headers:
            k = bytes(k)
            v = bytes(v)
            lk = k.lower()
            if lk == b"content-length":
                has_length = True
            elif lk == b"connection" and v.lower() == b"close":
                self.keepalive = False
                said_close = True
            lines.append(b"%s: %s\r\n" % (k, v))
        if self.keepalive:
            bodyless = self.head_only or status in (204, 304) or status < 200
            if not has_length and not bodyless:
                if final:
                    lines.append(b"content-length: %d\r\n" % first_len)
                elif self.proto == b"HTTP/1.1":
                    self.chunked_out = True
                    lines.append(b"transfer-encoding: chunked\r\n")
                else:
                    self.keepalive = False
        if not self.keepalive and not said_close:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        head = b"".join(lines)
        if len(head.translate(None, _CTLS)) != len(head) - 2 * len(lines):
            raise W.HeaderError("the app's response head has a control character (CR, LF, NUL...); "
                                "sending it could split the response")
        self.resp.hsize = len(head)
        self.resp.code = status
        self.resp.headers = self.headers
        return head

    async def run(self):
        c = self.c
        server = c.server
        begin, end, _ = server.core(c.core)
        started = begin(self.fmt, self.raw)
        failed = write_error = False
        scope = self.scope
        scope["state"] = dict(server.state)
        try:
            await server.app(scope, self.receive, self.send)
            if not self.complete and not c.lost:
                if not self.head_sent and self.status == 0:
                    raise RuntimeError("the ASGI app returned without sending a response")
                self.keepalive = False  # a body left unfinished: only a close can end it
        except Disconnected:
            write_error = True
        except Exception as e:
            failed = True
            if isinstance(e, W.HeaderError):
                W.log("ERROR", "refused the app's response; answered 500 instead", error=e,
                      method=scope["method"], path=scope["path"])
            else:
                W.log_traceback("the app raised", method=scope["method"], path=scope["path"])
            if not self.head_sent and not c.lost:
                body = b"Internal Server Error\n"
                self.status = 500
                self.headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
                self.keepalive = False
                self.complete = True
                out = self.head(0, True) + body
                c.transport.write(out)
                self.resp.nbytes += len(out)
            self.keepalive = False
        self.complete = True
        if self.disconnect is not None and not self.disconnect.done():
            self.disconnect.set_result(None)
        elapsed = time.monotonic_ns() - started
        status = self.resp.code or (500 if failed else 0)
        end(self.resp.nbytes, elapsed // 1000, failed, write_error, self.resp.code)
        server.log_request(self.environ, self.resp, status, elapsed, c.core, write_error)
        keep = self.keepalive and self.body_done and not c.lost and self.framing_error is None
        if keep and not self.body_sent_all and (self.chunks or self.buffered):
            self.chunks.clear()  # body the app did not read: dropped, the next request follows it
        c.request_done(keep)


# ------------------------------------------------------------- WebSockets


def websocket_request(c, scope, environ, fmt, raw, secure):
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "")
    if environ.get("HTTP_SEC_WEBSOCKET_VERSION", "") != "13" or len(key) != 24:
        raise W.FramingError("bad WebSocket handshake (Sec-WebSocket-Version 13 and a Sec-WebSocket-Key needed)")
    scope["type"] = "websocket"
    scope["scheme"] = "wss" if secure else "ws"
    scope["asgi"] = {"version": "3.0", "spec_version": "2.3"}
    protos = environ.get("HTTP_SEC_WEBSOCKET_PROTOCOL", "")
    scope["subprotocols"] = [p.strip() for p in protos.split(",") if p.strip()]
    del scope["method"]
    ws = WebSocket(c, scope, environ, fmt, raw, key)
    c.ws = ws
    c.loop.create_task(ws.run())
    return ws


class WebSocket(object):
    """An ASGI WebSocket on an http-socket connection (RFC 6455)."""

    def __init__(self, c, scope, environ, fmt, raw, key):
        self.c = c
        self.scope = scope
        self.environ = environ
        self.fmt = fmt
        self.raw = raw
        self.accept_key = base64.b64encode(hashlib.sha1(key.encode("latin-1") + WS_GUID).digest())
        self.buf = b""
        self.frag = []  # a fragmented message's parts
        self.frag_op = 0
        self.frag_size = 0
        self.queue = deque()
        self.waiter = None
        self.state = "connecting"  # connecting, open, closed
        self.connect_sent = False
        self.close_sent = False
        self.close_code = None
        self.resp = Resp()
        self.ended = False
        self.request_end = None
        self.body_done = True
        self.paused = False

    def feed(self, data):
        """Decodes the client's frames as they arrive. A frame's header is
        judged as soon as it is complete (RFC 6455 5.2: reserved bits,
        opcode, masking, control frame rules, the message's size), so a
        bad or oversized frame fails at once, before its payload. Bytes
        wait in one bytearray: a frame trickled in small pieces costs
        linear time, not quadratic."""
        buf = self.buf
        if buf:
            buf += data
        else:
            buf = self.buf = bytearray(data)
        if self.state == "connecting":
            return  # frames sent before the 101 wait for it, however the bytes came
        while True:
            n = len(buf)
            if n < 2:
                break
            b0, b1 = buf[0], buf[1]
            op = b0 & 0x0F
            size = b1 & 0x7F
            if b0 & 0x70:
                self.fail(1002, "reserved bits set (no extension was negotiated)")
                return
            if op >= 8:
                if op > 10:
                    self.fail(1002, "unknown opcode %d" % op)
                    return
                if not b0 & 0x80 or size > 125:
                    self.fail(1002, "bad control frame (fragmented, or over 125 bytes)")
                    return
            elif op > 2:
                self.fail(1002, "unknown opcode %d" % op)
                return
            elif op == 0 and not self.frag_op:
                self.fail(1002, "continuation without a message")
                return
            elif op and self.frag_op:
                self.fail(1002, "new message inside a fragmented one")
                return
            if not b1 & 0x80:
                self.fail(1002, "client frames must be masked")
                return
            pos = 2
            if size == 126:
                if n < 4:
                    break
                size = (buf[2] << 8) | buf[3]
                pos = 4
            elif size == 127:
                if n < 10:
                    break
                size = struct.unpack_from(">Q", buf, 2)[0]
                pos = 10
                if size >> 63:
                    self.fail(1002, "frame length has its most significant bit set")
                    return
            if op < 8 and self.frag_size + size > WS_MAX:
                self.fail(1009, "message too big (over %d bytes)" % WS_MAX)
                return
            end = pos + 4 + size
            if n < end:
                break
            payload = unmask(bytes(buf[pos + 4:end]), bytes(buf[pos:pos + 4]))
            del buf[:end]
            self.frame(b0 & 0x80, op, payload)
            if self.state == "closed":
                return

    def frame(self, fin, op, payload):
        if op >= 8:  # control: one frame, at most 125 bytes (checked in feed)
            if op == 8:
                self.close_received(payload)
            elif op == 9:
                self.write_frame(10, payload)
            return
        if op:
            self.frag_op = op
        self.frag.append(payload)
        self.frag_size += len(payload)
        if not fin:
            return
        data = b"".join(self.frag) if len(self.frag) > 1 else self.frag[0]
        op, self.frag, self.frag_op, self.frag_size = self.frag_op, [], 0, 0
        if op == 1:
            try:
                msg = {"type": "websocket.receive", "text": data.decode("utf-8")}
            except UnicodeDecodeError:
                self.fail(1007, "text message is not UTF-8")
                return
        else:
            msg = {"type": "websocket.receive", "bytes": data}
        self.queue.append(msg)
        if len(self.queue) > 64 and not self.paused:
            self.paused = True
            self.c.transport.pause_reading()  # backpressure: the app reads slower than the client sends
        self.wake()

    def close_received(self, payload):
        """RFC 6455 5.5.1, 7.4: echo the client's code; an empty close is
        1005 to the app; a 1-byte payload or a code no endpoint may send
        is a protocol error, a reason that is not UTF-8 1007."""
        code = close_code(payload)
        if code < 0:
            self.fail(-code, "bad close frame")
            return
        if not self.close_sent:
            self.write_frame(8, payload[:2])
            self.close_sent = True
        self.deliver_close(code)
        self.c.close()

    def fail(self, code, why):
        W.log("WARN", "WebSocket closed: " + why, code=code)
        if not self.close_sent:
            self.write_frame(8, struct.pack(">H", code))
            self.close_sent = True
        self.deliver_close(code)
        self.c.close()

    def deliver_close(self, code):
        if self.state != "closed":
            self.state = "closed"
            self.close_code = code
            self.wake()

    def lost(self):
        self.deliver_close(self.close_code or 1006)

    def going_away(self):
        """The worker stops: close with 1001 (going away), tell the app."""
        if self.state == "open":
            if not self.close_sent:
                self.write_frame(8, struct.pack(">H", 1001))
                self.close_sent = True
            self.deliver_close(1001)
            self.c.close()
        elif self.state == "connecting":
            self.deliver_close(1001)

    def wake(self):
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def write_frame(self, op, payload):
        if self.c.lost:
            return
        n = len(payload)
        if n < 126:
            hdr = bytes((0x80 | op, n))
        elif n < 65536:
            hdr = struct.pack(">BBH", 0x80 | op, 126, n)
        else:
            hdr = struct.pack(">BBQ", 0x80 | op, 127, n)
        self.c.transport.write(hdr + payload)
        self.resp.nbytes += len(hdr) + n

    async def receive(self):
        if not self.connect_sent:
            self.connect_sent = True
            return {"type": "websocket.connect"}
        while not self.queue and self.state != "closed":
            self.waiter = self.c.loop.create_future()
            await self.waiter
            self.waiter = None
        if self.queue:
            msg = self.queue.popleft()
            if self.paused and len(self.queue) < 16:
                self.paused = False
                self.c.transport.resume_reading()
            return msg
        return {"type": "websocket.disconnect", "code": self.close_code or 1005}

    async def send(self, msg):
        t = msg["type"]
        c = self.c
        if t == "websocket.send":
            if self.state != "open" or self.close_sent:
                raise Disconnected("the WebSocket is closed")
            text = msg.get("text")
            if text is not None:
                self.write_frame(1, text.encode("utf-8"))
            else:
                self.write_frame(2, msg.get("bytes") or b"")
            await c.drain()
        elif t == "websocket.accept":
            if self.state != "connecting":
                raise RuntimeError("ASGI: websocket.accept twice, or after close")
            lines = [b"HTTP/1.1 101 Switching Protocols\r\n", b"upgrade: websocket\r\n", b"connection: Upgrade\r\n",
                     b"sec-websocket-accept: %s\r\n" % self.accept_key]
            sub = msg.get("subprotocol")
            if sub:
                lines.append(b"sec-websocket-protocol: %s\r\n" % sub.encode("latin-1"))
            for k, v in msg.get("headers", []):
                lines.append(b"%s: %s\r\n" % (bytes(k), bytes(v)))
            lines.append(b"\r\n")
            head = b"".join(lines)
            if len(head.translate(None, _CTLS)) != len(head) - 2 * len(lines):
                raise W.HeaderError("the app's websocket.accept headers have a control character")
            c.transport.write(head)
            self.resp.nbytes += len(head)
            self.resp.hsize = len(head)
            self.resp.code = 101
            self.state = "open"
            self.end_request(101)
            if self.buf:
                self.feed(b"")  # what the client sent before the 101
        elif t == "websocket.close":
            code = int(msg.get("code", 1000))
            if self.state == "connecting":
                self.resp.code = 403
                body = b"403 Forbidden\n"
                out = b"HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
                c.transport.write(out)
                self.resp.nbytes += len(out)
                self.deliver_close(code)
                self.end_request(403)
                c.close()
            elif not self.close_sent:
                reason = (msg.get("reason") or "").encode("utf-8")[:123]
                self.write_frame(8, struct.pack(">H", code) + reason)
                self.close_sent = True
                self.deliver_close(code)
                c.close()
        else:
            raise RuntimeError("ASGI: unexpected message %r on a WebSocket" % (t,))

    def end_request(self, status):
        """The scoreboard's request is the handshake: it ends at the accept
        (101) or the refusal (403), so harakiri never counts an open
        WebSocket as a stuck request; the connection keeps its core."""
        if self.ended:
            return
        self.ended = True
        elapsed = time.monotonic_ns() - self.started
        self.c.server.core(self.c.core)[1](self.resp.nbytes, elapsed // 1000, False, False, status)
        self.c.server.log_request(self.environ, self.resp, status, elapsed, self.c.core, False)

    async def run(self):
        c = self.c
        server = c.server
        self.started = server.core(c.core)[0](self.fmt, self.raw)
        scope = self.scope
        scope["state"] = dict(server.state)
        try:
            await server.app(scope, self.receive, self.send)
        except Disconnected:
            pass
        except Exception:
            W.log_traceback("the app raised", path=scope["path"])
            if self.state == "connecting" and not c.lost:
                self.resp.code = 500
                body = b"Internal Server Error\n"
                c.transport.write(b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n"
                                  b"connection: close\r\n\r\n%s" % (len(body), body))
                self.end_request(500)
            elif self.state == "open" and not self.close_sent:
                self.write_frame(8, struct.pack(">H", 1011))
                self.close_sent = True
        if not self.ended:
            self.end_request(self.resp.code or 500)
        c.close()


def close_code(payload):
    """A close frame's code (1005 when it has none), or -1002 / -1007 when
    the frame is bad (RFC 6455 7.4: codes 1000-1003, 1007-1014 and
    3000-4999 may be sent; the reason is UTF-8)."""
    if not payload:
        return 1005
    if len(payload) == 1:
        return -1002
    code = (payload[0] << 8) | payload[1]
    if not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        return -1002
    try:
        payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        return -1007
    return code


def unmask(data, mask):
    """RFC 6455 5.3: payload XOR the 4-byte key, as one big-integer XOR."""
    n = len(data)
    if not n:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


# ---------------------------------------------------------------- startup


def new_loop():
    """uvloop's loop when the interpreter has it (SUPERVISE_ASGI_LOOP =
    asyncio forces the standard one), else asyncio's."""
    want = os.environ.get(ENV_ASGI_LOOP, "")
    if want != "asyncio":
        try:
            import uvloop
            return uvloop.new_event_loop(), "uvloop"
        except ImportError:
            if want == "uvloop":
                W.log("WARN", "uvloop is not installed for this interpreter; using asyncio's loop", python=sys.executable)
    return asyncio.new_event_loop(), "asyncio"


def load_asgi(target):
    """The ASGI app named by `asgi = module:attr` (attr defaults to app;
    `attr()` calls a factory), with sys.path as worker.py sets it."""
    module, _, attr = target.partition(":")
    os.environ[W.ENV_PY_MODULE] = module
    os.environ[W.ENV_PY_CALLABLE] = attr or "app"
    for k in (W.ENV_PY_WSGI_FILE, W.ENV_PY_MOUNTS):
        os.environ.pop(k, None)
    if os.environ.pop(W.ENV_STATIC, ""):
        W.log("WARN", "static-map and friends are not served by the ASGI worker; the front end (http =) or nginx serves them")
    app, what = W.load_app()
    return app, what.replace("module=", "asgi=", 1) if isinstance(what, str) else what


def main(w, uwsgi_mod):
    global W
    W = w
    handled = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP}
    lifeline = os.environ.get(W.ENV_LIFELINE_FD)
    if lifeline:
        threading.Thread(target=W.watch_lifeline, args=(int(lifeline),), daemon=True, name="lifeline").start()
    app, app_name = load_asgi(os.environ[ENV_PY_ASGI])
    no_app_reason = None
    if app is None:
        no_app_reason, app_name = app_name, "none"
        app = no_app
    loop, loop_name = new_loop()
    asyncio.set_event_loop(loop)
    server = Server(app, app_name, loop)
    W.run_postfork(uwsgi_mod)
    try:
        ok = loop.run_until_complete(server.lifespan_startup()) if no_app_reason is None else True
    except asyncio.TimeoutError:
        ok = False
        W.log("ERROR", "ASGI lifespan startup did not complete in %d s" % LIFESPAN_TIMEOUT)
    if not ok:
        W.log("ERROR", "the ASGI app's lifespan startup failed; exiting")
        sys.stderr.flush()
        os._exit(W.EXIT_APP_LOAD_FAILED)
    # What the import and the startup made lives as long as the worker:
    # frozen, no full collection walks it again (a pause in some request's
    # latency that grows with the app; bench/async.sh's p99).
    if hasattr(gc, "freeze"):  # Python 3.7
        gc.collect()
        gc.freeze()
    stop = server.stop_future = loop.create_future()

    def on_signal(sig):
        if sig in (signal.SIGINT, signal.SIGQUIT):
            server.flush_log()
            os._exit(0)
        if sig == signal.SIGTERM and not stop.done():
            stop.set_result(None)

    for sig in handled:
        loop.add_signal_handler(sig, on_signal, sig)
    server.accept(True)
    socks = ",".join("%s:%s" % (proto, W._sockname(s)) for s, proto in server.listeners)
    W.log("INFO", "ready", pid=W.PID, app=app_name, asgi=loop_name, cores=server.cores, sockets=socks,
          generation=os.environ.get(W.ENV_GENERATION, "1"))
    if no_app_reason is None:
        W.notify("READY=1")
    else:
        W.notify("READY=1\n%s=1\nSTATUS=no app loaded: %s" % (W.NOTIFY_NO_APP, no_app_reason))

    async def until_stopped():
        await stop
        server.idle = loop.create_future()
        server.stop()
        await server.idle
        await server.lifespan_shutdown()

    loop.run_until_complete(until_stopped())
    server.flush_log()
    try:
        import atexit
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(W.EXIT_LISTENER_GONE if server.listener_gone is not None else 0)


async def no_app(scope, receive, send):
    """The app of a worker whose app failed to load: 500 to everything."""
    if scope["type"] == "lifespan":
        return
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1011})
        return
    body = b"Internal Server Error\n"
    await send({"type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})
