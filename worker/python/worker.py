# supervise's Python WSGI worker: one stdlib-only file, embedded in the
# supervise binary and run by the master as `python3 worker.py`.
#
# It takes the listening sockets, settings and app from the master-worker
# contract (docs/contract.md, ipc/contract.go in Go), serves the uwsgi
# protocol (nginx uwsgi_pass) and HTTP/1.1 (http-socket) with T threads,
# reports readiness on NOTIFY_SOCKET, counts requests in the shared
# scoreboard, and exits when the master's lifeline closes.
import atexit
import email.utils
import errno
import fcntl
import importlib
import json
import importlib.util
import io
import mimetypes
import mmap
import os
import re
from operator import itemgetter
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
ENV_LOG_FORMAT = "SUPERVISE_LOG_FORMAT"
ENV_LOG_STRFTIME = "SUPERVISE_LOG_STRFTIME"
ENV_LOG_ONLY = "SUPERVISE_LOG_ONLY"
ENV_LOG_JSON = "SUPERVISE_LOG_JSON"
ENV_LOG_XFF = "SUPERVISE_LOG_X_FORWARDED_FOR"
ENV_REQ_LOG = "SUPERVISE_REQ_LOG"
REQ_LOG_MARK = "\x1e"
ENV_PY_MODULE = "SUPERVISE_PY_MODULE"
ENV_PY_CALLABLE = "SUPERVISE_PY_CALLABLE"
ENV_PY_WSGI_FILE = "SUPERVISE_PY_WSGI_FILE"
ENV_PY_PYTHONPATH = "SUPERVISE_PY_PYTHONPATH"
ENV_PY_AUTORELOAD = "SUPERVISE_PY_AUTORELOAD"
ENV_PY_FROM_PATH = "SUPERVISE_PY_FROM_PATH"
ENV_MAX_VARS = "SUPERVISE_MAX_VARS"
ENV_NEED_APP = "SUPERVISE_NEED_APP"
NOTIFY_NO_APP = "NOAPP"
ENV_PY_MOUNTS = "SUPERVISE_PY_MOUNTS"
ENV_PY_MANAGE_SCRIPT_NAME = "SUPERVISE_PY_MANAGE_SCRIPT_NAME"
ENV_STATIC = "SUPERVISE_STATIC"
ENV_PY_ASGI = "SUPERVISE_PY_ASGI"
ENV_GEVENT = "SUPERVISE_GEVENT"
ENV_SPOOLER = "SUPERVISE_SPOOLER"
ENV_MULE = "SUPERVISE_MULE"
NOTIFY_RELOAD = "SUPERVISE_RELOAD"
ENV_SCOREBOARD_FD = "SUPERVISE_SCOREBOARD_FD"
ENV_SCOREBOARD_SLOT = "SUPERVISE_SCOREBOARD_SLOT"
FIRST_LISTEN_FD = 3
EXIT_APP_LOAD_FAILED = 22
ENV_ZYGOTE_FD = "SUPERVISE_ZYGOTE_FD"

SB_MAGIC = 0x3145524F43535653
SB_VERSION = 3
HDR_MAGIC, HDR_VERSION, HDR_SLOTS, HDR_CORES, HDR_SLOT_BYTES, HDR_CORE_BYTES = 0, 1, 2, 3, 4, 5
HEADER_WORDS = 8
WK_PID, WK_ACCEPTING, WK_ID = 0, 1, 2
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

# uWSGI's max-vars default (MAX_VARS). uWSGI sizes its iovec array as
# 4 * max-vars and spends two entries (key, value) per var, so it takes
# 2 * max-vars vars in a request (128 by default: nginx with about 110
# client headers); one more and it drops the request. So does this worker.
DEFAULT_MAX_VARS = 64
# The oldest Python this file runs on (time.monotonic_ns and friends).
PYTHON_FLOOR = (3, 7)
# nginx's uwsgi_modifier1 30 (UWSGI_MODIFIER_MANAGE_PATH_INFO): uWSGI
# 2.0.21 with python3 serves it as 0 and leaves PATH_INFO as sent (measured
# side by side: cmd/supervise/prefix_test.go); so does this worker.
MODIFIER_MANAGE_PATH_INFO = 30
LOG_BATCH = 32  # request lines a busy thread collects before one write
LOG_IDLE = 0.05  # seconds a thread holding request lines waits for a connection before it writes them
KEEPALIVE_IDLE = 30.0  # seconds an idle http-socket connection is kept
KEEPALIVE_GRACE = 0.1  # seconds a queued connection is left to a free worker before an idle keep-alive one makes way
KEEPALIVE_GRACE_MS = int(KEEPALIVE_GRACE * 1000)
KEEPALIVE_RECHECK = 1.0  # seconds between looks, while idle on keep-alive, at whether every thread is on a connection

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


LOG_JSON = os.environ.get(ENV_LOG_JSON, "") == "1"  # log-encoder = json
# log-x-forwarded-for: request lines show X-Forwarded-For (the whole
# header, as uWSGI does) instead of REMOTE_ADDR when the request has one.
LOG_ADDR = "HTTP_X_FORWARDED_FOR" if os.environ.get(ENV_LOG_XFF, "") == "1" else "-"
# req-logger: request lines start with REQ_LOG_MARK, which the master
# strips to send them to the request loggers ("" when off: unmarked).
REQ_MARK = REQ_LOG_MARK if os.environ.get(ENV_REQ_LOG, "") == "1" else ""


def json_line(level, msg, kv):
    """One line in hclog's JSON shape (keys sorted, as hclog writes them)."""
    fields = {k: v if isinstance(v, (int, float, bool)) or v is None else str(v) for k, v in kv.items()}
    fields.update({"@timestamp": _timestamp(), "@level": level.lower(), "@module": NAME, "@message": msg})
    return json.dumps(fields, sort_keys=True, ensure_ascii=False) + "\n"


# The JSON request line, keys sorted as json_line writes them; strings go
# through the json module's C string encoder, which quotes and escapes.
_jstr = json.encoder.encode_basestring


def _json_request():
    return ('{"@level": "info", "@message": "request", "@module": ' + _jstr(NAME) +
            ', "@timestamp": "%s", "bytes": %d, "duration_ms": %.2f, "method": %s, "path": %s, "pid": ' +
            str(PID) + ', "remote": %s, "status": %d}\n')


JSON_REQUEST = _json_request()


def refresh_identity():
    """In a worker the zygote forked: this process's id, pid and log name
    (the module was imported in the zygote, as worker 0)."""
    global WORKER_ID, PID, NAME, JSON_REQUEST
    WORKER_ID = os.environ.get(ENV_WORKER_ID, "0")
    PID = os.getpid()
    NAME = "worker." + WORKER_ID
    JSON_REQUEST = _json_request()


def log(level, msg, **kv):
    if LOG_JSON:
        line = json_line(level, msg, kv)
    else:
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
    if LOG_JSON:  # the traceback is a field of the one line
        log("ERROR", msg, traceback=traceback.format_exc().rstrip(), **kv)
        return
    log("ERROR", msg, **kv)
    for line in traceback.format_exc().rstrip().splitlines():
        try:
            os.write(2, ("  " + line + "\n").encode("utf-8", "replace"))
        except OSError:
            pass


# log-format: uWSGI's request line language, compiled once at start into
# one %-format and one tuple of expressions, so a request pays what the
# fixed line costs.

_LF_VARS = {
    # request variables, "-" when empty (uWSGI's empty_var)
    "uri": 'e.get("REQUEST_URI") or "-"', "method": 'e.get("REQUEST_METHOD") or "-"',
    "user": 'e.get("REMOTE_USER") or "-"', "addr": 'e.get(LOG_ADDR) or e.get("REMOTE_ADDR") or "-"',
    "host": 'e.get("HTTP_HOST") or e.get("SERVER_NAME") or "-"', "proto": 'e.get("SERVER_PROTOCOL") or "-"',
    "uagent": 'e.get("HTTP_USER_AGENT") or "-"', "referer": 'e.get("HTTP_REFERER") or "-"',
    # numbers
    "status": "st", "rsize": "r.nbytes - r.hsize", "hsize": "r.hsize", "size": "r.nbytes",
    "cl": '_lf_int(e.get("CONTENT_LENGTH"))',
    "micros": "el // 1000", "msecs": "el // 1000000", "secs": '"%f" % (el / 1e9)',
    "time": "int(t0)", "tmsecs": "int(t0 * 1000)", "tmicros": "int(t0 * 1000000)",
    "epoch": "int(_time())", "ltime": "_ltime(t0)", "ctime": "_ctime(int(t0))", "pid": "PID", "wid": "WORKER_ID", "core": "core", "switches": "1",
    "vars": '_lf_vars(e)[0]', "pktsize": '_lf_vars(e)[1]', "headers": "len(r.headers or ())",
    "werr": "int(we)", "rerr": "0", "ioerr": "int(we)", "modifier1": "0", "modifier2": "0",
    "vsz": "_lf_mem(0)", "rss": "_lf_mem(1)", "vszM": "_lf_mem(0) >> 20", "rssM": "_lf_mem(1) >> 20",
}


def _lf_clock(fmt):
    """strftime(fmt) of a local time, computed once a second."""
    cache = [(-1, "")]

    def at(t):
        sec = int(t)
        hit = cache[0]
        if hit[0] != sec:
            hit = cache[0] = (sec, time.strftime(fmt, time.localtime(sec)))
        return hit[1]
    return at


def _lf_int(v):
    try:
        return int(v or 0)
    except ValueError:
        return 0


def _lf_vars(e):
    """uWSGI's %(vars) (its var_cnt: 2 a variable) and %(pktsize) (the
    vars block's bytes) of the request's variables: environ's CGI keys,
    without the empty SCRIPT_NAME the worker adds."""
    n = size = 0
    for k, v in e.items():
        if k.isupper() and isinstance(v, str) and not (k == "SCRIPT_NAME" and not v):
            n += 1
            size += 4 + len(k) + len(v)
    return 2 * n, size


def _lf_logvar(name):
    """A logvar the app set with uwsgi.set_logvar for this request, or "-"."""
    d = getattr(UWSGI_REQUEST, "logvars", None)
    v = d.get(name) if d else None
    return v.decode("utf-8", "replace") if v else "-"


def _lf_mem(i):
    try:
        with open("/proc/self/statm") as f:
            pages = f.read().split()
        return int(pages[i]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def log_only_rule(spec):
    """With disable-logging: f(status, body bytes, elapsed ns, sendfile,
    ioerror) -> whether the request is logged anyway (uWSGI's log-4xx,
    log-5xx, log-slow, log-big, log-zero, log-sendfile, log-ioerror: any
    one that matches); None when none is set. sendfile: the body went out
    with sendfile; ioerror: the request had both a read and a write error,
    the pair uWSGI's log-ioerror asks for."""
    tests = []
    for part in spec.split(","):
        name, _, val = part.partition("=")
        if name == "4xx":
            tests.append(lambda st, size, el, sf, io: 400 <= st <= 499)
        elif name == "5xx":
            tests.append(lambda st, size, el, sf, io: 500 <= st <= 599)
        elif name == "zero":
            tests.append(lambda st, size, el, sf, io: size == 0)
        elif name == "slow" and val.isdigit():
            tests.append(lambda st, size, el, sf, io, ms=int(val): el // 1000000 >= ms)
        elif name == "big" and val.isdigit():
            tests.append(lambda st, size, el, sf, io, b=int(val): size >= b)
        elif name == "sendfile":
            tests.append(lambda st, size, el, sf, io: sf)
        elif name == "ioerror":
            tests.append(lambda st, size, el, sf, io: io)
    if not tests:
        return None
    return lambda st, size, el, sf=False, io=False: any(t(st, size, el, sf, io) for t in tests)


def parse_log_format(fmt):
    """Splits fmt into (is_variable, text) chunks exactly as uWSGI's
    uwsgi_build_log_format does, quirks included."""
    chunks = []
    state, current, logvar = 0, 0, None
    for i, c in enumerate(fmt):
        if c == "%":
            if state == 0:
                state = 1
        elif c == "(":
            if state == 1:
                state = 2
        elif c == ")":
            if logvar is not None:
                chunks.append((True, fmt[logvar:i]))
                state, logvar, current = 0, None, i + 1
        else:
            if state == 2:
                chunks.append((False, fmt[current:max(current, i - 2)]))
                logvar = i
            state = 0
    if len(fmt) > current:
        chunks.append((False, fmt[current:]))
    return chunks


def compile_log_format(fmt, ftime=""):
    """Returns f(e, r, st, el, core, we) -> the request line for environ e,
    Response r, status st, elapsed ns el, thread core, write error we."""
    out, args = [], []
    for is_var, text in parse_log_format(fmt):
        if not is_var:
            out.append(text.replace("%", "%%"))
            continue
        if text == "ftime":
            expr = "_ftime(t0)" if ftime else _LF_VARS["ltime"]
        elif text.startswith("var."):
            expr = "e.get(%r) or \"-\"" % text[4:]
        elif text.startswith("metric."):
            expr = '"0"'  # no metrics subsystem: uWSGI prints 0 for a metric it does not have
        elif text in _LF_VARS:
            expr = _LF_VARS[text]
        else:  # a logvar (uwsgi.set_logvar)
            expr = "_lf_logvar(%r)" % text
        out.append("%s")
        args.append("(%s)" % expr)
    need_t0 = any("t0" in a for a in args)
    src = "def line(e, r, st, el, core, we):\n"
    if need_t0:
        src += "    t0 = _time() - el / 1e9\n"
    src += "    return %r %% (%s)\n" % ("".join(out) + "\n", "".join(a + ", " for a in args))
    scope = {"_time": time.time, "_ltime": _lf_clock("%d/%b/%Y:%H:%M:%S %z"),
             "_ftime": _lf_clock(ftime or "%c"), "_ctime": time.ctime, "_lf_int": _lf_int, "_lf_vars": _lf_vars, "_lf_logvar": _lf_logvar, "_lf_mem": _lf_mem,
             "PID": PID, "WORKER_ID": WORKER_ID, "LOG_ADDR": LOG_ADDR}
    exec(src, scope)
    return scope["line"]


# ------------------------------------------------------------- scoreboard


def _scoreboard_tables():
    """Scoreboard.core's end() looks up a request's status class and (up
    to 10 ms) its duration bucket instead of computing them: a list index
    is the cheapest Python operation there is. The status is int() of
    three characters (-99..999); negative ones index 901..999, all class
    0. Built once at import, so a zygote's workers share them (the bucket
    list alone is 80 KB) instead of each building its own."""
    class_of = [0] * 1000
    for code in range(100, 600):
        class_of[code] = code // 100
    fast_bucket = []  # [micros] -> bucket, micros <= DURATION_BOUNDS_US[3]
    for i, bound in enumerate(DURATION_BOUNDS_US[:4]):
        fast_bucket.extend([i] * (bound + 1 - len(fast_bucket)))
    return class_of, fast_bucket


_STATUS_CLASS, _FAST_BUCKET = _scoreboard_tables()


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
        w[self.base + WK_ID] = int(WORKER_ID)
        w[self.base + WK_PID] = PID
        self.class_of, self.fast_bucket = _STATUS_CLASS, _FAST_BUCKET

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


# The uwsgi module's per-thread request state (uwsgi_api.py's _request):
# run_app stores the Response and clears the log variables there.
UWSGI_REQUEST = threading.local()


def install_uwsgi_module():
    """Loads uwsgi_api.py (beside this file) as sys.modules["uwsgi"], so
    the app's `import uwsgi` works in a supervised worker only."""
    global UWSGI_REQUEST
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "uwsgi_api.py")
    if not os.path.exists(path):
        return None
    spec = importlib.util.spec_from_file_location("uwsgi", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["uwsgi"] = mod
    spec.loader.exec_module(mod)
    UWSGI_REQUEST = mod._request
    return mod


def run_postfork(mod):
    """uwsgi.post_fork_hook (uwsgidecorators' @postfork chain), once the
    app is imported and before serving, in every worker: uWSGI runs it
    after each fork. A hook that raises is logged; the worker goes on."""
    if mod is None:
        return
    try:
        mod._run_postfork()
    except Exception:
        log_traceback("uwsgi.post_fork_hook raised")


def load_app():
    """The app every request goes to: the configured app (module or
    wsgi-file), the mounted apps chosen by SCRIPT_NAME, and the static files
    served before them. The demo app only when the config names no app."""
    module = os.environ.get(ENV_PY_MODULE, "")
    callable_name = os.environ.get(ENV_PY_CALLABLE, "") or "application"
    wsgi_file = os.environ.get(ENV_PY_WSGI_FILE, "")
    mounts = [line.split("=", 1) for line in os.environ.get(ENV_PY_MOUNTS, "").split("\n") if "=" in line]
    # The app's directory first, as uWSGI does; never our runtime directory.
    script_dir = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != script_dir]
    sys.path.insert(0, os.getcwd())
    extra = [p for p in os.environ.get(ENV_PY_PYTHONPATH, "").split(":") if p]
    sys.path[0:0] = extra
    apps = []  # (mount point, app, description); the first is the default app
    if module or wsgi_file:
        if ":" in module:
            module, callable_name = module.split(":", 1)
        apps.append(("",) + load_one(module, wsgi_file, callable_name))
    for point, target in mounts:
        if target.endswith((".py", ".wsgi")):  # uWSGI's mount loader: a file, else module:callable
            app, what = load_one("", target, callable_name)
        else:
            mod, _, call = target.partition(":")
            app, what = load_one(mod, "", call or callable_name)
        apps.append((point.rstrip("/"), app, "mount %s=%s" % (point, what)))
    if not apps:
        app, name = demo_app, "builtin:demo_app"
    elif len(apps) == 1 and not apps[0][0]:
        app, name = apps[0][1], apps[0][2]
    else:
        app = Mounts(apps, os.environ.get(ENV_PY_MANAGE_SCRIPT_NAME) == "1")
        name = "; ".join(a[2] for a in apps)
    static = os.environ.get(ENV_STATIC, "")
    if static:
        app = Static(static.split("\n"), app)
    return app, name


def load_one(module, wsgi_file, callable_name):
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
        error = "%s: %s" % (type(e).__name__, e)
        log_traceback("cannot load app", app=what, callable=callable_name, error=error)
        if os.environ.get(ENV_PY_FROM_PATH) == "1":
            log("ERROR", "the app was loaded by python3 from PATH; if it needs another interpreter "
                "(a virtualenv), set home (virtualenv) or python-bin",
                python=sys.executable, version="%d.%d.%d" % sys.version_info[:3])
        if os.environ.get(ENV_NEED_APP) == "1":
            sys.stderr.flush()
            os._exit(EXIT_APP_LOAD_FAILED)
        reason = " ".join(("%s (%s)" % (what, error)).split())  # one line: it goes in a notify message
        log("ERROR", "no app loaded: every request gets 500 Internal Server Error until the app loads "
            "(a reload, or need-app to stop instead)", reason=reason)
        return None, reason


def no_app(environ, start_response):
    """The app of a worker whose app failed to load: uWSGI's answer then
    (its uwsgi_500), at once, instead of a client left waiting."""
    start_response("500 Internal Server Error", [("Content-Type", "text/plain"), ("Content-Length", "21"),
                                                  ("Connection", "close")])
    return [b"Internal Server Error"]


class Mounts(object):
    """Several apps in one worker, as uWSGI's mount: with
    manage-script-name the longest mount point that is PATH_INFO or a
    /-bounded prefix of it becomes SCRIPT_NAME and leaves PATH_INFO; then
    the app mounted at SCRIPT_NAME answers, else the first app loaded."""

    def __init__(self, apps, manage_script_name):
        self.by_point = {}
        for point, app, _ in apps:
            self.by_point.setdefault(point, app)
        self.default = apps[0][1]
        self.points = sorted((p for p in self.by_point if p), key=len, reverse=True) if manage_script_name else []

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if len(path) > 1:
            for point in self.points:
                n = len(point)
                if path.startswith(point) and (len(path) == n or path[n] == "/"):
                    environ["SCRIPT_NAME"] = point
                    environ["PATH_INFO"] = path[n:]
                    break
        return self.by_point.get(environ.get("SCRIPT_NAME", ""), self.default)(environ, start_response)


# ----------------------------------------------------------- static files


class Static(object):
    """uWSGI's static-map, static-map2, check-static, static-index,
    static-safe and static-gzip-all: a GET or HEAD for an existing regular
    file is answered here (sendfile through wsgi.file_wrapper, one Range,
    If-Modified-Since); anything else goes to the app. The rules of the
    front end's static-safe: the decoded path may not climb out with "..",
    and a symlink may lead out of its directory only into a static-safe one
    (else 403)."""

    def __init__(self, lines, app):
        self.app = app
        self.maps = []  # (url prefix, directory, whole path appended)
        self.safe, self.index, self.gzip = [], [], False
        self.skip, self.gzip_rules, self.expires = [], [], []
        mimetypes.init()  # once, before the threads share it
        for line in lines:
            option, _, value = line.partition(" ")
            if option in ("static-map", "static-map2"):
                url, _, d = value.partition("=")
                self.maps.append((url.rstrip("/"), os.path.realpath(d), option == "static-map2"))
            elif option == "check-static":
                self.maps.append(("", os.path.realpath(value), True))
            elif option == "static-safe":
                self.safe.append(os.path.realpath(value))
            elif option == "static-index":
                self.index.append(value)
            elif option == "static-gzip-all":
                self.gzip = True
            elif option == "static-skip-ext":
                self.skip.append(value)
            elif option.startswith("static-gzip"):
                self.gzip_rules.append(self.rule(option, value))
            elif option.startswith("static-expires-type"):
                typ, _, n = value.partition("=")
                self.expires.append(("type", typ.strip(), int(n), option.endswith("-mtime")))
            elif option.startswith("static-expires"):
                regex, _, n = value.strip().rpartition(" ")
                on = "uri" if "-uri" in option else "path-info" if "-path-info" in option else "file"
                rule = self.rule(option, regex.strip())
                if rule:
                    self.expires.append((on, rule, int(n), option.endswith("-mtime")))
        self.gzip_rules = [r for r in self.gzip_rules if r]

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if method == "GET" or method == "HEAD":
            path = environ.get("PATH_INFO", "")
            for url, root, whole in self.maps:
                if url and not (path.startswith(url) and (len(path) == len(url) or path[len(url)] == "/")):
                    continue
                rel = path if whole else path[len(url):]
                parts = [p for p in rel.split("/") if p and p != "."]
                if ".." in parts or "\0" in rel:
                    start_response("403 Forbidden", [("Content-Type", "text/plain"), ("Content-Length", "10")])
                    log("WARN", "static file request climbing out of its directory refused; 403", path=path, dir=root)
                    return [b"Forbidden\n"]
                found = self.find(os.path.join(root, *parts) if parts else root)
                if found is None:
                    continue
                real = os.path.realpath(found)
                if not any(real == d or real.startswith(d.rstrip("/") + "/") for d in [root] + self.safe):
                    log("WARN", "static file outside its static-map directory refused; 403", path=path, dir=root,
                        target=real)
                    start_response("403 Forbidden", [("Content-Type", "text/plain"), ("Content-Length", "10")])
                    return [b"Forbidden\n"]
                return self.serve(found, environ, start_response)
        return self.app(environ, start_response)

    @staticmethod
    def rule(option, value):
        """A test on a file name: -dir/-prefix and -ext/-suffix options
        compare text, the others are regular expressions (searched, as
        uWSGI's PCRE does). A bad regex is logged and left out."""
        if option.endswith(("-dir", "-prefix")):
            return lambda name: name.startswith(value)
        if option.endswith(("-ext", "-suffix")):
            return lambda name: name.endswith(value)
        try:
            return re.compile(value).search
        except re.error as e:
            log("WARN", "static: a regex Python cannot read; rule left out", option=option, regex=value, error=e)
            return None

    def expires_at(self, name, ctype, environ):
        """static-expires*: the first rule that matches gives a function of
        the file's mtime to the Expires time (now or mtime, + seconds)."""
        for on, test, seconds, from_mtime in self.expires:
            if on == "type":
                hit = test == ctype
            else:
                hit = test(name if on == "file" else environ.get("REQUEST_URI" if on == "uri" else "PATH_INFO", ""))
            if hit:
                if from_mtime:
                    return lambda mtime: int(mtime) + seconds
                return lambda mtime: int(time.time()) + seconds
        return None

    def find(self, name):
        if self.skip and name.endswith(tuple(self.skip)):
            return None
        try:
            st = os.stat(name)
        except (OSError, ValueError):
            return None
        if stat_isdir(st.st_mode):
            for index in self.index:
                candidate = os.path.join(name, index)
                if os.path.isfile(candidate):
                    return candidate
            return None
        return name if stat_isreg(st.st_mode) else None

    def serve(self, name, environ, start_response):
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        headers = []
        if ((self.gzip or any(r(name) for r in self.gzip_rules)) and "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
                and os.path.isfile(name + ".gz")):
            name += ".gz"
            headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        expires = self.expires_at(name, ctype, environ)  # on the file sent (FILE.gz), as uWSGI
        try:
            f = open(name, "rb")
        except OSError:
            return self.app(environ, start_response)
        st = os.fstat(f.fileno())
        size = st.st_size
        last_modified = email.utils.formatdate(int(st.st_mtime), usegmt=True)
        if expires is not None:
            headers.append(("Expires", email.utils.formatdate(expires(st.st_mtime), usegmt=True)))
        headers += [("Content-Type", ctype), ("Last-Modified", last_modified), ("Accept-Ranges", "bytes")]
        since = environ.get("HTTP_IF_MODIFIED_SINCE")
        if since and "HTTP_RANGE" not in environ:
            try:
                if int(st.st_mtime) <= email.utils.parsedate_to_datetime(since).timestamp():
                    f.close()
                    start_response("304 Not Modified", headers[:-2])
                    return []
            except (TypeError, ValueError, IndexError, OverflowError):
                pass
        start, count, status = 0, size, "200 OK"
        spec = environ.get("HTTP_RANGE", "")
        if spec.startswith("bytes=") and "," not in spec:
            first, _, last = spec[6:].strip().partition("-")
            try:
                if first:
                    start = int(first)
                    end = min(int(last), size - 1) if last else size - 1
                else:
                    start, end = max(size - int(last), 0), size - 1
                if start > end or start >= size:
                    raise IndexError
                count, status = end - start + 1, "206 Partial Content"
                headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, size)))
            except ValueError:
                start, count = 0, size  # not a range we read: the whole file, as RFC 9110 allows
            except IndexError:
                f.close()
                start_response("416 Range Not Satisfiable", [("Content-Range", "bytes */%d" % size),
                                                             ("Content-Length", "0")])
                return []
        headers.append(("Content-Length", str(count)))
        start_response(status, headers)
        return StaticFile(f, start, count)


def stat_isdir(mode):
    return (mode & 0o170000) == 0o040000


def stat_isreg(mode):
    return (mode & 0o170000) == 0o100000


# --------------------------------------------------------- request bodies

# A request head as RFC 9112 section 5 allows it: a request line, then
# header lines "token:value", every line ending in CRLF; no control
# character but tab anywhere (so no NUL, bare CR or bare LF), no space
# before the colon, no obs-fold continuation line. One match per request.
_REQUEST_HEAD_OK = re.compile(rb"[^\x00-\x1f\x7f]+\r\n(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r\n)*").fullmatch
_BARE_LF = re.compile(rb"(?<!\r)\n").search


class Input(object):
    """wsgi.input: reads at most `length` bytes of body from the socket,
    starting with what already arrived with the request head."""

    read_error = False  # a recv failed or the client closed mid-body (log-ioerror)

    def __init__(self, conn, prefix, length):
        self.conn = conn
        self.buf = bytes(prefix[:length])
        self.left = length - len(self.buf)  # still on the socket

    def _recv(self, n):
        try:
            chunk = self.conn.recv(n)
        except OSError:
            self.read_error = True
            raise
        if not chunk:
            self.read_error = True
            raise IOError("client closed the connection with %d body bytes missing" % self.left)
        return chunk

    def _fill(self, want):
        if self.left <= 0:
            return False
        chunk = self._recv(min(max(want, 65536), self.left))
        self.left -= len(chunk)
        self.buf += chunk
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            parts = [self.buf]
            self.buf = b""
            while self.left > 0:
                chunk = self._recv(min(self.left, 1 << 20))
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


class FramingError(ValueError):
    """A request whose framing is faulty (RFC 9112 sections 6 and 7): it is
    answered with 400 (501 for a transfer-coding we do not know) and the
    connection closed, so nothing after it can be taken for a request."""

    def __init__(self, msg, status="400 Bad Request"):
        ValueError.__init__(self, msg)
        self.status = status


_CHUNK_SIZE = re.compile(rb"([0-9a-fA-F]{1,15})(?:[ \t]*;[^\r\n]*)?").fullmatch
# A trailer field (RFC 9112 7.1.2): a token, a colon, a field value. A
# bare CR or LF, a NUL or a line without a colon is refused: a parser
# that took it as a field could end the body where another would not.
_TRAILER_LINE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*").fullmatch
CHUNK_LINE_MAX = 4096  # a chunk size line or trailer field, however it arrives
CHUNKED_IN_MEMORY = 1 << 20  # a larger chunked body goes to a temp file


def read_chunked(conn, raw, limit):
    """Reads a whole chunked body before the app runs, as the front end
    does, so a body with bad framing is refused before any of it reaches
    the app. Returns (file-like body, its length, the bytes after it)."""
    parts, total, spool = [], 0, None
    pos = 0

    def line():
        nonlocal raw, pos
        while True:
            i = raw.find(b"\r\n", pos)
            if i - pos > CHUNK_LINE_MAX or (i < 0 and len(raw) - pos > CHUNK_LINE_MAX):
                raise FramingError("chunk size line or trailer too long")
            if i >= 0:
                out, pos = raw[pos:i], i + 2
                return out
            more = conn.recv(65536)
            if not more:
                raise FramingError("client closed the connection inside a chunked body")
            raw, pos = raw[pos:] + more, 0

    def data(n):
        nonlocal raw, pos
        while len(raw) - pos < n:
            more = conn.recv(max(65536, n - (len(raw) - pos)))
            if not more:
                raise FramingError("client closed the connection inside a chunked body")
            raw, pos = raw[pos:] + more, 0
        out, pos = raw[pos:pos + n], pos + n
        return out

    while True:
        m = _CHUNK_SIZE(line())
        if m is None:
            raise FramingError("bad chunk size line")
        size = int(m.group(1), 16)
        if size == 0:
            while True:  # trailer fields, up to the empty line
                field = line()
                if not field:
                    break
                if _TRAILER_LINE(field) is None:
                    raise FramingError("bad trailer field")
            break
        total += size
        if total > limit:
            raise FramingError("chunked body larger than %d bytes" % limit)
        chunk = data(size)
        if data(2) != b"\r\n":
            raise FramingError("chunk data not followed by CRLF")
        if spool is None and total > CHUNKED_IN_MEMORY:
            import tempfile
            spool = tempfile.TemporaryFile()
            spool.writelines(parts)
            parts = None
        if spool is None:
            parts.append(chunk)
        else:
            spool.write(chunk)
    if spool is None:
        body = io.BytesIO(b"".join(parts))
    else:
        spool.seek(0)
        body = spool
    return body, total, raw[pos:]


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


class StaticFile(FileWrapper):
    """A static file's bytes [offset, offset+count): sendfile when the
    response allows it, else read in blocks."""

    def __init__(self, f, offset, count):
        FileWrapper.__init__(self, f, 65536)
        self.offset, self.count = offset, count
        f.seek(offset)

    def __next__(self):
        if self.count <= 0:
            raise StopIteration
        data = self.filelike.read(min(self.blksize, self.count))
        if not data:
            raise StopIteration
        self.count -= len(data)
        return data


# os.preadv with RWF_NOWAIT reads a socket without blocking (MSG_DONTWAIT)
# whatever its mode: Linux 4.14 and later, Python 3.7 and later.
_preadv = getattr(os, "preadv", None)
_RWF_NOWAIT = getattr(os, "RWF_NOWAIT", 0)


class FdConn(object):
    """A uwsgi-protocol connection as its bare file descriptor (os.read,
    os.write): no socket object to build and tear down per request, and no
    system call that the request does not need. One per thread, reused.

    socket-timeout without setsockopt per request: the first read of a
    request does not block (nginx has sent the request before the worker
    accepts it, under load); only when nothing is there yet does it poll,
    for up to socket-timeout. The send timeout (SO_SNDTIMEO) is set only
    once a response has written `limit` bytes, since a write that fits in
    the socket's send buffer never blocks. With limit -1 the socket already
    has both timeouts (inherited from a TCP listener) or there are none."""

    __slots__ = ("fd", "sent", "limit", "wait", "timeout_ms", "timeout", "buf", "view")
    nowait = bool(_preadv and _RWF_NOWAIT)  # cleared for the process if the kernel refuses it
    BUF = 65536  # bytes of the thread's read buffer: what one read takes at most

    def __init__(self, timeout_ms, timeout):
        self.timeout_ms, self.timeout = timeout_ms, timeout
        self.fd, self.sent, self.limit, self.wait = -1, 0, -1, False
        self.buf = bytearray(self.BUF)
        self.view = memoryview(self.buf)

    def recv(self, n):
        """Up to n bytes (a bytearray; b"" at the end of the stream)."""
        if self.wait:
            if FdConn.nowait:
                buf = self.buf  # read into the thread's buffer: no allocation but the result
                try:
                    got = _preadv(self.fd, (buf if n >= self.BUF else self.view[:n],), -1, _RWF_NOWAIT)
                except BlockingIOError:
                    pass
                except OSError as e:
                    if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ESPIPE, errno.ENOSYS):
                        raise
                    FdConn.nowait = False
                else:
                    return buf[:got]
            p = select.poll()
            p.register(self.fd, select.POLLIN)
            if not p.poll(self.timeout_ms):
                raise BlockingIOError(errno.EAGAIN, "socket-timeout")
        return os.read(self.fd, n)

    def sendall(self, data):
        if self.limit >= 0:
            self.sent += len(data)
            if self.sent > self.limit:
                self.limit = -1
                self._sock_call("setsockopt", socket.SOL_SOCKET, socket.SO_SNDTIMEO, self.timeout)
        n = os.write(self.fd, data)
        if n < len(data):
            view = memoryview(data)
            while n < len(view):
                n += os.write(self.fd, view[n:])

    def sendfile(self, f, offset=0, count=None):
        if self.limit >= 0:
            self.limit = -1
            self._sock_call("setsockopt", socket.SOL_SOCKET, socket.SO_SNDTIMEO, self.timeout)
        return self._sock_call("sendfile", f, offset, count)

    def shutdown(self, how):
        self._sock_call("shutdown", how)

    def fileno(self):
        return self.fd

    def _sock_call(self, name, *args):
        """A socket method on the fd, for the rare calls os has none for."""
        s = socket.socket(fileno=self.fd)
        try:
            return getattr(s, name)(*args)
        finally:
            s.detach()


# --------------------------------------------------------------- responses

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
# The control characters, all but tab: in a response head only the CR LF
# that end its lines may be among them.
_CTLS = bytes(range(0, 9)) + bytes(range(10, 32)) + b"\x7f"
_FIELD_VALUE_OK = re.compile(r"[\t\x20-\x7e\x80-\xff]*").fullmatch


class HeaderError(ValueError):
    """A response status or header the server must not send (it would
    split the response: CR or LF from the app, say)."""


def _bad_header(status, headers):
    """Which part of a refused response head is at fault."""
    if not isinstance(status, str) or not _FIELD_VALUE_OK(status) or "\t" in status:
        return "status %r" % (status,)
    for k, v in headers:
        if not isinstance(k, str) or not re.fullmatch(_TOKEN, k):
            return "header name %r" % (k,)
        if not isinstance(v, str) or not _FIELD_VALUE_OK(v):
            return "header %s value %r" % (k, v)
    return "head"


class Response(object):
    """start_response and the body writer for one request."""

    __slots__ = ("conn", "proto", "status", "headers", "sent", "nbytes", "chunked",
                 "keepalive", "head_only", "code", "hsize")

    # keepalive: True or False on http-socket, None over uwsgi, where the
    # connection's end ends the response and, as in uWSGI, the head says
    # nothing about it (nginx drops a Connection header anyway).
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
        self.code = 0
        self.hsize = 0  # the status line and headers' bytes, for log-format

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response called twice without exc_info")
        if not isinstance(status, str) or status[3:4] != " ":  # at least "NNN " (uWSGI's check)
            raise ValueError("bad status %r" % (status,))
        self.status = status
        self.headers = headers
        return self.write

    def _head(self, first_chunk_len, final):
        status = self.status
        if status is None:
            raise AssertionError("the app returned a body before calling start_response")
        self.code = code = int(status[:3])
        lines = ["%s %s\r\n" % (self.proto, status)]
        has_length = said_close = False
        for k, v in self.headers:
            lk = k.lower()
            if lk == "content-length":
                has_length = True
            elif lk == "connection" and v.lower() == "close":
                self.keepalive = False
                said_close = True
            lines.append("%s: %s\r\n" % (k, v))
        if self.keepalive:
            bodyless = self.head_only or code in (204, 304) or code < 200
            if not has_length and not bodyless:
                if final:
                    lines.append("Content-Length: %d\r\n" % first_chunk_len)
                elif self.proto == "HTTP/1.1":
                    self.chunked = True
                    lines.append("Transfer-Encoding: chunked\r\n")
                else:
                    self.keepalive = False
        if self.keepalive is False and not said_close:
            lines.append("Connection: close\r\n")
        lines.append("\r\n")
        return self._checked("".join(lines), len(lines))

    def plain_head(self):
        """The head as _head makes it over uwsgi (keepalive None: the app's
        headers as they are), in fewer steps; None, having set code and
        nothing else, unless the headers are a list of pairs of str: _head
        then makes of them what it always did. (A C-level join of
        map(str.__mod__) and a type check by set(map(type, ...)) measured
        5,800 instructions a request dearer than this loop, callgrind.)"""
        status = self.status
        self.code = int(status[:3])
        headers = self.headers
        if headers.__class__ is not list:  # read once: a generator gone through here would be empty for _head
            return None
        if len(headers) == 2:
            # Two headers (Flask's Content-Type and Content-Length): the
            # loop below in one format, with its checks in its order.
            h, h2 = headers
            k, v = h
            if k.__class__ is not str or v.__class__ is not str:
                return None
            k2, v2 = h2
            if k2.__class__ is not str or v2.__class__ is not str:
                return None
            return self._checked("%s %s\r\n%s: %s\r\n%s: %s\r\n\r\n" % (self.proto, status, k, v, k2, v2), 4)
        lines = ["%s %s\r\n" % (self.proto, status)]
        for k, v in headers:
            if k.__class__ is not str or v.__class__ is not str:
                return None
            lines.append("%s: %s\r\n" % (k, v))
        lines.append("\r\n")
        return self._checked("".join(lines), len(lines))

    def _checked(self, text, lines):
        """The head text of that many lines, each ending in one CR LF, as
        bytes; HeaderError for any other control character."""
        head = text.encode("latin-1")
        # Response splitting: the only control characters are the CR LF that
        # end the lines we wrote (each of them ends in exactly one). One pass
        # in C, half the instructions of a regex match or two counts.
        if len(head.translate(None, _CTLS)) != len(head) - 2 * lines:
            raise HeaderError("the app's %s has a control character (CR, LF, NUL...); "
                              "sending it could split the response" % _bad_header(self.status, self.headers))
        self.hsize = len(head)
        return head

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
        if isinstance(wrapper, StaticFile):
            self.nbytes += self.conn.sendfile(f, wrapper.offset, wrapper.count) if wrapper.count else 0
        else:
            self.nbytes += self.conn.sendfile(f)
        return True


# ------------------------------------------------------------- the server


class Worker(object):
    def __init__(self, app, app_name):
        self.app = app
        self.app_name = app_name
        env = os.environ
        self.threads = configured_threads()
        self.on_conn = [False] * self.threads  # per thread: serving a connection (one writer each)
        self.buffer_size = int(env.get(ENV_BUFFER_SIZE, "4096"))
        self.max_pairs = 2 * max(1, int(env.get(ENV_MAX_VARS) or DEFAULT_MAX_VARS))
        self.log_requests = env.get(ENV_DISABLE_LOGGING, "") != "1"
        # socket-timeout: SO_RCVTIMEO/SO_SNDTIMEO on each connection, so a
        # silent client fails a recv (EAGAIN) instead of holding the thread;
        # no extra syscall per read, unlike a Python-level timeout.
        ms = int(env.get(ENV_SOCKET_TIMEOUT_MS) or DEFAULT_SOCKET_TIMEOUT_MS)
        self.socket_timeout = struct.pack("ll", ms // 1000, (ms % 1000) * 1000) if ms > 0 else None
        self.socket_timeout_ms = ms
        self.listener_gone = None  # the fd of a listening socket found closed under us
        self.inherited = {}  # listening socket -> its connections come with the socket-timeout set
        self.send_unbounded = 65536  # response bytes written before the send timeout must be set
        self.log_format = None
        self.log_only = None if self.log_requests else log_only_rule(env.get(ENV_LOG_ONLY, ""))
        if env.get(ENV_LOG_FORMAT):
            self.log_format = compile_log_format(env[ENV_LOG_FORMAT], env.get(ENV_LOG_STRFTIME, ""))
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
        }
        self.base_environ = base
        # The uwsgi vars block's layouts by block size (see uwsgi_environ).
        self.layouts = {}
        self.layout_hits = self.layout_builds = 0

    # -- accepting

    def serve_thread(self, core, hooks=None):
        """Serves core until stop(). hooks: fd -> callable, more fds the
        loop watches, each callable run when its fd is readable (a
        one-thread worker's signals and lifeline: serve_alone)."""
        hooks = hooks or {}
        self.local.board = self.board.core(core)
        self.local.logbuf = []
        ep = select.epoll()
        by_fd = {}
        exclusive = getattr(select, "EPOLLEXCLUSIVE", 0)
        for sock, proto in self.listeners:
            ep.register(sock.fileno(), select.EPOLLIN | exclusive)
            by_fd[sock.fileno()] = (sock, proto)
        ep.register(self.wake_r, select.EPOLLIN)
        for fd in hooks:
            ep.register(fd, select.EPOLLIN)
        try:
            buf = self.local.logbuf
            while not self.stopping:
                # Request lines wait for the next connection that comes
                # within LOG_IDLE: behind nginx the queue empties every
                # request or two, and a write per emptying (a GIL hand-off
                # when the other thread waits) cost ~0.5 writes a request.
                try:
                    events = ep.poll(LOG_IDLE if buf else -1)
                except InterruptedError:
                    continue
                if not events:
                    self.flush_log()
                    continue
                for fd, _ in events:
                    if fd == self.wake_r:
                        continue
                    if fd in hooks:
                        hooks[fd]()
                        continue
                    # One accept a wake-up; a connection still queued makes
                    # the next poll return at once. Accepting until the
                    # queue was empty ended every batch in a failing accept
                    # (behind nginx 0.45 a request), which costs more than
                    # the poll it saves (see accept_one). A wake-up is
                    # served even while stopping: with EPOLLEXCLUSIVE no
                    # other worker was woken for it.
                    self.accept_one(by_fd[fd], core)
        finally:
            self.flush_log()
            ep.close()

    def accept_one(self, listener, core):
        """Accepts and serves one connection of listener; False when there
        was none. A failing accept is the dearest call on the path: the
        kernel allocates and frees a socket for it, and Python raises and
        catches a BlockingIOError (4.9 us against 1.9 for an epoll_wait
        that returns at once, on the 2-core VM of docs/benchmarks.md)."""
        sock, proto = listener
        try:
            fd, addr = sock._accept()  # the bare fd: no socket object, no getsockname
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
        conn = None
        try:
            inherits = self.inherited.get(sock)
            if inherits is None:
                inherits = self.timeouts_inherited(sock, fd)
            if proto == "http":
                conn = socket.socket(sock.family, sock.type, sock.proto, fd)
                if self.socket_timeout and not inherits:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, self.socket_timeout)
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, self.socket_timeout)
                self.serve_http(conn, addr, core, sock)
            else:
                self.serve_uwsgi(fd, core, inherits)
        except (BlockingIOError, socket.timeout):
            self.timed_out()
        except Exception:
            log_traceback("connection failed")
        finally:
            self.end_conn(core, conn, fd)
        return True

    def timed_out(self):
        """socket-timeout: the client sent nothing (or took nothing) for
        that long. uWSGI counts it as a read error too."""
        log("WARN", "socket-timeout: no data from the client for %d ms; connection closed" % self.socket_timeout_ms)
        self.local.board[2]()

    def end_conn(self, core, conn, fd):
        """Closes a connection core served: its socket object, or the bare
        fd when the uwsgi path never made one."""
        self.on_conn[core] = False
        if conn is not None:
            conn.close()
        else:
            try:
                os.close(fd)
            except OSError:
                pass

    def timeouts_inherited(self, listener, fd):
        """Whether connections accepted on listener come with its
        socket-timeout (SO_RCVTIMEO/SO_SNDTIMEO) already: Linux copies them
        from a TCP listener, not from a unix one. Found out once per
        listener, on its first connection; then no setsockopt per request."""
        known = False
        if self.socket_timeout:
            try:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, self.socket_timeout)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, self.socket_timeout)
                probe = socket.socket(fileno=fd)
                try:
                    n = len(self.socket_timeout)
                    known = (probe.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, n) == self.socket_timeout and
                             probe.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, n) == self.socket_timeout)
                    # Without the send timeout on every connection, set it
                    # only before a response could fill the send buffer.
                    self.send_unbounded = max(4096, probe.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 4)
                finally:
                    probe.detach()
            except OSError:
                known = False
        self.inherited[listener] = known
        return known

    # -- uwsgi protocol

    def serve_uwsgi(self, fd, core, inherits):
        try:
            conn = self.local.fdconn
        except AttributeError:
            conn = self.local.fdconn = FdConn(self.socket_timeout_ms, self.socket_timeout)
        conn.fd, conn.sent = fd, 0
        # With the timeouts inherited the socket needs no more; else the
        # send timeout is set once a response outgrows the send buffer, and
        # the first read does not wait (RWF_NOWAIT), so only a client that
        # has not sent its request yet costs a poll (with socket-timeout).
        conn.limit = -1 if inherits or not self.socket_timeout else self.send_unbounded
        conn.wait = not inherits and self.socket_timeout is not None
        self.serve_uwsgi_conn(conn, core)

    def serve_uwsgi_conn(self, conn, core):
        """One uwsgi request on conn: an FdConn, or any object with a
        socket's recv, sendall, sendfile and shutdown (gevent_loop.py's
        gevent sockets).

        The common request in as few steps as it takes (bench/opcount.py
        counts its bytecodes): a vars block whole in the first read, of a
        layout the worker knows (see uwsgi_environ), gets its environ here
        with no call; anything else goes through read_uwsgi_vars (more
        reads, the checks, the parse), with its messages and counts. The
        app's response is run_app's (Response.plain_head over uwsgi)."""
        data = conn.recv(FdConn.BUF)  # the vars block and, often, the body
        n = len(data)
        env = None
        if n > 3 and (not data[0] or data[0] == MODIFIER_MANAGE_PATH_INFO):
            end = (data[1] | data[2] << 8) + 4
            lay = self.layouts.get(end)
            # A layout is only built for a block of an accepted size, so a
            # hit needs no size check.
            if lay is not None and n >= end and lay[0](data) == lay[1]:
                self.layout_hits += 1
                env = lay[2].copy()
                env.update(zip(lay[3], lay[4]((data if n == end else data[:end]).decode("latin-1"))))
        if env is None:
            got = self.read_uwsgi_vars(conn, data)
            if got is None:
                return
            data, end, env = got
        length = env.get("CONTENT_LENGTH")
        if length:
            try:
                length = max(int(length), 0)
            except ValueError:
                length = 0
        if length:
            body = env["wsgi.input"] = Input(conn, data[end:], length)
        else:  # no body (most requests): nothing to read or drain
            env["wsgi.input"] = io.BytesIO()
        if env.get("REQUEST_SCHEME") == "https" or ("HTTPS" in env and env["HTTPS"].lower() in ("on", "1")):
            env["wsgi.url_scheme"] = "https"
        else:
            env["wsgi.url_scheme"] = "http"
        started = self.local.board[0](VARS_UWSGI, memoryview(data)[4:end])
        self.run_app(env, Response(conn, env.get("SERVER_PROTOCOL") or "HTTP/1.0", None), core, started)
        if length:
            body.drain()

    def read_uwsgi_vars(self, conn, data):
        """The general path's vars block, from the first read's data:
        (data, end, environ), data holding at least the block; None when
        the connection is to be closed (said and counted here)."""
        while 0 < len(data) < 4:
            more = conn.recv(4096)
            if not more:
                return None
            data += more
        if not data:
            return None
        size = data[1] | (data[2] << 8)
        if size > self.buffer_size:
            log("WARN", "invalid request block size: %d (max %d)... skip" % (size, self.buffer_size))
            self.local.board[2]()
            return None
        if data[0] != 0 and data[0] != MODIFIER_MANAGE_PATH_INFO:
            log("WARN", "unsupported uwsgi modifier1 %d (only 0, WSGI, and 30 are served); connection closed" % data[0])
            return None
        end = 4 + size
        while len(data) < end:
            more = conn.recv(end - len(data) + 65536)
            if not more:
                self.local.board[2]()
                return None
            data += more
        environ = self.uwsgi_environ(data, end)
        if not environ:
            if environ is None:
                log("WARN", "malformed uwsgi vars block; connection closed")
            elif environ is False:
                log("WARN", "more than %d vars in a uwsgi request (max-vars = %d allows 2 x max-vars, as uWSGI); "
                    "connection closed: raise max-vars" % (self.max_pairs, self.max_pairs // 2))
            else:  # uWSGI: "Empty python request. skip."
                log("WARN", "empty uwsgi vars block; request skipped, connection closed")
            self.local.board[2]()
            return None
        return data, end, environ

    LAYOUTS = 64  # block sizes remembered per worker; all forgotten when one more comes
    LAYOUT_FREE_BUILDS = 64  # layouts built before builds have to be paid for by hits (8 each)

    def uwsgi_environ(self, data, end):
        """The request's environ from the vars block data[4:end] (data holds
        at least end bytes): parse_uwsgi_vars's vars (None, False or {} as
        it says) without HTTP_CONTENT_TYPE and HTTP_CONTENT_LENGTH (PEP
        3333: the body's type and length live in CONTENT_*; nginx's
        uwsgi_params sends both), with base_environ over them and SCRIPT_NAME
        "" unless the vars have one (nginx's uwsgi_param SCRIPT_NAME is kept).

        nginx sends the same keys in the same order every request, and
        mostly values of the same lengths, so the block has the same layout
        (offsets) from one request to the next. A layout remembered by the
        block's size turns the parse into three C calls: a struct unpack of
        every pair's length fields and key (checked equal to the layout's:
        then a pair-by-pair parse of this block would walk the same offsets
        and find the same keys, so it gives what the layout gives), one
        itemgetter of the value slices from the latin-1 text, and a copy of
        the environ template updated with them. A 14-var request costs
        ~18,000 instructions this way instead of ~53,000. Values are always
        sliced from this request's bytes: nothing is remembered but lengths
        and keys. Bounded: LAYOUTS sizes (forgotten all at once when one
        more comes), and after LAYOUT_FREE_BUILDS each new layout has to be
        paid for by 8 hits, so traffic whose layouts never repeat costs the
        plain parse plus one dict lookup.

        The hit is checked in serve_uwsgi_conn, inline (it is most
        requests); this is the parse, for a block no layout matched or one
        that took more than one read."""
        env = self.parse_uwsgi_vars(data, end, self.max_pairs)
        if not env:
            return env
        if self.layout_builds * 8 <= self.layout_hits + 8 * self.LAYOUT_FREE_BUILDS:
            self.layout_builds += 1
            layouts = self.layouts
            if len(layouts) >= self.LAYOUTS and end not in layouts:
                layouts = self.layouts = {}
            layouts[end] = self.vars_layout(data, end)
        env.pop("HTTP_CONTENT_TYPE", None)
        env.pop("HTTP_CONTENT_LENGTH", None)
        env.update(self.base_environ)
        if "SCRIPT_NAME" not in env:
            env["SCRIPT_NAME"] = ""
        return env

    def vars_layout(self, data, end):
        """The layout of a well-formed vars block (parse_uwsgi_vars took
        it), for uwsgi_environ: (check, expected, template, keys, values)."""
        fmt, expect, keys, spans = ["<4x"], [], [], []
        pos = 4
        while pos < end:
            k = pos + 2 + (data[pos] | data[pos + 1] << 8)
            v = k + 2 + (data[k] | data[k + 1] << 8)
            fmt.append("%ds%dx" % (k + 2 - pos, v - k - 2))
            expect.append(bytes(data[pos:k + 2]))
            key = bytes(data[pos + 2:k]).decode("latin-1")
            if key not in self.base_environ and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                keys.append(key)
                spans.append(slice(k + 2, v))
            pos = v
        template = dict.fromkeys(keys, "")
        template.update(self.base_environ)
        template.setdefault("SCRIPT_NAME", "")
        values = itemgetter(*spans) if len(spans) > 1 else (lambda text, s=tuple(spans): tuple(text[x] for x in s))
        return struct.Struct("".join(fmt)).unpack_from, tuple(expect), template, tuple(keys), values

    @staticmethod
    def parse_uwsgi_vars(data, end, max_pairs):
        """The vars as a dict; None when the block is malformed, False when
        it holds more than max_pairs vars (an empty block is an empty dict).
        Lengths come from the bytes, text is sliced from one latin-1
        decode of the block; the checks run once, after the loop."""
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
        if pos != end or "" in env:
            return None
        if len(env) > max_pairs:
            return False
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
        served = False
        while True:
            # Idle between requests: wake for data or a stop. A connection
            # just accepted is never idle: its request is on the way, so it
            # is answered even while stopping (closing it would fail a
            # request that the kernel handed to this worker). A client's
            # next request mostly comes within the grace: one poll, as
            # ever; keepalive_wait takes longer waits.
            if served and not pending:
                self.flush_log()
                ready = poller.poll(KEEPALIVE_GRACE_MS) or self.keepalive_wait(poller, conn, core)
                if not ready or any(fd == self.wake_r for fd, _ in ready):
                    return
            head, pending = self.read_head(conn, pending)
            if head is None:
                return
            if head is False:
                self.simple_response(conn, "431 Request Header Fields Too Large")
                return
            keep, pending = self.http_request(conn, head, pending, server, remote, core, listener)
            served = True
            if not keep or self.stopping:
                return

    def keepalive_wait(self, poller, conn, core):
        """Waits on a keep-alive connection idle for KEEPALIVE_GRACE already
        (poller: it and the wake pipe) for its next request: what poll
        returned for the connection or the wake pipe, or [] to close it:
        KEEPALIVE_IDLE passed, or it makes way for a queued connection.

        Making way: while every thread is on a connection, the listening
        sockets are watched too. When one is readable, a connection waits
        that this worker cannot take; it is left KEEPALIVE_GRACE to a worker
        with a free thread, and if it still waits then, this idle
        connection is closed (HTTP/1.1 lets a server close an idle
        connection; the client sends its next request on a new one) and the
        thread goes back to accept. So a keep-alive client holds a thread
        between its requests only while nobody else needs it (gunicorn's
        gthread worker puts idle connections back beside the listener;
        uWSGI's http-socket closes after every response). While a thread is
        free, whether every thread is busy is looked at again every
        KEEPALIVE_RECHECK. Each look at a readable listener costs a grace,
        so the wait never spins however busy the listener (under load it is
        readable nearly all the time). The first thread to make way marks
        itself free, so one queued connection closes one idle connection in
        this worker, not all of them. Requests that come within the grace
        never get here: they cost what they did."""
        end = time.monotonic() + KEEPALIVE_IDLE - KEEPALIVE_GRACE
        watch = None
        mine = (conn.fileno(), self.wake_r)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return []
            if not all(self.on_conn):
                ready = poller.poll(min(left, KEEPALIVE_RECHECK) * 1000)
                if ready:
                    return ready
                continue
            if watch is None:
                watch = select.poll()
                for fd in mine:
                    watch.register(fd, select.POLLIN)
                for sock, _ in self.listeners:
                    watch.register(sock.fileno(), select.POLLIN)
            ready = watch.poll(left * 1000)
            if not ready:
                return []
            ours = [e for e in ready if e[0] in mine]
            if ours:
                return ours
            # A connection waits: a free worker's for KEEPALIVE_GRACE.
            ready = poller.poll(min(left, KEEPALIVE_GRACE) * 1000)
            if ready:
                return ready
            if all(self.on_conn) and self.queued():
                self.on_conn[core] = False  # the other idle threads keep theirs (end_conn clears it again)
                return []

    def queued(self, socks=None):
        """Whether a connection waits in the listen queue of one of socks
        (default: every listener of this worker)."""
        try:
            return bool(select.select(socks or [sock for sock, _ in self.listeners], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    def read_head(self, conn, pending):
        limit = max(self.buffer_size, 8192)
        while True:
            i = pending.find(b"\r\n\r\n")
            # A bare LF in the first limit bytes is judged now (a 400),
            # before the size: the same verdict however the head arrives.
            if (i < 0 or i > limit) and _BARE_LF(pending[:limit]):
                return pending, b""
            if i > limit or (i < 0 and len(pending) > limit):
                return False, b""
            if i >= 0:
                return pending[:i + 2], pending[i + 4:]
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
        avoid this by never keeping connections). Between requests,
        keepalive_wait makes way for a connection that queues later."""
        return all(self.on_conn) and self.queued([listener])

    def http_request(self, conn, head, pending, server, remote, core, listener):
        if _REQUEST_HEAD_OK(head) is None:  # one check for CTLs, bare CR/LF, obs-fold, names
            self.simple_response(conn, "400 Bad Request")
            return False, b""
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
            self.simple_response(conn, "400 Bad Request")
            return False, b""
        method, uri, proto = parts
        path, _, query = uri.partition("?")
        if path.startswith("http://") or path.startswith("https://"):
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        environ = {
            "REQUEST_METHOD": method, "REQUEST_URI": uri, "PATH_INFO": unquote(path), "SCRIPT_NAME": "",
            "QUERY_STRING": query, "SERVER_PROTOCOL": proto, "SERVER_NAME": server[0],
            "SERVER_PORT": server[1], "REMOTE_ADDR": remote[0], "REMOTE_PORT": remote[1],
        }
        conn_tokens = ""
        for line in lines[1:-1]:
            k, _, v = line.partition(":")
            v = v.strip(" \t")
            key = k.upper().replace("-", "_")
            if key == "CONTENT_TYPE" or key == "CONTENT_LENGTH":
                if key in environ:  # repeated: one value for both, or a 400 below
                    v = environ[key] + "," + v
                environ[key] = v
                continue
            if key == "CONNECTION":
                conn_tokens = v.lower()
            hk = "HTTP_" + key
            environ[hk] = environ[hk] + "," + v if hk in environ else v
        keepalive = ("close" not in conn_tokens) if proto == "HTTP/1.1" else ("keep-alive" in conn_tokens)
        if keepalive and self.others_waiting(listener):
            keepalive = False
        try:
            if "HTTP_TRANSFER_ENCODING" in environ or "CONTENT_LENGTH" in environ:
                length, chunked = self.body_framing(environ, proto)
            else:
                length, chunked = 0, False
            if environ.get("HTTP_EXPECT", "").lower() == "100-continue":
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if chunked:
                body, length, rest = read_chunked(conn, pending, 1 << 30)
                environ["CONTENT_LENGTH"] = str(length)
                environ["wsgi.input_terminated"] = True
            else:
                body = Input(conn, pending, length)
                rest = pending[length:]
        except FramingError as e:
            self.simple_response(conn, e.status)
            return False, b""
        environ.update(self.base_environ)
        environ["wsgi.input"] = body
        environ["wsgi.url_scheme"] = "http"
        started = self.local.board[0](VARS_HTTP, head)
        resp = Response(conn, proto, keepalive=keepalive, head_only=(method == "HEAD"))
        self.run_app(environ, resp, core, started)
        if chunked:
            body.close()
            return resp.keepalive, rest
        if not resp.keepalive or not body.drain():
            return False, b""
        return True, rest

    @staticmethod
    def body_framing(environ, proto):
        """(Content-Length, chunked) as RFC 9112 section 6 reads them;
        FramingError for what could be read two ways: Transfer-Encoding
        with Content-Length or on HTTP/1.0, a coding other than chunked
        (501), Content-Length values that disagree or are not digits."""
        te = environ.get("HTTP_TRANSFER_ENCODING")
        if te is not None:
            if proto == "HTTP/1.0":
                raise FramingError("Transfer-Encoding on HTTP/1.0")
            if "CONTENT_LENGTH" in environ:
                raise FramingError("both Transfer-Encoding and Content-Length")
            codings = [c.strip(" \t").lower() for c in te.split(",")]
            if codings.count("chunked") > 1 or "chunked" in codings[:-1]:
                raise FramingError("chunked applied more than once, or not last")
            if codings != ["chunked"]:
                raise FramingError("transfer-coding %r not implemented (only chunked)" % te, "501 Not Implemented")
            return 0, True
        values = set(v.strip(" \t") for v in environ["CONTENT_LENGTH"].split(","))
        cl = values.pop()
        if values or not cl.isdigit() or not cl.isascii():
            raise FramingError("bad or conflicting Content-Length")
        environ["CONTENT_LENGTH"] = cl
        return int(cl), False

    # -- the WSGI call

    def run_app(self, environ, resp, core, started):
        """Runs the app; started is the request's time.monotonic_ns from the
        scoreboard's begin (one clock read serves both). A uwsgi response
        (keepalive None) of an iterable of bytes has its head made by
        plain_head and sent with the first chunk from here; anything else
        goes through Response.write."""
        failed = write_error = via_sendfile = False
        result = None
        req = UWSGI_REQUEST
        req.resp = resp
        req.environ, req.worker = environ, self  # for uwsgi.websocket_handshake (uwsgi_websocket.py)
        req.logvars = None
        try:
            result = self.app(environ, resp.start_response)
            if resp.keepalive is None and not resp.sent and not isinstance(result, FileWrapper):
                # Over uwsgi, the head is the app's status and headers as
                # they are: plain_head makes it, and it goes out with the
                # first chunk (one write for a one-chunk body).
                for chunk in result:
                    if chunk:
                        head = None if resp.sent or resp.status is None else resp.plain_head()
                        if head is None:  # a later chunk, or what plain_head leaves to _head
                            resp.write(chunk)
                            continue
                        resp.sent = True
                        resp.conn.sendall(head + chunk)
                        resp.nbytes += len(head) + len(chunk)
                if not resp.sent:  # finish() has nothing to add to a uwsgi response once sent
                    resp.finish()
            else:
                if isinstance(result, FileWrapper) and resp.sendfile(result):
                    via_sendfile = True
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
        except Exception as e:
            failed = True
            resp.keepalive = False
            # The body ended early (the client closed its side, or a read
            # failed) and the app raised reading it: the request was
            # malformed, a 400, as asgi.py answers it.
            body_cut = getattr(environ.get("wsgi.input"), "read_error", False)
            if isinstance(e, HeaderError):  # one line, as Go's net/http logs it
                log("ERROR", "refused the app's response; answered 500 instead", error=e,
                    method=environ.get("REQUEST_METHOD"), path=environ.get("PATH_INFO"))
            elif body_cut:
                log("WARN", "the request's body ended early and the app raised reading it; answered 400", error=e,
                    method=environ.get("REQUEST_METHOD"), path=environ.get("PATH_INFO"))
            else:
                log_traceback("the app raised", method=environ.get("REQUEST_METHOD"), path=environ.get("PATH_INFO"))
            if not resp.sent:
                resp.headers = None
                try:
                    body = b"Bad Request\n" if body_cut else b"Internal Server Error\n"
                    resp.status = "400 Bad Request" if body_cut else "500 Internal Server Error"
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
        status = resp.code or (500 if failed else 0)
        if self.log_requests or (self.log_only is not None and self.log_only(
                status, resp.nbytes - resp.hsize, elapsed, via_sendfile,
                write_error and getattr(environ.get("wsgi.input"), "read_error", False))):
            buf = self.local.logbuf
            if LOG_JSON:
                if self.log_format is not None:
                    buf.append(json_line("INFO", self.log_format(environ, resp, status, elapsed, core, write_error)[:-1], {}))
                else:
                    buf.append(JSON_REQUEST % (
                        _timestamp(), resp.nbytes, elapsed / 1e6, _jstr(environ.get("REQUEST_METHOD") or ""),
                        _jstr(environ.get("REQUEST_URI") or environ.get("PATH_INFO") or ""),
                        _jstr(environ.get(LOG_ADDR) or environ.get("REMOTE_ADDR", "-")), status))
            elif self.log_format is not None:
                buf.append(self.log_format(environ, resp, status, elapsed, core, write_error))
            else:
                # _timestamp() and _quote() inlined: one format for the line
                # (-1,700 instructions a request).
                now = time.time()
                sec = int(now)
                if _ts_cache[0] != sec:
                    _ts_cache[0] = sec
                    _ts_cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
                path = environ.get("REQUEST_URI") or environ.get("PATH_INFO")
                if path.__class__ is not str or not path or " " in path or '"' in path or "=" in path:
                    path = _quote(path)
                buf.append("%s.%03dZ [INFO]  %s: request: method=%s path=%s status=%d bytes=%d duration=%.2fms pid=%d remote=%s\n" % (
                    _ts_cache[1], (now - sec) * 1000, NAME, environ.get("REQUEST_METHOD"), path,
                    status, resp.nbytes, elapsed / 1e6, PID, environ.get(LOG_ADDR) or environ.get("REMOTE_ADDR", "-")))
            if REQ_MARK:
                buf[-1] = REQ_MARK + buf[-1]
            if len(buf) >= LOG_BATCH:
                self.flush_log()

    def flush_log(self):
        """Writes this thread's request lines. Under load they go out in
        batches (one write for LOG_BATCH requests); a thread flushes once no
        connection came for LOG_IDLE, so an idle worker's log is current."""
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


def configured_threads():
    """threads: the requests this worker serves at once (at least 1)."""
    return max(1, int(os.environ.get(ENV_THREADS, "1")))


def lifeline_closed(fd):
    """True once the master's end of the lifeline pipe is closed (EOF, or
    an error reading it); False for a byte or, on a non-blocking fd,
    nothing to read yet."""
    try:
        return not os.read(fd, 1)
    except (InterruptedError, BlockingIOError):
        return False
    except OSError:
        return True


def watch_lifeline(fd):
    while not lifeline_closed(fd):
        pass
    master_gone()


def master_gone():
    log("WARN", "the master is gone (lifeline closed); exiting")
    os._exit(1)


def lifeline_signals(fd):
    """A one-thread worker has no thread to watch the lifeline while its
    main thread imports the app or runs a request (which may hang): the
    kernel watches it. With O_ASYNC a pipe sends SIGIO to its owner when
    its last writer closes, and SIGIO's default action ends the process,
    whatever it is doing. The owner is set on an open file description
    of this process's own (opened through /proc: the inherited fd's
    description is shared with every worker, and has one owner). If the
    app installs a SIGIO handler, the serving loop still sees the EOF
    between requests (serve_alone)."""
    try:
        own = os.open("/proc/self/fd/%d" % fd, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        log("WARN", "the lifeline is watched between requests only", error=e)
        return
    signal.signal(signal.SIGIO, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGIO})
    fcntl.fcntl(own, fcntl.F_SETOWN, os.getpid())
    fcntl.fcntl(own, fcntl.F_SETFL, fcntl.fcntl(own, fcntl.F_GETFL) | os.O_ASYNC)
    if lifeline_closed(own):  # the master died before the owner was set: no SIGIO comes
        master_gone()


def serve_alone(worker):
    """threads = 1: the main thread serves core 0 itself, and no thread is
    started for the lifeline or the master's signals (a process's first
    thread costs it ~0.3 MB of private memory: docs/benchmarks.md). The
    lifeline and a signal pipe join the serving loop's epoll (hooks):
    the lifeline's EOF exits, as watch_lifeline. The signals have
    handlers that never raise into the app: SIGTERM's stops the worker
    as the sigwait loop does (worker.stop: the request in flight, if any,
    is finished, a keep-alive connection is not kept), SIGINT's and
    SIGQUIT's exit at once; SIGHUP stays blocked. signal.set_wakeup_fd
    on the pipe wakes the loop for a signal that came just before it
    polled. SA_RESTART (siginterrupt False) keeps the app's blocking
    calls from failing with EINTR. Returns when the loop stopped."""
    hooks = {}
    lifeline = os.environ.get(ENV_LIFELINE_FD)
    if lifeline:
        fd = int(lifeline)

        def lifeline_readable():
            if lifeline_closed(fd):
                master_gone()

        hooks[fd] = lifeline_readable
    sig_r, sig_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def signalled():
        try:
            got = os.read(sig_r, 64)
        except (BlockingIOError, InterruptedError):
            return
        if signal.SIGTERM in got:
            worker.stop()

    hooks[sig_r] = signalled
    signal.set_wakeup_fd(sig_w, warn_on_full_buffer=False)
    stops = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
    for sig in stops:
        signal.signal(sig, _exit_now if sig != signal.SIGTERM else lambda sig, frame: worker.stop())
        signal.siginterrupt(sig, False)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
    threading.current_thread().name = "core-0"  # as a threaded worker's core threads (uwsgi_harakiri._core)
    worker.serve_thread(0, hooks)


def _exit_now(sig, frame):
    os._exit(0)


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


def check_python():
    """Exits with the app-load-failed code (the master's need-app rule
    applies) on an interpreter older than PYTHON_FLOOR."""
    if sys.version_info >= PYTHON_FLOOR:
        return
    log("ERROR", "this Python is too old for supervise's worker: it needs Python %d.%d or newer; "
        "set home (virtualenv) or python-bin to a newer interpreter" % PYTHON_FLOOR,
        python=sys.executable, version="%d.%d.%d" % tuple(sys.version_info[:3]))
    sys.stderr.flush()
    os._exit(EXIT_APP_LOAD_FAILED)


def main():
    check_python()
    for env, role in ((ENV_SPOOLER, "spooler"), (ENV_MULE, "mule")):
        if os.environ.get(env):  # a spooler process or a mule: spooler.py, mule.py
            sys.modules["_supervise_worker"] = sys.modules[__name__]
            return _load_sibling(role).main(sys.modules[__name__])
    if os.environ.get(ENV_PY_ASGI) or os.environ.get(ENV_GEVENT):  # another engine runs this worker: asgi.py, gevent_loop.py
        uwsgi_mod = install_uwsgi_module()
        engine = uwsgi_mod._sibling("asgi" if os.environ.get(ENV_PY_ASGI) else "gevent_loop")
        return engine.main(sys.modules[__name__], uwsgi_mod)
    handled = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP}
    zygote_fd = os.environ.get(ENV_ZYGOTE_FD)
    if zygote_fd:
        # The zygote: import the app once, then fork the workers; this
        # returns in each worker (zygote.py), as the worker the env names.
        global NAME
        NAME = "zygote"
        # SIGTERM (from the master) ends it; a terminal's ^C or hangup
        # is the master's to handle, not a traceback here.
        signal.pthread_sigmask(signal.SIG_BLOCK, handled - {signal.SIGTERM})
        uwsgi_mod = install_uwsgi_module()
        if uwsgi_mod is not None:
            uwsgi_mod._signals.zygote()  # what the import registers is the generation's, once (as uWSGI's master)
        loaded = load_app()
        lifeline = os.environ.get(ENV_LIFELINE_FD)
        _load_sibling("zygote").run(int(zygote_fd), int(lifeline) if lifeline else None, log, notify, loaded[0])
        refresh_identity()
        if uwsgi_mod is not None:
            uwsgi_mod._after_fork()
    # Signals go to the main thread's sigwait only, never into app code.
    signal.pthread_sigmask(signal.SIG_BLOCK, handled)
    lifeline = os.environ.get(ENV_LIFELINE_FD)
    if lifeline and configured_threads() > 1:
        threading.Thread(target=watch_lifeline, args=(int(lifeline),), daemon=True, name="lifeline").start()
    elif lifeline:  # one thread: the kernel watches it (and serve_alone between requests)
        lifeline_signals(int(lifeline))
    if not zygote_fd:
        uwsgi_mod = install_uwsgi_module()
        loaded = load_app()
    serve(uwsgi_mod, loaded, handled)


def _load_sibling(name):
    """worker/python/NAME.py beside this file, never from sys.path: once,
    as _supervise_NAME (the module uwsgi_api._sibling gives too)."""
    key = "_supervise_" + name
    mod = sys.modules.get(key)
    if mod is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
        spec = importlib.util.spec_from_file_location(key, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
    return mod


def serve(uwsgi_mod, loaded, handled):
    app, app_name = loaded
    no_app_reason = None
    if app is None:
        app, app_name, no_app_reason = no_app, "none", app_name
    worker = Worker(app, app_name)
    run_postfork(uwsgi_mod)
    alone = worker.threads == 1  # the main thread serves: serve_alone
    threads = [threading.Thread(target=worker.serve_thread, args=(core,), daemon=True, name="core-%d" % core)
               for core in range(0 if alone else worker.threads)]
    for t in threads:
        t.start()
    socks = ",".join("%s:%s" % (proto, _sockname(s)) for s, proto in worker.listeners)
    log("INFO", "ready", pid=PID, app=app_name, threads=worker.threads, sockets=socks,
        generation=os.environ.get(ENV_GENERATION, "1"))
    interval = int(os.environ.get(ENV_PY_AUTORELOAD) or 0)
    if interval > 0:
        threading.Thread(target=autoreload, args=(interval, module_mtimes()), daemon=True, name="autoreload").start()
    if no_app_reason is None:
        notify("READY=1")
    else:
        notify("READY=1\n%s=1\nSTATUS=no app loaded: %s" % (NOTIFY_NO_APP, no_app_reason))
    if alone:
        serve_alone(worker)
    else:
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
