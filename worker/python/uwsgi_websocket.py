"""uWSGI's WebSocket API for WSGI apps: uwsgi.websocket_handshake(),
websocket_recv(), websocket_recv_nb(), websocket_send() and
websocket_send_binary(), on the threaded worker's connection (http-socket,
or the uwsgi protocol through the front end's tunnel). uwsgi_api.py loads
this file on the first call.

As uWSGI (core/websockets.c): the handshake answers `101 Web Socket
Protocol Handshake` with Sec-WebSocket-Origin and -Protocol; recv returns
one whole message as bytes (text and binary alike); a blocked recv pings
the client after websocket-ping-freq seconds of silence and gives up when
a ping goes unanswered for websocket-pong-tolerance; a message over
websocket-max-size, a close from the client or a broken connection raise
IOError("unable to receive websocket message"), and every call after that
raises too. Where uWSGI is laxer than RFC 6455 this follows the RFC: a
pong echoes the ping's payload, and an unmasked or otherwise malformed
frame, or text that is not UTF-8, is answered with a close frame (1002,
1007, 1009 for a message too big) before the IOError. When the worker
stops (reload, max-requests, SIGTERM) a blocked recv closes the WebSocket
with 1001 (going away) and raises, so the app's loop ends and the worker
exits well within worker-reload-mercy.
"""

import base64
import hashlib
import os
import select
import struct
import sys
import time

ENV_WS_PING_FREQ = "SUPERVISE_WS_PING_FREQ"
ENV_WS_PONG_TOLERANCE = "SUPERVISE_WS_PONG_TOLERANCE"
ENV_WS_MAX_SIZE = "SUPERVISE_WS_MAX_SIZE"
PING_FREQ = int(os.environ.get(ENV_WS_PING_FREQ) or 30)
PONG_TOLERANCE = int(os.environ.get(ENV_WS_PONG_TOLERANCE) or 3)
MAX_SIZE = int(os.environ.get(ENV_WS_MAX_SIZE) or 1024 * 1024)
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RECV_ERROR = "unable to receive websocket message"
_BAD_HEADER = bytes(range(0, 32)) + b"\x7f"


class _Failed(Exception):
    def __init__(self, code, why):
        Exception.__init__(self, why)
        self.code = code


class _WebSocket(object):
    __slots__ = ("resp", "conn", "fd", "wake_fd", "worker", "buf", "frag", "frag_op", "frag_size",
                 "closed", "last_ping", "last_pong", "uri")

    def __init__(self, resp, worker, uri):
        self.resp = resp
        self.conn = resp.conn
        self.fd = resp.conn.fileno()
        self.worker = worker
        self.wake_fd = getattr(worker, "wake_r", None)
        self.buf = bytearray()
        self.frag = []
        self.frag_op = 0
        self.frag_size = 0
        self.closed = False
        self.last_ping = 0.0
        self.last_pong = time.monotonic()
        self.uri = uri

    # -- sending

    def frame(self, op, payload):
        n = len(payload)
        if n < 126:
            hdr = struct.pack(">BB", 0x80 | op, n)
        elif n < 65536:
            hdr = struct.pack(">BBH", 0x80 | op, 126, n)
        else:
            hdr = struct.pack(">BBQ", 0x80 | op, 127, n)
        self.conn.sendall(hdr + payload)
        self.resp.nbytes += len(hdr) + n

    def close(self, code):
        """Sends a close frame (best effort) and marks the WebSocket closed."""
        if not self.closed:
            self.closed = True
            try:
                self.frame(8, struct.pack(">H", code) if code else b"")
            except OSError:
                pass

    def ping(self):
        self.frame(9, b"")
        self.last_ping = time.monotonic()

    def check_pingpong(self):
        """uWSGI's keepalive: ping after ping-freq seconds of silence; a
        ping unanswered for pong-tolerance seconds ends the WebSocket."""
        now = time.monotonic()
        if not self.last_ping:  # the first round pings at once (so a first recv_nb with nothing there does)
            self.ping()
        elif self.last_pong < self.last_ping:
            if now - self.last_ping >= PONG_TOLERANCE:
                _log("no PONG received in %d seconds" % PONG_TOLERANCE, self.uri)
                self.close(1011)
                raise IOError(RECV_ERROR)
        elif now - max(self.last_ping, self.last_pong) >= PING_FREQ:
            self.ping()

    def wait_time(self):
        if self.last_pong < self.last_ping:
            return max(0.0, self.last_ping + PONG_TOLERANCE - time.monotonic())
        return max(0.0, max(self.last_ping, self.last_pong) + PING_FREQ - time.monotonic())

    # -- receiving

    def parse(self):
        """The next whole message in buf (bytes), or None until more
        arrives; answers pings, notes pongs; _Failed for a bad frame,
        IOError for a close."""
        buf = self.buf
        while True:
            n = len(buf)
            if n < 2:
                return None
            b0, b1 = buf[0], buf[1]
            op, size = b0 & 0x0F, b1 & 0x7F
            if b0 & 0x70:
                raise _Failed(1002, "reserved bits set")
            if op >= 8:
                if op > 10 or not b0 & 0x80 or size > 125:
                    raise _Failed(1002, "bad control frame")
            elif op > 2 or (op == 0) != bool(self.frag_op):
                raise _Failed(1002, "unexpected opcode %d" % op)
            if not b1 & 0x80:
                raise _Failed(1002, "client frames must be masked")
            pos = 2
            if size == 126:
                if n < 4:
                    return None
                size, pos = (buf[2] << 8) | buf[3], 4
            elif size == 127:
                if n < 10:
                    return None
                size, pos = struct.unpack_from(">Q", buf, 2)[0], 10
                if size >> 63:
                    raise _Failed(1002, "frame length has its most significant bit set")
            if op < 8 and self.frag_size + size > MAX_SIZE:
                raise _Failed(1009, "invalid packet size received: %d, max allowed: %d" % (self.frag_size + size, MAX_SIZE))
            end = pos + 4 + size
            if n < end:
                return None
            payload = _unmask(bytes(buf[pos + 4:end]), bytes(buf[pos:pos + 4]))
            del buf[:end]
            if op == 9:
                self.frame(10, payload)
            elif op == 10:
                self.last_pong = time.monotonic()
            elif op == 8:  # echo the client's code (RFC 6455 5.5.1); uWSGI sends an empty close
                code = 0
                if payload:
                    code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 0
                    if not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
                        raise _Failed(1002, "bad close frame")
                    try:
                        payload[2:].decode("utf-8")
                    except UnicodeDecodeError:
                        raise _Failed(1007, "close reason is not UTF-8")
                self.close(code)
                raise IOError(RECV_ERROR)
            else:
                if op:
                    self.frag_op = op
                self.frag.append(payload)
                self.frag_size += size
                if b0 & 0x80:
                    data = b"".join(self.frag)
                    text = self.frag_op == 1
                    self.frag, self.frag_op, self.frag_size = [], 0, 0
                    if text:
                        try:
                            data.decode("utf-8")
                        except UnicodeDecodeError:
                            raise _Failed(1007, "text message is not UTF-8")
                    return data

    def recv(self, nb):
        if self.closed:
            raise IOError(RECV_ERROR)
        try:
            while True:
                msg = self.parse()
                if msg is not None:
                    return msg
                fds = [self.fd]
                if self.wake_fd is not None:
                    fds.append(self.wake_fd)
                if getattr(self.worker, "stopping", False):
                    self.close(1001)
                    raise IOError(RECV_ERROR)
                ready = select.select(fds, [], [], 0 if nb else self.wait_time())[0]
                if self.wake_fd in ready and getattr(self.worker, "stopping", False):
                    self.close(1001)  # the worker stops: going away
                    raise IOError(RECV_ERROR)
                if self.fd not in ready:
                    self.check_pingpong()
                    if nb:
                        return b""
                    continue
                data = os.read(self.fd, 65536)
                if not data:
                    self.closed = True
                    raise IOError(RECV_ERROR)
                self.buf += data
        except _Failed as e:
            _log(str(e), self.uri)
            self.close(e.code)
            raise IOError(RECV_ERROR)
        except OSError:
            self.closed = True
            raise IOError(RECV_ERROR)


def _log(what, uri):
    sys.stderr.write("[uwsgi-websocket] %s: %s\n" % (uri, what))


def _unmask(data, mask):
    n = len(data)
    if not n:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def _request():
    req = sys.modules["uwsgi"]._request
    resp = getattr(req, "resp", None)
    if resp is None:
        raise SystemError("uwsgi.websocket_*() needs a request: call it while the app handles one")
    return req, resp


def _current(what):
    req, resp = _request()
    ws = getattr(req, "websocket", None)
    if ws is None or ws.resp is not resp:
        raise IOError(what)
    return ws


def websocket_handshake(key=None, origin=None, proto=None):
    """Answers the upgrade request with 101; the connection is the
    WebSocket's from then on (no keep-alive after the app returns)."""
    req, resp = _request()
    environ = getattr(req, "environ", None) or {}
    key = key or environ.get("HTTP_SEC_WEBSOCKET_KEY", "")
    if not key or resp.sent or not hasattr(resp.conn, "fileno"):
        raise IOError("unable to complete websocket handshake")
    if isinstance(key, str):
        key = key.encode("latin-1")
    origin = origin or environ.get("HTTP_ORIGIN") or "*"
    proto = proto or environ.get("HTTP_SEC_WEBSOCKET_PROTOCOL")
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    lines = ["%s 101 Web Socket Protocol Handshake\r\n" % resp.proto, "Upgrade: WebSocket\r\n",
             "Connection: Upgrade\r\n", "Sec-WebSocket-Origin: %s\r\n" % origin]
    if proto:
        lines.append("Sec-WebSocket-Protocol: %s\r\n" % proto)
    lines.append("Sec-WebSocket-Accept: %s\r\n\r\n" % accept)
    head = "".join(lines).encode("latin-1")
    if len(head.translate(None, _BAD_HEADER)) != len(head) - 2 * (len(lines) + 1):
        raise IOError("unable to complete websocket handshake")  # a CR/LF in origin or proto
    try:
        resp.conn.sendall(head)
    except OSError:
        raise IOError("unable to complete websocket handshake")
    resp.status, resp.headers, resp.sent, resp.keepalive = "101 Web Socket Protocol Handshake", [], True, False
    resp.code, resp.hsize = 101, len(head)
    resp.nbytes += len(head)
    req.websocket = _WebSocket(resp, getattr(req, "worker", None), environ.get("REQUEST_URI") or environ.get("PATH_INFO", ""))


def websocket_recv(request_context=None):
    return _current(RECV_ERROR).recv(False)


def websocket_recv_nb(request_context=None):
    return _current(RECV_ERROR).recv(True)


def _send(op, message, what):
    ws = _current(what)
    if ws.closed:
        raise IOError(what)
    if isinstance(message, str):
        message = message.encode("utf-8")
    try:
        ws.frame(op, bytes(message))
    except OSError:
        ws.closed = True
        raise IOError(what)


def websocket_send(message, request_context=None):
    _send(1, message, "unable to send websocket message")


def websocket_send_binary(message, request_context=None):
    _send(2, message, "unable to send websocket binary message")


def _install(g):
    for name in ("websocket_handshake", "websocket_recv", "websocket_recv_nb", "websocket_send", "websocket_send_binary"):
        g[name] = globals()[name]
