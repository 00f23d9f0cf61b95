"""The least a pure-Python server does for one uwsgi-protocol request, as
a yardstick for issue 23 (bench/seedsplit.sh FLOOR=1): no scoreboard, no
harakiri, no signals, no keep-alive, no error handling beyond closing the
connection, no master. What it keeps is what uWSGI's C core does for
every request of the seed app behind nginx and what PEP 3333 asks: the
packet read off the socket (one recv when it came whole), the environ
with the wsgi.* keys, the app called, the status line and headers
written with the body in one send, and one request line in uWSGI's
default format written to the log (its date formatted once a second).
The app is imported once and the processes forked from it, each with
THREADS threads blocking in accept() on the shared socket (uWSGI's shape
for `processes = 4, threads = 2`, the seed's).

    python3 bench/floorserver.py SOCKET PROCESSES THREADS LOGFILE module:callable
"""
import importlib
import io
import os
import signal
import socket
import sys
import threading
import time

SOCK, PROCESSES, THREADS, LOG, TARGET = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
sys.path.insert(0, os.getcwd())
module, _, name = TARGET.partition(":")
app = getattr(importlib.import_module(module), name or "application")

if os.path.exists(SOCK):
    os.unlink(SOCK)
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(SOCK)
os.chmod(SOCK, 0o666)
listener.listen(100)
log_fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
errors = sys.stderr
pid = 0
requests = 0


def recv_exact(conn, n):
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = conn.recv_into(view[got:])
        if not k:
            raise EOFError
        got += k
    return bytes(buf)


def recv_packet(conn):
    """The packet's vars block, in one recv when nginx wrote it whole
    (it does for a GET)."""
    data = conn.recv(65536)
    if len(data) < 4:
        data += recv_exact(conn, 4 - len(data))
    size = 4 + (data[1] | data[2] << 8)
    if len(data) < size:
        data += recv_exact(conn, size - len(data))
    return data[4:size], data[size:]


_date = [0, ""]


def log_date(now):
    """uWSGI's request-line date, formatted once a second."""
    second = int(now)
    if _date[0] != second:
        _date[:] = [second, time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(now))]
    return _date[1]


def serve(conn):
    global requests
    start = time.time()
    block, rest = recv_packet(conn)
    environ = {}
    i, end = 0, len(block)
    while i < end:
        k = block[i] | block[i + 1] << 8
        key = block[i + 2:i + 2 + k].decode("latin-1")
        i += 2 + k
        v = block[i] | block[i + 1] << 8
        environ[key] = block[i + 2:i + 2 + v].decode("latin-1")
        i += 2 + v
    nvars = len(environ)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if len(rest) < length:
        rest += recv_exact(conn, length - len(rest))
    environ["wsgi.input"] = io.BytesIO(rest[:length])
    environ["wsgi.errors"] = errors
    environ["wsgi.version"] = (1, 0)
    environ["wsgi.url_scheme"] = "https" if environ.get("HTTPS") == "on" else "http"
    environ["wsgi.multithread"] = THREADS > 1
    environ["wsgi.multiprocess"] = PROCESSES > 1
    environ["wsgi.run_once"] = False
    status_headers = []

    def start_response(status, headers, exc_info=None):
        status_headers[:] = [status, headers]
        return conn.sendall

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    status, headers = status_headers
    out = "HTTP/1.1 %s\r\n%s\r\n" % (status, "".join("%s: %s\r\n" % h for h in headers))
    conn.sendall(out.encode("latin-1") + body)
    requests += 1
    os.write(log_fd, (
        "[pid: %d|app: 0|req: %d/%d] %s () {%d vars in %d bytes} [%s] %s %s => generated %d bytes in %d msecs "
        "(%s %s) %d headers in %d bytes (1 switches on core 0)\n" % (
            pid, requests, requests, environ.get("REMOTE_ADDR", ""), nvars, end,
            log_date(start), environ["REQUEST_METHOD"],
            environ.get("REQUEST_URI", ""), len(body), int((time.time() - start) * 1000),
            environ.get("SERVER_PROTOCOL", ""), status[:3], len(headers), len(out))).encode("latin-1"))


def accept_loop():
    while True:
        conn, _ = listener.accept()
        try:
            serve(conn)
        except (OSError, EOFError):
            pass
        finally:
            conn.close()


children = []


def stop(signum, frame):
    """The bench stops the parent; the forked processes go with it."""
    for child in children:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os._exit(0)


for _ in range(PROCESSES):
    child = os.fork()
    if child == 0:
        pid = os.getpid()
        for _ in range(THREADS - 1):
            threading.Thread(target=accept_loop, daemon=True).start()
        accept_loop()
    children.append(child)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
for child in children:
    os.waitpid(child, 0)
