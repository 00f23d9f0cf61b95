# supervise's Python WSGI worker: one stdlib-only file, embedded in the
# supervise binary and run by the master as `python3 worker.py`.
#
# It takes the listening sockets, settings and app from the master-worker
# contract (docs/contract.md, ipc/contract.go in Go), serves the uwsgi
# protocol (nginx uwsgi_pass) and HTTP/1.1 (http-socket) with T threads,
# reports readiness on NOTIFY_SOCKET, counts requests in the shared
# scoreboard, and exits when the master's lifeline closes.
import atexit
import errno
import importlib
import importlib.util
import mmap
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback

# The contract: these names and numbers mirror ipc/contract.go and
# ipc/scoreboard.go; contract_test.go checks that they agree.
ENV_LISTEN_FDS = "LISTEN_FDS"
ENV_LISTEN_FDNAMES = "LISTEN_FDNAMES"
ENV_NOTIFY_SOCKET = "NOTIFY_SOCKET"
ENV_WORKER_ID = "SUPERVISE_WORKER_ID"
ENV_GENERATION = "SUPERVISE_GENERATION"
ENV_THREADS = "SUPERVISE_THREADS"
ENV_LIFELINE_FD = "SUPERVISE_LIFELINE_FD"
ENV_BUFFER_SIZE = "SUPERVISE_BUFFER_SIZE"
ENV_DISABLE_LOGGING = "SUPERVISE_DISABLE_LOGGING"
ENV_SOCKET_TIMEOUT_MS = "SUPERVISE_SOCKET_TIMEOUT_MS"
DEFAULT_SOCKET_TIMEOUT_MS = 4000
EXIT_LISTENER_GONE = 1
ENV_PY_MODULE = "SUPERVISE_PY_MODULE"
ENV_PY_CALLABLE = "SUPERVISE_PY_CALLABLE"
ENV_PY_WSGI_FILE = "SUPERVISE_PY_WSGI_FILE"
ENV_PY_PYTHONPATH = "SUPERVISE_PY_PYTHONPATH"
ENV_PY_AUTORELOAD = "SUPERVISE_PY_AUTORELOAD"
NOTIFY_RELOAD = "SUPERVISE_RELOAD"
ENV_SCOREBOARD_FD = "SUPERVISE_SCOREBOARD_FD"
ENV_SCOREBOARD_SLOT = "SUPERVISE_SCOREBOARD_SLOT"
FIRST_LISTEN_FD = 3
EXIT_APP_LOAD_FAILED = 22

SB_MAGIC = 0x3145524F43535653
SB_VERSION = 3
HDR_MAGIC, HDR_VERSION, HDR_SLOTS, HDR_CORES, HDR_SLOT_BYTES, HDR_CORE_BYTES = 0, 1, 2, 3, 4, 5
HEADER_WORDS = 8
WK_PID, WK_ACCEPTING = 0, 1
WK_WORDS = 8
CORE_REQUESTS, CORE_IN_REQUEST, CORE_START_NS, CORE_READ_ERRORS = 0, 1, 2, 3
CORE_WRITE_ERRORS, CORE_EXCEPTIONS, CORE_VARS_LEN, CORE_VARS_FORMAT = 4, 5, 6, 7
CORE_TX, CORE_RT_TOTAL_US = 8, 9
CORE_STATUS, STATUS_CLASSES, CORE_DURATION = 10, 6, 16
DURATION_BOUNDS_US = (1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
                      1000000, 2500000, 5000000, 10000000)
CORE_WORDS = 32
VARS_BYTES = 1024
VARS_UWSGI, VARS_HTTP = 1, 2

UWSGI_MAX_VARS = 64
LOG_BATCH = 32  # request lines a busy thread collects before one write
KEEPALIVE_IDLE = 30.0  # seconds an idle http-socket connection is kept

WORKER_ID = os.environ.get(ENV_WORKER_ID, "0")
PID = os.getpid()
NAME = "worker." + WORKER_ID

# ---------------------------------------------------------------- logging
# Lines in the master's go-hclog shape, so one log reads uniformly.

_ts_cache = [0, ""]


def _timestamp():
    now = time.time()
    sec = int(now)
    if _ts_cache[0] != sec:
        _ts_cache[0] = sec
        _ts_cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return "%s.%03dZ" % (_ts_cache[1], int((now - sec) * 1000))


def log(level, msg, **kv):
    tail = "".join(" %s=%s" % (k, _quote(v)) for k, v in kv.items())
    line = "%s [%s]%s%s: %s%s\n" % (_timestamp(), level, " " * (6 - len(level)), NAME, msg, ":" + tail if tail else "")
    try:
        os.write(2, line.encode("utf-8", "replace"))
    except OSError:
        pass


def _quote(v):
    s = str(v)
    if not s or " " in s or '"' in s or "=" in s:
        return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')
    return s


def log_traceback(msg, **kv):
    log("ERROR", msg, **kv)
    for line in traceback.format_exc().rstrip().splitlines():
        try:
            os.write(2, ("  " + line + "\n").encode("utf-8", "replace"))
        except OSError:
            pass


# ------------------------------------------------------------- scoreboard


class Scoreboard(object):
    """This worker's slot of the master's shared-memory scoreboard."""

    def __init__(self, fd, slot):
        size = os.fstat(fd).st_size
        self.mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self.words = memoryview(self.mm).cast("Q")
        w = self.words
        if w[HDR_MAGIC] != SB_MAGIC or w[HDR_VERSION] != SB_VERSION:
            raise ValueError("not a version %d scoreboard" % SB_VERSION)
        self.cores = w[HDR_CORES]
        self.base = HEADER_WORDS + slot * (w[HDR_SLOT_BYTES] // 8)
        self.core_words = w[HDR_CORE_BYTES] // 8
        w[self.base + WK_PID] = PID
        # end() looks up a request's status class and (up to 10 ms) its
        # duration bucket instead of computing them: a list index is the
        # cheapest Python operation there is. The status is int() of three
        # characters (-99..999); negative ones index 901..999, all class 0.
        self.class_of = [0] * 1000
        for code in range(100, 600):
            self.class_of[code] = code // 100
        self.fast_bucket = []  # [micros] -> bucket, micros <= DURATION_BOUNDS_US[3]
        for i, bound in enumerate(DURATION_BOUNDS_US[:4]):
            self.fast_bucket.extend([i] * (bound + 1 - len(self.fast_bucket)))

    def core(self, core):
        """The (begin, end, read_error) functions of one thread's core: each
        core has one writer, so they need no lock; indexes are bound once.
        Each word is one aligned 8-byte store; the writer keeps its running
        totals in closure variables instead of reading them back, and stores
        the vars format only when it changes (bench/cost.sh counts the
        instructions: every Python-level operation here is ~300 of them).
        Call it once per core: the totals live in these closures."""
        if core >= self.cores:
            return NoScoreboard().core(core)
        from bisect import bisect_left
        w, mm, mono, class_of, fast = self.words, self.mm, time.monotonic_ns, self.class_of, self.fast_bucket
        n_fast = len(fast)
        cb = self.base + WK_WORDS + core * self.core_words
        off = (cb + CORE_WORDS) * 8
        i_start, i_in, i_fmt, i_len = cb + CORE_START_NS, cb + CORE_IN_REQUEST, cb + CORE_VARS_FORMAT, cb + CORE_VARS_LEN
        i_req, i_tx, i_rt = cb + CORE_REQUESTS, cb + CORE_TX, cb + CORE_RT_TOTAL_US
        i_exc, i_werr, i_rerr = cb + CORE_EXCEPTIONS, cb + CORE_WRITE_ERRORS, cb + CORE_READ_ERRORS
        i_status, i_dur, bounds = cb + CORE_STATUS, cb + CORE_DURATION, DURATION_BOUNDS_US
        # The master zeroes a slot before a worker gets it, so these start
        # equal to the words they mirror.
        requests = tx = rt = fmt_stored = 0

        def begin(fmt, raw):
            """Marks the core busy with this request; returns its start
            (time.monotonic_ns), which the caller also times it by. The start
            and vars are stored before in_request, so the master (harakiri)
            never pairs in_request = 1 with a previous request's start."""
            nonlocal fmt_stored
            now = mono()
            n = len(raw)
            if n > VARS_BYTES:
                n, raw = VARS_BYTES, raw[:VARS_BYTES]
            w[i_start] = now
            mm[off:off + n] = raw
            if fmt != fmt_stored:
                w[i_fmt] = fmt_stored = fmt
            w[i_len] = n
            w[i_in] = 1
            return now

        def end(nbytes, micros, failed, write_error, status):
            """Counts a finished request: status is the HTTP status sent
            (0 for none), counted by class (1xx..5xx, else word 0); micros
            goes into the first duration bucket whose bound it does not
            exceed (Prometheus's inclusive le, as bisect_left finds it)."""
            nonlocal requests, tx, rt
            w[i_in] = 0
            requests += 1
            w[i_req] = requests
            tx += nbytes
            w[i_tx] = tx
            rt += micros
            w[i_rt] = rt
            w[i_status + class_of[status]] += 1
            w[i_dur + (fast[micros] if micros < n_fast else bisect_left(bounds, micros))] += 1
            if failed:
                w[i_exc] += 1
            if write_error:
                w[i_werr] += 1

        def read_error():
            w[i_rerr] += 1

        return begin, end, read_error


class NoScoreboard(object):
    def core(self, core):
        mono = time.monotonic_ns

        def begin(fmt, raw):
            return mono()

        def end(nbytes, micros, failed, write_error, status):
            pass

        def read_error():
            pass

        return begin, end, read_error


# ---------------------------------------------------------------- the app


def demo_app(environ, start_response):
    body = ("Hello from supervise (worker %s, pid %d)\n" % (WORKER_ID, PID)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def load_app():
    module = os.environ.get(ENV_PY_MODULE, "")
    callable_name = os.environ.get(ENV_PY_CALLABLE, "") or "application"
    wsgi_file = os.environ.get(ENV_PY_WSGI_FILE, "")
    if ":" in module:
        module, callable_name = module.split(":", 1)
    # The app's directory first, as uWSGI does; never our runtime directory.
    script_dir = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != script_dir]
    sys.path.insert(0, os.getcwd())
    extra = [p for p in os.environ.get(ENV_PY_PYTHONPATH, "").split(":") if p]
    sys.path[0:0] = extra
    if not module and not wsgi_file:
        return demo_app, "builtin:demo_app"
    what = "wsgi-file=%s" % wsgi_file if wsgi_file else "module=%s" % module
    try:
        if wsgi_file:
            name = "uwsgi_file_" + "".join(c if c.isalnum() else "_" for c in wsgi_file)
            spec = importlib.util.spec_from_file_location(name, wsgi_file)
            if spec is None:
                raise ImportError("cannot load %s as Python" % wsgi_file)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
        else:
            mod = importlib.import_module(module)
        factory = callable_name.endswith("()")
        attr = callable_name[:-2] if factory else callable_name
        if not hasattr(mod, attr):
            raise AttributeError("%s has no attribute %r" % (getattr(mod, "__file__", module), attr))
        app = getattr(mod, attr)
        if factory:
            app = app()
        if not callable(app):
            raise TypeError("%s.%s is not callable" % (module or wsgi_file, callable_name))
        return app, "%s callable=%s" % (what, callable_name)
    except BaseException as e:
        log_traceback("cannot load app", app=what, callable=callable_name,
                      error="%s: %s" % (type(e).__name__, e))
        sys.stderr.flush()
        os._exit(EXIT_APP_LOAD_FAILED)


# --------------------------------------------------------- request bodies


class Input(object):
    """wsgi.input: reads at most `length` bytes of body from the socket,
    starting with what already arrived with the request head."""

    def __init__(self, conn, prefix, length):
        self.conn = conn
        self.buf = bytes(prefix[:length])
        self.left = length - len(self.buf)  # still on the socket

    def _fill(self, want):
        if self.left <= 0:
            return False
        chunk = self.conn.recv(min(max(want, 65536), self.left))
        if not chunk:
            raise IOError("client closed the connection with %d body bytes missing" % self.left)
        self.left -= len(chunk)
        self.buf += chunk
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            parts = [self.buf]
            self.buf = b""
            while self.left > 0:
                chunk = self.conn.recv(min(self.left, 1 << 20))
                if not chunk:
                    raise IOError("client closed the connection with %d body bytes missing" % self.left)
                self.left -= len(chunk)
                parts.append(chunk)
            return b"".join(parts)
        while len(self.buf) < size and self._fill(size - len(self.buf)):
            pass
        out, self.buf = self.buf[:size], self.buf[size:]
        return out

    def readline(self, size=-1):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0 and (size is None or size < 0 or i < size):
                out, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return out
            if size is not None and 0 <= size <= len(self.buf):
                out, self.buf = self.buf[:size], self.buf[size:]
                return out
            if not self._fill(65536):
                out, self.buf = self.buf, b""
                return out

    def readlines(self, hint=-1):
        lines, total = [], 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def drain(self, limit=1 << 20):
        """Reads what the app left unread, so closing the connection does
        not reset it under the response. False if too much is left."""
        self.buf = b""
        if self.left > limit:
            return False
        while self.left > 0:
            chunk = self.conn.recv(min(self.left, 65536))
            if not chunk:
                return False
            self.left -= len(chunk)
        return True


class ChunkedInput(Input):
    """wsgi.input for a Transfer-Encoding: chunked body (http-socket)."""

    def __init__(self, conn, prefix, limit):
        self.conn = conn
        self.raw = bytes(prefix)
        self.buf = b""
        self.left = 0
        self.done = False
        self.limit = limit
        self.total = 0

    def _raw_line(self):
        while b"\r\n" not in self.raw:
            if len(self.raw) > 4096:
                raise IOError("chunk size line too long")
            chunk = self.conn.recv(65536)
            if not chunk:
                raise IOError("client closed the connection inside a chunked body")
            self.raw += chunk
        line, self.raw = self.raw.split(b"\r\n", 1)
        return line

    def _raw_bytes(self, n):
        while len(self.raw) < n:
            chunk = self.conn.recv(max(65536, n - len(self.raw)))
            if not chunk:
                raise IOError("client closed the connection inside a chunked body")
            self.raw += chunk
        out, self.raw = self.raw[:n], self.raw[n:]
        return out

    def _fill(self, want):
        if self.done:
            return False
        size = int(self._raw_line().split(b";", 1)[0].strip() or b"x", 16)
        if size == 0:
            while self._raw_line():  # trailers up to the empty line
                pass
            self.done = True
            return False
        self.total += size
        if self.total > self.limit:
            raise IOError("chunked body larger than %d bytes" % self.limit)
        self.buf += self._raw_bytes(size)
        self._raw_bytes(2)
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            while self._fill(65536):
                pass
            out, self.buf = self.buf, b""
            return out
        return Input.read(self, size)

    def drain(self, limit=1 << 20):
        try:
            while self._fill(65536):
                self.buf = b""
        except (IOError, ValueError):
            return False
        return True

    def leftover(self):
        return self.raw


class FileWrapper(object):
    """wsgi.file_wrapper: sent with sendfile when it wraps a real file."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


# --------------------------------------------------------------- responses


class Response(object):
    """start_response and the body writer for one request."""

    __slots__ = ("conn", "proto", "status", "headers", "sent", "nbytes", "chunked",
                 "keepalive", "head_only", "length", "code")

    def __init__(self, conn, proto, keepalive=False, head_only=False):
        self.conn = conn
        self.proto = proto
        self.status = None
        self.headers = None
        self.sent = False
        self.nbytes = 0
        self.chunked = False
        self.keepalive = keepalive
        self.head_only = head_only
        self.length = None
        self.code = 0

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response called twice without exc_info")
        if not isinstance(status, str) or len(status) < 4 or status[3] != " " and len(status) != 3:
            raise ValueError("bad status %r" % (status,))
        self.status = status
        self.headers = headers
        return self.write

    def _head(self, first_chunk_len, final):
        if self.status is None:
            raise AssertionError("the app returned a body before calling start_response")
        self.code = int(self.status[:3])
        lines = ["%s %s\r\n" % (self.proto, self.status)]
        has_length = said_close = False
        for k, v in self.headers:
            lk = k.lower()
            if lk == "content-length":
                has_length = True
                try:
                    self.length = int(v)
                except ValueError:
                    pass
            elif lk == "connection" and v.lower() == "close":
                self.keepalive = False
                said_close = True
            lines.append("%s: %s\r\n" % (k, v))
        if self.keepalive:
            bodyless = self.head_only or self.code in (204, 304) or self.code < 200
            if not has_length and not bodyless:
                if final:
                    lines.append("Content-Length: %d\r\n" % first_chunk_len)
                elif self.proto == "HTTP/1.1":
                    self.chunked = True
                    lines.append("Transfer-Encoding: chunked\r\n")
                else:
                    self.keepalive = False
        if not self.keepalive and not said_close:
            lines.append("Connection: close\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1")

    def write(self, data, final=False):
        if not self.sent:
            head = self._head(len(data), final)
            self.sent = True
            if self.head_only:
                self.conn.sendall(head)
                return
            if self.chunked and data:
                data = b"%x\r\n%s\r\n" % (len(data), data)
            self.conn.sendall(head + data)
            self.nbytes += len(head) + len(data)
            return
        if not data or self.head_only:
            return
        if self.chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.conn.sendall(data)
        self.nbytes += len(data)

    def finish(self):
        if not self.sent:
            self.write(b"", final=True)
        elif self.chunked and not self.head_only:
            self.conn.sendall(b"0\r\n\r\n")
            self.nbytes += 5

    def sendfile(self, wrapper):
        f = wrapper.filelike
        try:
            f.fileno()
        except (AttributeError, OSError, ValueError):
            return False
        if self.chunked or (not self.sent and self.keepalive and self.proto == "HTTP/1.1" and
                            not any(k.lower() == "content-length" for k, v in self.headers or ())):
            return False
        if not self.sent:
            head = self._head(0, False)
            self.sent = True
            self.conn.sendall(head)
            self.nbytes += len(head)
        if self.head_only:
            return True
        self.nbytes += self.conn.sendfile(f)
        return True


# ------------------------------------------------------------- the server


class Worker(object):
    def __init__(self, app, app_name):
        self.app = app
        self.app_name = app_name
        env = os.environ
        self.threads = max(1, int(env.get(ENV_THREADS, "1")))
        self.on_conn = [False] * self.threads  # per thread: serving a connection (one writer each)
        self.buffer_size = int(env.get(ENV_BUFFER_SIZE, "4096"))
        self.log_requests = env.get(ENV_DISABLE_LOGGING, "") != "1"
        # socket-timeout: SO_RCVTIMEO/SO_SNDTIMEO on each connection, so a
        # silent client fails a recv (EAGAIN) instead of holding the thread;
        # no extra syscall per read, unlike a Python-level timeout.
        ms = int(env.get(ENV_SOCKET_TIMEOUT_MS) or DEFAULT_SOCKET_TIMEOUT_MS)
        self.socket_timeout = struct.pack("ll", ms // 1000, (ms % 1000) * 1000) if ms > 0 else None
        self.socket_timeout_ms = ms
        self.listener_gone = None  # the fd of a listening socket found closed under us
        self.stopping = False
        self.wake_r, self.wake_w = os.pipe()
        self.listeners = []
        names = env.get(ENV_LISTEN_FDNAMES, "").split(":")
        for i in range(int(env.get(ENV_LISTEN_FDS, "0"))):
            sock = socket.socket(fileno=FIRST_LISTEN_FD + i)
            sock.setblocking(False)  # all workers share it: accept() must not block
            proto = names[i] if i < len(names) and names[i] else "uwsgi"
            self.listeners.append((sock, proto))
        self.local = threading.local()
        self.board = NoScoreboard()
        if env.get(ENV_SCOREBOARD_FD):
            try:
                self.board = Scoreboard(int(env[ENV_SCOREBOARD_FD]), int(env.get(ENV_SCOREBOARD_SLOT, "0")))
            except (OSError, ValueError) as e:
                log("WARN", "scoreboard unavailable; stats will not count this worker", error=e)
        base = {
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": self.threads > 1,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
            "SCRIPT_NAME": "",
        }
        self.base_environ = base

    # -- accepting

    def serve_thread(self, core):
        self.local.board = self.board.core(core)
        self.local.logbuf = []
        ep = select.epoll()
        by_fd = {}
        exclusive = getattr(select, "EPOLLEXCLUSIVE", 0)
        for sock, proto in self.listeners:
            ep.register(sock.fileno(), select.EPOLLIN | exclusive)
            by_fd[sock.fileno()] = (sock, proto)
        ep.register(self.wake_r, select.EPOLLIN)
        try:
            while not self.stopping:
                self.flush_log()
                try:
                    events = ep.poll()
                except InterruptedError:
                    continue
                for fd, _ in events:
                    if fd == self.wake_r:
                        continue
                    # Under load the next connection is usually waiting:
                    # accept until the queue is empty before polling again.
                    # A wakeup is served even while stopping: with
                    # EPOLLEXCLUSIVE no other worker was woken for it.
                    while self.accept_one(by_fd[fd], core) and not self.stopping:
                        pass
        finally:
            self.flush_log()
            ep.close()

    def accept_one(self, listener, core):
        sock, proto = listener
        try:
            conn, addr = sock.accept()
        except (BlockingIOError, InterruptedError):
            return False  # empty, or another worker took it
        except OSError as e:
            if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                log("ERROR", "accept failed; pausing", error=e)
                time.sleep(0.1)
            elif e.errno in (errno.EBADF, errno.ENOTSOCK, errno.EINVAL):
                self.listener_died(sock, e)
            return False
        self.on_conn[core] = True
        try:
            if self.socket_timeout:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, self.socket_timeout)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, self.socket_timeout)
            if proto == "http":
                self.serve_http(conn, addr, core, sock)
            else:
                self.serve_uwsgi(conn, core)
        except (BlockingIOError, socket.timeout):
            # socket-timeout: the client sent nothing (or took nothing) for
            # that long. uWSGI counts it as a read error too.
            log("WARN", "socket-timeout: no data from the client for %d ms; connection closed" % self.socket_timeout_ms)
            self.local.board[2]()
        except Exception:
            log_traceback("connection failed")
        finally:
            self.on_conn[core] = False
            conn.close()
        return True

    # -- uwsgi protocol

    def serve_uwsgi(self, conn, core):
        data = conn.recv(self.buffer_size + 4)
        while 0 < len(data) < 4:
            more = conn.recv(4096)
            if not more:
                return
            data += more
        if not data:
            return
        size = data[1] | (data[2] << 8)
        if size > self.buffer_size:
            log("WARN", "invalid request block size: %d (max %d)... skip" % (size, self.buffer_size))
            self.local.board[2]()
            return
        if data[0] != 0:
            log("WARN", "unsupported uwsgi modifier1 %d (only 0, WSGI, is served); connection closed" % data[0])
            return
        end = 4 + size
        while len(data) < end:
            more = conn.recv(end - len(data) + 65536)
            if not more:
                self.local.board[2]()
                return
            data += more
        environ = self.parse_uwsgi_vars(data, end)
        if environ is None:
            log("WARN", "malformed uwsgi vars block; connection closed")
            self.local.board[2]()
            return
        # PEP 3333: the body's type and length live in CONTENT_*, not HTTP_*
        # (nginx's uwsgi_params sends both).
        environ.pop("HTTP_CONTENT_TYPE", None)
        environ.pop("HTTP_CONTENT_LENGTH", None)
        environ.update(self.base_environ)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = Input(conn, data[end:], max(length, 0))
        environ["wsgi.input"] = body
        https = environ.get("HTTPS", "").lower() in ("on", "1") or environ.get("REQUEST_SCHEME") == "https"
        environ["wsgi.url_scheme"] = "https" if https else "http"
        proto = environ.get("SERVER_PROTOCOL") or "HTTP/1.0"
        started = self.local.board[0](VARS_UWSGI, memoryview(data)[4:end])
        self.run_app(environ, Response(conn, proto), core, started)
        body.drain()

    @staticmethod
    def parse_uwsgi_vars(data, end):
        # Lengths come from the bytes, text is sliced from one latin-1
        # decode of the block; the checks run once, after the loop.
        text = data[:end].decode("latin-1")
        env = {}
        pos = 4
        try:
            while pos < end:
                k = pos + 2 + (data[pos] | data[pos + 1] << 8)
                v = k + 2 + (data[k] | data[k + 1] << 8)
                env[text[pos + 2:k]] = text[k + 2:v]
                pos = v
        except IndexError:
            return None
        if pos != end or "" in env or len(env) > UWSGI_MAX_VARS:
            return None
        return env

    # -- HTTP/1.1 (http-socket)

    def serve_http(self, conn, addr, core, listener):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) if conn.family != socket.AF_UNIX else None
        sockname = conn.getsockname()
        server = (sockname[0], str(sockname[1])) if isinstance(sockname, tuple) else ("localhost", "")
        remote = (addr[0], str(addr[1])) if isinstance(addr, tuple) and addr else ("", "")
        pending = b""
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        while True:
            if not pending:  # idle between requests: wake for data or a stop
                self.flush_log()
                ready = poller.poll(KEEPALIVE_IDLE * 1000)
                if not ready or any(fd == self.wake_r for fd, _ in ready):
                    return
            head, pending = self.read_head(conn, pending)
            if head is None:
                return
            if head is False:
                self.simple_response(conn, "431 Request Header Fields Too Large")
                return
            keep, pending = self.http_request(conn, head, pending, server, remote, core, listener)
            if not keep or self.stopping:
                return

    def read_head(self, conn, pending):
        limit = max(self.buffer_size, 8192)
        while True:
            i = pending.find(b"\r\n\r\n")
            if i > limit or (i < 0 and len(pending) > limit):
                return False, b""
            if i >= 0:
                return pending[:i + 2], pending[i + 4:]
            if len(pending) > limit:
                return False, b""
            try:
                more = conn.recv(65536)
            except BlockingIOError:
                raise  # socket-timeout: accept_one logs and counts it
            except OSError:
                return None, b""
            if not more:
                return None, b""
            pending += more

    def simple_response(self, conn, status):
        body = status.encode() + b"\n"
        try:
            conn.sendall(b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (status.encode(), len(body), body))
        except OSError:
            pass

    def others_waiting(self, listener):
        """Whether keeping this connection would make new ones wait: every
        thread is on a connection and the listen queue is not empty. Then
        the response says Connection: close, so one keep-alive client
        cannot hold a thread while others queue (gunicorn's sync workers
        avoid this by never keeping connections)."""
        if not all(self.on_conn):
            return False
        try:
            return bool(select.select([listener], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    def http_request(self, conn, head, pending, server, remote, core, listener):
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self.simple_response(conn, "400 Bad Request")
            return False, b""
        method, uri, proto = parts
        path, _, query = uri.partition("?")
        if path.startswith("http://") or path.startswith("https://"):
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        environ = {
            "REQUEST_METHOD": method, "REQUEST_URI": uri, "PATH_INFO": unquote(path),
            "QUERY_STRING": query, "SERVER_PROTOCOL": proto, "SERVER_NAME": server[0],
            "SERVER_PORT": server[1], "REMOTE_ADDR": remote[0], "REMOTE_PORT": remote[1],
        }
        conn_tokens = ""
        chunked = False
        for line in lines[1:]:
            if not line:
                continue
            k, sep, v = line.partition(":")
            if not sep or not k or k != k.strip():
                self.simple_response(conn, "400 Bad Request")
                return False, b""
            v = v.strip()
            key = k.upper().replace("-", "_")
            if key == "CONTENT_TYPE" or key == "CONTENT_LENGTH":
                environ[key] = v
                continue
            if key == "CONNECTION":
                conn_tokens = v.lower()
            elif key == "TRANSFER_ENCODING":
                chunked = "chunked" in v.lower()
            hk = "HTTP_" + key
            environ[hk] = environ[hk] + "," + v if hk in environ else v
        keepalive = ("close" not in conn_tokens) if proto == "HTTP/1.1" else ("keep-alive" in conn_tokens)
        if keepalive and self.others_waiting(listener):
            keepalive = False
        if chunked:
            environ.pop("CONTENT_LENGTH", None)
            body = ChunkedInput(conn, pending, 1 << 30)
            environ["wsgi.input_terminated"] = True
        else:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                if length < 0:
                    raise ValueError
            except ValueError:
                self.simple_response(conn, "400 Bad Request")
                return False, b""
            body = Input(conn, pending, length)
        environ.update(self.base_environ)
        environ["wsgi.input"] = body
        environ["wsgi.url_scheme"] = "http"
        if environ.get("HTTP_EXPECT", "").lower() == "100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        started = self.local.board[0](VARS_HTTP, head)
        resp = Response(conn, proto, keepalive=keepalive, head_only=(method == "HEAD"))
        self.run_app(environ, resp, core, started)
        if not resp.keepalive or not body.drain():
            return False, b""
        if chunked:
            return True, body.leftover()
        return True, body.buf

    # -- the WSGI call

    def run_app(self, environ, resp, core, started):
        """Runs the app; started is the request's time.monotonic_ns from the
        scoreboard's begin (one clock read serves both)."""
        failed = write_error = False
        result = None
        try:
            result = self.app(environ, resp.start_response)
            if isinstance(result, FileWrapper) and resp.sendfile(result):
                pass
            else:
                for chunk in result:
                    if chunk:
                        resp.write(chunk)
            resp.finish()
        except (BrokenPipeError, ConnectionResetError):
            write_error = True
            resp.keepalive = False
        except BlockingIOError:  # socket-timeout: the client stalled mid-body or mid-response
            resp.keepalive = False
            write_error = resp.sent
            if not resp.sent:
                self.local.board[2]()
            log("WARN", "socket-timeout: the client stalled for %d ms; connection closed" % self.socket_timeout_ms,
                path=environ.get("PATH_INFO"))
        except Exception:
            failed = True
            resp.keepalive = False
            log_traceback("the app raised", method=environ.get("REQUEST_METHOD"), path=environ.get("PATH_INFO"))
            if not resp.sent:
                resp.headers = None
                try:
                    body = b"Internal Server Error\n"
                    resp.status = "500 Internal Server Error"
                    resp.headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
                    resp.write(body)
                except OSError:
                    write_error = True
        finally:
            if hasattr(result, "close"):
                try:
                    result.close()
                except Exception:
                    log_traceback("the app's close() raised")
        elapsed = time.monotonic_ns() - started
        self.local.board[1](resp.nbytes, elapsed // 1000, failed, write_error, resp.code)
        if self.log_requests:
            status = resp.code or (500 if failed else 0)
            buf = self.local.logbuf
            buf.append("%s [INFO]  %s: request: method=%s path=%s status=%d bytes=%d duration=%.2fms pid=%d remote=%s\n" % (
                _timestamp(), NAME, environ.get("REQUEST_METHOD"), _quote(environ.get("REQUEST_URI") or environ.get("PATH_INFO")),
                status, resp.nbytes, elapsed / 1e6, PID, environ.get("REMOTE_ADDR", "-")))
            if len(buf) >= LOG_BATCH:
                self.flush_log()

    def flush_log(self):
        """Writes this thread's request lines. Under load they go out in
        batches (one write for LOG_BATCH requests); a thread flushes before
        it waits for the next connection, so an idle worker's log is current."""
        buf = self.local.logbuf
        if not buf:
            return
        data = "".join(buf).encode("utf-8", "replace")
        buf.clear()
        try:
            os.write(2, data)
        except OSError:
            pass  # a lost log line must not fail a request

    # -- life cycle

    def stop(self):
        self.stopping = True
        os.write(self.wake_w, b"x")

    def listener_died(self, sock, err):
        """The app closed a listening socket (fd 3...) under us: accept fails
        at once, epoll still reports the shared socket, and the thread would
        spin. Stop gracefully and exit non-zero so the master replaces us."""
        if self.listener_gone is not None:
            return
        self.listener_gone = sock.fileno()
        log("ERROR", "the listening socket is gone (closed by the app?); exiting so the master starts a replacement",
            fd=sock.fileno(), error=err)
        self.stopping = True
        os.kill(PID, signal.SIGTERM)


def unquote(path):
    """PEP 3333: PATH_INFO is the percent-decoded path as latin-1 text."""
    if "%" not in path:
        return path
    out = bytearray()
    raw = path.encode("latin-1", "replace")
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x25 and i + 2 < len(raw):
            try:
                out.append(int(raw[i + 1:i + 3], 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(c)
        i += 1
    return out.decode("latin-1")


def watch_lifeline(fd):
    while True:
        try:
            if os.read(fd, 1):
                continue
        except InterruptedError:
            continue
        except OSError:
            pass
        log("WARN", "the master is gone (lifeline closed); exiting")
        os._exit(1)


def module_mtimes():
    """The modification time of every loaded module's source file."""
    out = {}
    for mod in list(sys.modules.values()):
        path = getattr(mod, "__file__", None)
        if not path:
            continue
        if path.endswith((".pyc", ".pyo")):
            path = path[:-1]
        try:
            out[path] = os.stat(path).st_mtime_ns
        except OSError:
            pass
    return out


def autoreload(interval, seen):
    """py-autoreload: when a loaded module's file changes, ask the master
    for a graceful reload (uWSGI reloads the whole instance too)."""
    while True:
        time.sleep(interval)
        for path, mtime in module_mtimes().items():
            old = seen.setdefault(path, mtime)
            if mtime != old:
                log("INFO", "py-autoreload: a module changed; asking the master to reload", file=path)
                notify("%s=%s" % (NOTIFY_RELOAD, path))
                return


def notify(state):
    path = os.environ.get(ENV_NOTIFY_SOCKET, "")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.sendto(state.encode(), path)
    except OSError as e:
        log("WARN", "cannot notify the master", error=e)
    finally:
        s.close()


def main():
    # Signals go to the main thread's sigwait only, never into app code.
    handled = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, handled)
    lifeline = os.environ.get(ENV_LIFELINE_FD)
    if lifeline:
        threading.Thread(target=watch_lifeline, args=(int(lifeline),), daemon=True, name="lifeline").start()
    app, app_name = load_app()
    worker = Worker(app, app_name)
    threads = [threading.Thread(target=worker.serve_thread, args=(core,), daemon=True, name="core-%d" % core)
               for core in range(worker.threads)]
    for t in threads:
        t.start()
    socks = ",".join("%s:%s" % (proto, _sockname(s)) for s, proto in worker.listeners)
    log("INFO", "ready", pid=PID, app=app_name, threads=worker.threads, sockets=socks,
        generation=os.environ.get(ENV_GENERATION, "1"))
    interval = int(os.environ.get(ENV_PY_AUTORELOAD) or 0)
    if interval > 0:
        threading.Thread(target=autoreload, args=(interval, module_mtimes()), daemon=True, name="autoreload").start()
    notify("READY=1")
    while True:
        sig = signal.sigwait(handled)
        if sig == signal.SIGTERM:
            break
        if sig in (signal.SIGINT, signal.SIGQUIT):
            os._exit(0)
    worker.stop()
    for t in threads:
        t.join()
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(EXIT_LISTENER_GONE if worker.listener_gone is not None else 0)


def _sockname(sock):
    try:
        name = sock.getsockname()
    except OSError:
        return "?"
    if isinstance(name, tuple):
        return "%s:%d" % (name[0], name[1])
    if isinstance(name, bytes):
        return "@" + name[1:].decode("latin-1", "replace")
    return name


if __name__ == "__main__":
    main()
