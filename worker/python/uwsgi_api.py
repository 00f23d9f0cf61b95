# supervise's `uwsgi` module: what apps written for uWSGI import.
#
# worker.py loads this file as sys.modules["uwsgi"] before it imports the
# app, so `import uwsgi` and Debian's unmodified uwsgidecorators work in a
# supervised worker (and nowhere else, as under uWSGI). Values and types
# follow uWSGI 2.0's Python plugin: bytes where it returns bytes. What it
# reads comes from the master-worker contract (docs/contract.md); what
# each function does here, and what is not available, is in
# docs/python-api.md. Stdlib only; every private name starts with _.
import fcntl as _fcntl
import json as _json
import mmap as _mmap
import os as _os
import socket as _socket
import threading as _threading
import time as _time

# The contract: mirrors ipc/contract.go (contract_test.go checks it).
_ENV_UWSGI_OPT = "SUPERVISE_UWSGI_OPT"
_ENV_MAGIC_TABLE = "SUPERVISE_MAGIC_TABLE"
_ENV_PROCESSES = "SUPERVISE_PROCESSES"
_ENV_STARTED_ON = "SUPERVISE_STARTED_ON"
_ENV_LOCKS_FD = "SUPERVISE_LOCKS_FD"
_ENV_LOCKS = "SUPERVISE_LOCKS"
_ENV_SEM_PREFIX = "SUPERVISE_SEM_PREFIX"
_ENV_MASTER_PID = "SUPERVISE_MASTER_PID"
_ENV_WORKER_ID = "SUPERVISE_WORKER_ID"
_ENV_THREADS = "SUPERVISE_THREADS"
_ENV_BUFFER_SIZE = "SUPERVISE_BUFFER_SIZE"
_ENV_NOTIFY_SOCKET = "NOTIFY_SOCKET"
_ENV_SCOREBOARD_FD = "SUPERVISE_SCOREBOARD_FD"
_NOTIFY_COMMAND = "SUPERVISE_COMMAND"
# scoreboard words (ipc/scoreboard.go)
_HDR_SLOTS, _HDR_CORES, _HDR_SLOT_BYTES, _HDR_CORE_BYTES = 2, 3, 4, 5
_HEADER_WORDS = 8
_WK_PID, _WK_ACCEPTING, _WK_ID, _WK_WORDS = 0, 1, 2, 8
_WK_SIGNALS = 3
_CORE_REQUESTS, _CORE_IN_REQUEST, _CORE_EXCEPTIONS, _CORE_TX, _CORE_RT_TOTAL_US = 0, 1, 5, 8, 9

_env = _os.environ


def _sibling(name):
    """The supervise module NAME.py beside this file (worker/python/*.py,
    embedded and written together), loaded once as _supervise_NAME. The
    runtime directory is never on sys.path, so the app cannot shadow it."""
    import importlib.util as _util
    import sys as _sys
    key = "_supervise_" + name
    mod = _sys.modules.get(key)
    if mod is None:
        path = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), name + ".py")
        spec = _util.spec_from_file_location(key, path)
        mod = _util.module_from_spec(spec)
        _sys.modules[key] = mod
        spec.loader.exec_module(mod)
    return mod

# ------------------------------------------------- identity and settings

version = b"2.0.21-supervise"
version_info = (2, 0, 21, 0, b"supervise")
hostname = _socket.gethostname().encode()
numproc = int(_env.get(_ENV_PROCESSES) or 1)
cores = int(_env.get(_ENV_THREADS) or 1)
has_threads = 1
buffer_size = int(_env.get(_ENV_BUFFER_SIZE) or 4096)
started_on = int(_env.get(_ENV_STARTED_ON) or _time.time())
loop = None
unbit = None
applications = None
is_a_reload = int(_env.get("SUPERVISE_GENERATION") or 1) > 1

SPOOL_RETRY = -1
SPOOL_OK = -2
SPOOL_IGNORE = 0


def _opt():
    """uwsgi.opt as uWSGI 2.0 builds it under Python 3: str keys, bytes
    values, True for a flag given without a value; a repeated key keeps
    its last value (uWSGI's list-building compares bytes with str keys,
    so it never matches)."""
    out = {}
    for key, value in _json.loads(_env.get(_ENV_UWSGI_OPT) or "[]"):
        out[key] = True if value is None else value.encode("utf-8", "surrogateescape")
    return out


opt = _opt()
magic_table = dict((k.encode(), v.encode("utf-8", "surrogateescape"))
                   for k, v in _json.loads(_env.get(_ENV_MAGIC_TABLE) or "{}").items())
_worker_id = int(_env.get(_ENV_WORKER_ID) or 0)
_master_pid = int(_env.get(_ENV_MASTER_PID) or 0)


def worker_id():
    return _worker_id


# Per-process values a worker forked by the zygote must read again (the
# module was imported in the zygote, as worker 0): worker.py calls
# _after_fork() in each forked worker before the app's @postfork hooks.
# A part of the module with its own per-process state appends a function.
_after_fork_hooks = []


def _after_fork():
    global _worker_id
    _worker_id = int(_env.get(_ENV_WORKER_ID) or 0)
    for hook in _after_fork_hooks:
        hook()


def mule_id():
    return 0


def masterpid():
    return _master_pid


def i_am_the_spooler():
    return None  # uWSGI returns None, not False, outside the spooler


# ------------------------------------------------------------ the board


class _Board(object):
    """A read-only view of the master's scoreboard, for total_requests()
    and workers()."""

    def __init__(self, fd):
        self.mm = _mmap.mmap(fd, _os.fstat(fd).st_size, _mmap.MAP_SHARED, _mmap.PROT_READ)
        self.w = memoryview(self.mm).cast("Q")

    def slots(self):
        """(id, pid, accepting, requests, exceptions, busy, tx, rt_us, signals) of
        every slot a live process writes."""
        w = self.w
        slot_words, core_words, ncores = w[_HDR_SLOT_BYTES] // 8, w[_HDR_CORE_BYTES] // 8, w[_HDR_CORES]
        for s in range(w[_HDR_SLOTS]):
            base = _HEADER_WORDS + s * slot_words
            pid = w[base + _WK_PID]
            if not pid or not _alive(pid):
                continue
            req = exc = tx = rt = busy = 0
            for c in range(ncores):
                cb = base + _WK_WORDS + c * core_words
                req += w[cb + _CORE_REQUESTS]
                exc += w[cb + _CORE_EXCEPTIONS]
                tx += w[cb + _CORE_TX]
                rt += w[cb + _CORE_RT_TOTAL_US]
                busy |= w[cb + _CORE_IN_REQUEST]
            yield w[base + _WK_ID], pid, w[base + _WK_ACCEPTING], req, exc, busy, tx, rt, w[base + _WK_SIGNALS]


def _alive(pid):
    try:
        _os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


_board = None
if _env.get(_ENV_SCOREBOARD_FD):
    try:
        _board = _Board(int(_env[_ENV_SCOREBOARD_FD]))
    except (OSError, ValueError):
        _board = None


def total_requests():
    """Requests served by every live worker (uWSGI: the master's count)."""
    if _board is None:
        return 0
    return sum(s[3] for s in _board.slots())


def workers():
    """One dict per live worker process, in uWSGI's shape. rss, vsz,
    last_spawn and respawn_count are 0 here (the stats server has them);
    during a reload both generations are listed."""
    if _board is None:
        return ()
    out = []
    for wid, pid, accepting, req, exc, busy, tx, rt, sigs in sorted(_board.slots()):
        out.append({
            "id": wid, "pid": pid, "requests": req, "delta_requests": 0, "signals": sigs,
            "exceptions": exc, "status": b"busy" if busy else b"idle", "rss": 0, "vsz": 0,
            "running_time": rt, "last_spawn": 0, "respawn_count": 0, "tx": tx,
            "avg_rt": rt // req if req else 0,
            "apps": ({"id": 0, "modifier1": 0, "mountpoint": b"", "startup_time": 0, "requests": req,
                      "exceptions": exc, "chdir": b""},),
        })
    return tuple(out)


# ------------------------------------------------------- the request


# worker.py sets _request.resp (its Response) and _request.logvars = None
# when a request starts on a thread.
_request = _threading.local()


def _current(fn):
    resp = getattr(_request, "resp", None)
    if resp is None:
        raise SystemError("uwsgi.%s() needs a request: call it while the app handles one" % fn)
    return resp


def set_logvar(key, value):
    """Stores a request-log variable for this request: log-format's
    %(key) prints it."""
    if not isinstance(key, str) or not isinstance(value, str):
        raise TypeError("set_logvar() arguments must be str")
    _current("set_logvar")
    d = _request.logvars
    if d is None:
        d = _request.logvars = {}
    d[key] = value.encode()


def get_logvar(key):
    if not isinstance(key, str):
        raise TypeError("get_logvar() argument must be str")
    _current("get_logvar")
    d = _request.logvars
    return None if d is None else d.get(key)


def disconnect():
    """Closes the client connection now; the app may go on working, and
    what it still writes is dropped (counted as a write error)."""
    resp = _current("disconnect")
    resp.keepalive = False
    try:
        resp.conn.shutdown(_socket.SHUT_RDWR)
    except OSError:
        pass


def is_connected(fd):
    """True when fd is a socket without a pending error (uWSGI's check)."""
    if not isinstance(fd, int):
        raise TypeError("is_connected() argument must be int")
    try:
        s = _socket.socket(fileno=_os.dup(fd))
    except OSError:
        return False
    try:
        return s.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR) == 0
    except OSError:
        return False
    finally:
        s.close()


# ------------------------------------------------------------- control


def _command(letter):
    path = _env.get(_ENV_NOTIFY_SOCKET, "")
    if not path:
        return None
    if path.startswith("@"):
        path = "\0" + path[1:]
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    try:
        s.sendto(("%s=%s" % (_NOTIFY_COMMAND, letter)).encode(), path)
    except OSError:
        return None
    finally:
        s.close()
    return True


def reload():
    """Graceful reload of every worker (as SIGHUP to the master)."""
    return _command("r")


def chain_reload():
    """Chain reload: one worker at a time (the master FIFO's c)."""
    return _command("c")


def stop():
    """Shuts the whole server down gracefully: requests in flight finish
    (uWSGI's stop() is the brutal SIGQUIT)."""
    return _command("q")


# --------------------------------------------------------- post-fork


def _run_postfork():
    """Called by worker.py once the app is imported, before the worker
    serves: uWSGI calls uwsgi.post_fork_hook after each fork. An exception
    is logged and the worker goes on, as in uWSGI. The worker starts
    receiving uwsgi signals first (uwsgi_signals.start)."""
    try:
        _signals.start()
    except OSError as e:
        _signals._log("ERROR", "uwsgi signals: this worker gets none", error=e)
    hook = globals().get("post_fork_hook")
    if hook is not None:
        hook()


# ------------------------------------------------------------- signals

_signals = _sibling("uwsgi_signals")
_after_fork_hooks.append(_signals._forget_counter)
register_signal = _signals.register_signal
signal = _signals.signal
signal_registered = _signals.signal_registered
signal_wait = _signals.signal_wait
signal_received = _signals.signal_received
add_timer = _signals.add_timer
add_rb_timer = _signals.add_rb_timer
add_cron = _signals.add_cron
add_file_monitor = _signals.add_file_monitor
set_user_harakiri = _sibling("uwsgi_harakiri").set_user_harakiri
_signals.slot_word = _sibling("uwsgi_harakiri").slot_word  # workers[].signals

# --------------------------------------------------------------- locks

_max_lock = int(_env.get(_ENV_LOCKS) or 0)
_locks_fd = int(_env.get(_ENV_LOCKS_FD) or -1)
_LOCKS_MAGIC = 0x314B434F4C565053  # "SPVLOCK1": the memfd's mutexes are initialised
_MUTEX_BYTES = 64  # one slot per lock (glibc's pthread_mutex_t is 40 bytes)
_EOWNERDEAD, _EBUSY = 130, 16


def _lock_index(n):
    if not isinstance(n, int):
        raise TypeError("an integer is required")
    if n < 0 or n > _max_lock:
        raise ValueError("Invalid lock number")
    if _locks_fd < 0:
        raise SystemError("uwsgi locks: the master passed no locks memfd (%s)" % _ENV_LOCKS_FD)
    return n


class _Mutexes(object):
    """uWSGI's design: a process-shared robust pthread mutex per lock, in
    the master's locks memfd, called through ctypes (a futex: no system
    call when uncontended). Robust: when a holder dies, the next locker
    gets EOWNERDEAD and takes the lock over. The first worker to map the
    memfd initialises the mutexes, under an fcntl lock on its first byte;
    later ones (and reloads with more locks) find them ready."""

    def __init__(self, fd, count):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        self.lock_fn, self.unlock_fn, self.trylock_fn, self.consistent_fn = (
            libc.pthread_mutex_lock, libc.pthread_mutex_unlock, libc.pthread_mutex_trylock,
            libc.pthread_mutex_consistent)
        for f in (self.lock_fn, self.unlock_fn, self.trylock_fn, self.consistent_fn):
            f.argtypes, f.restype = [ctypes.c_void_p], ctypes.c_int
        size = _MUTEX_BYTES * (count + 1)
        _fcntl.lockf(fd, _fcntl.LOCK_EX, 1, 0)
        try:
            if _os.fstat(fd).st_size < size:
                _os.ftruncate(fd, size)
            self.mm = _mmap.mmap(fd, size, _mmap.MAP_SHARED, _mmap.PROT_READ | _mmap.PROT_WRITE)
            head = memoryview(self.mm).cast("Q")
            base = ctypes.addressof((ctypes.c_char * size).from_buffer(self.mm))
            self.addr = [base + _MUTEX_BYTES * (i + 1) for i in range(count)]
            done = head[1] if head[0] == _LOCKS_MAGIC else 0
            if done < count:
                attr = ctypes.create_string_buffer(64)
                if (libc.pthread_mutexattr_init(attr) or libc.pthread_mutexattr_setpshared(attr, 1) or
                        libc.pthread_mutexattr_setrobust(attr, 1)):
                    raise OSError("pthread_mutexattr: cannot make a shared robust mutex")
                for a in self.addr[done:]:
                    if libc.pthread_mutex_init(ctypes.c_void_p(a), attr):
                        raise OSError("pthread_mutex_init failed")
                head[0], head[1] = _LOCKS_MAGIC, count
        finally:
            _fcntl.lockf(fd, _fcntl.LOCK_UN, 1, 0)

    def lock(self, n):
        a = self.addr[n]
        r = self.lock_fn(a)
        if r == _EOWNERDEAD:  # its holder died: the lock is ours now
            self.consistent_fn(a)
        elif r:
            raise OSError(r, "uwsgi.lock(%d): pthread_mutex_lock: %s" % (n, _os.strerror(r)))

    def unlock(self, n):
        self.unlock_fn(self.addr[n])  # EPERM when not held: ignored, as uWSGI does

    def is_locked(self, n):
        a = self.addr[n]
        r = self.trylock_fn(a)
        if r == _EBUSY:
            return True
        if r == _EOWNERDEAD:
            self.consistent_fn(a)
        elif r:
            raise OSError(r, "uwsgi.is_locked(%d): %s" % (n, _os.strerror(r)))
        self.unlock_fn(a)
        return False


class _Sems(object):
    """The fast engine: a named POSIX semaphore per lock (uwsgi_sem.py),
    acquired and released by CPython's C SemLock, so an uncontended
    lock()+unlock() costs about what uWSGI's C call does. The holder's
    pid goes in owners[n] (a word of the locks memfd past _OWNERS_AT):
    unlock() by a process that does not hold the lock does nothing (as
    pthread_mutex_unlock's EPERM in uWSGI), and a waiter takes the lock
    over when its holder died (as uWSGI's robust mutexes)."""

    def __init__(self, fd, count, prefix):
        self.sem = _sibling("uwsgi_sem")
        size = _OWNERS_AT + 8 * count
        _fcntl.lockf(fd, _fcntl.LOCK_EX, 1, 0)
        try:
            if _os.fstat(fd).st_size < size:
                _os.ftruncate(fd, size)
        finally:
            _fcntl.lockf(fd, _fcntl.LOCK_UN, 1, 0)
        self.mm = _mmap.mmap(fd, 8 * count, _mmap.MAP_SHARED, _mmap.PROT_READ | _mmap.PROT_WRITE,
                             offset=_OWNERS_AT)
        self.owners = memoryview(self.mm).cast("Q")
        self.sems = [self.sem.open_sem("%s-l%d" % (prefix, i)) for i in range(count)]
        self.fd = fd

    def wait(self, n):
        self.sem.wait(self.sems[n], self.owners, n, self.fd, "uwsgi lock %d" % n)

    def is_locked(self, n):
        s = self.sems[n]
        if s.acquire(False):
            s.release()
            return False
        if self.sem.take_over(s, self.owners, n, self.fd, "uwsgi lock %d" % n) and s.acquire(False):
            s.release()
            return False
        return True


_OWNERS_AT = 1 << 20  # the semaphore engine's owner words in the locks memfd (page aligned)
_pid = _os.getpid()


def _forked():
    global _pid
    _pid = _os.getpid()


_os.register_at_fork(after_in_child=_forked)  # an os.fork() by the app; py-call-osafterfork
_after_fork_hooks.append(_forked)  # the zygote's bare fork runs no at-fork callbacks

_sems = _owners = _acquire = _release = None
if _locks_fd >= 0 and _env.get(_ENV_SEM_PREFIX):
    try:
        _engine = _Sems(_locks_fd, _max_lock + 1, _env[_ENV_SEM_PREFIX])
        _sems, _owners = _engine.sems, _engine.owners
        _acquire, _release = [s.acquire for s in _sems], [s.release for s in _sems]
    except (ImportError, AttributeError, OSError, ValueError):
        _sems = _owners = None  # no _multiprocessing or no /dev/shm: the mutexes below

_mutexes = None
if _locks_fd >= 0 and _sems is None:
    try:
        _mutexes = _Mutexes(_locks_fd, _max_lock + 1)
    except (ImportError, AttributeError, OSError, ValueError):
        _mutexes = None  # no ctypes or no robust mutexes: fcntl locks below


def lock(n=0):
    if n.__class__ is not int or n < 0 or n > _max_lock:
        n = _lock_index(n)
    if _sems is not None:
        if not _acquire[n](False):
            _engine.wait(n)
        _owners[n] = _pid
        return None
    if _locks_fd < 0:
        _lock_index(n)
    if _mutexes is not None:
        return _mutexes.lock(n)
    tl = _thread_locks[n]
    tl.acquire()
    try:
        _fcntl.lockf(_locks_fd, _fcntl.LOCK_EX, 1, _FCNTL_BASE + n)
    except BaseException:
        tl.release()
        raise


def unlock(n=0):
    """Releases lock n; unlocking a lock that is not held does nothing,
    as in uWSGI."""
    if n.__class__ is not int or n < 0 or n > _max_lock:
        n = _lock_index(n)
    if _sems is not None:
        if _owners[n] == _pid:
            _owners[n] = 0
            try:
                _release[n]()
            except ValueError:
                pass
        return None
    if _locks_fd < 0:
        _lock_index(n)
    if _mutexes is not None:
        return _mutexes.unlock(n)
    tl = _thread_locks[n]
    if not tl.locked():
        return
    _fcntl.lockf(_locks_fd, _fcntl.LOCK_UN, 1, _FCNTL_BASE + n)
    try:
        tl.release()
    except RuntimeError:
        pass


def is_locked(n=0):
    n = _lock_index(n)
    if _sems is not None:
        return _engine.is_locked(n)
    if _mutexes is not None:
        return _mutexes.is_locked(n)
    tl = _thread_locks[n]
    if not tl.acquire(False):
        return True
    try:
        _fcntl.lockf(_locks_fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB, 1, _FCNTL_BASE + n)
    except OSError:
        return True
    finally:
        tl.release()
    _fcntl.lockf(_locks_fd, _fcntl.LOCK_UN, 1, _FCNTL_BASE + n)
    return False


# The fallback (no ctypes, or a libc without robust mutexes): a thread
# lock for this process's threads plus an fcntl write lock on byte
# _FCNTL_BASE + n of the memfd for other processes; the kernel drops a
# dead holder's fcntl lock. Two system calls per locked section.
_FCNTL_BASE = 1 << 30
_thread_locks = [_threading.Lock() for _ in range(_max_lock + 1)]


# --------------------------------------------------------------- cache

# uwsgi_cache.py: the caches the master made (cache2 = ..., cache = N),
# shared by every worker. Without any, the functions exist and return
# None (cache_keys raises ValueError), as in uWSGI.
_caches = _sibling("uwsgi_cache")
_after_fork_hooks.append(_caches._forked)
try:
    _caches._init(_sibling("uwsgi_sem"))
except (ImportError, OSError, ValueError) as _e:
    import sys as _sys
    _sys.stderr.write("uwsgi cache: not available in this worker (%s); uwsgi.cache_* return None\n" % _e)
cache_get, cache_set, cache_update, cache_del = _caches.cache_get, _caches.cache_set, _caches.cache_update, _caches.cache_del
cache_exists, cache_clear, cache_keys, cache_num = _caches.cache_exists, _caches.cache_clear, _caches.cache_keys, _caches.cache_num
cache_inc, cache_dec, cache_mul, cache_div = _caches.cache_inc, _caches.cache_dec, _caches.cache_mul, _caches.cache_div


# ------------------------------------------------- what is not here

_NOT_AVAILABLE = {
    "add_ms_timer": "uWSGI 2.0 has no add_ms_timer; use add_timer (seconds)",
    "queue_get": "the uWSGI queue is not available; use Redis", "queue_set": "the uWSGI queue is not available; use Redis",
    "queue_push": "the uWSGI queue is not available; use Redis", "queue_pull": "the uWSGI queue is not available; use Redis",
    "queue_pop": "the uWSGI queue is not available; use Redis", "queue_last": "the uWSGI queue is not available; use Redis",
    "register_rpc": "uWSGI RPC is not available; call the other service over HTTP",
    "rpc": "uWSGI RPC is not available; call the other service over HTTP",
    "rpc_list": "uWSGI RPC is not available; call the other service over HTTP",
    "call": "uWSGI RPC is not available; call the other service over HTTP",
    "sharedarea_read": "sharedarea is not available; use the locks with a file, or Redis",
    "sharedarea_write": "sharedarea is not available; use the locks with a file, or Redis",
    "metric_get": "uWSGI metrics are not available; export metrics with a Prometheus client",
    "metric_set": "uWSGI metrics are not available; export metrics with a Prometheus client",
    "metric_inc": "uWSGI metrics are not available; export metrics with a Prometheus client",
    "metric_dec": "uWSGI metrics are not available; export metrics with a Prometheus client",
    "alarm": "uWSGI alarms are not available; log the message and alert on the log",
    "offload": "offloading is not available; serve files with wsgi.file_wrapper (sendfile)",
    "sendfile": "uwsgi.sendfile is not available; return wsgi.file_wrapper(file) (sent with sendfile)",
    "async_sleep": "async cores are not available; the worker serves requests with threads",
    "suspend": "async cores are not available; the worker serves requests with threads",
    "green_schedule": "async cores are not available; the worker serves requests with threads",
    "wait_fd_read": "async cores are not available; the worker serves requests with threads",
    "wait_fd_write": "async cores are not available; the worker serves requests with threads",
    "chunked_read": "read the request body with wsgi.input (chunked bodies are decoded)",
    "chunked_read_nb": "read the request body with wsgi.input (chunked bodies are decoded)",
    "accepting": "the worker reports accepting to the master itself",
    "setprocname": "process names are not changed under supervise",
    "log_this_request": "every request is logged unless disable-logging",
    "route": "uWSGI internal routing is not available; route in nginx",
    "add_var": "uWSGI request vars are not available; set headers in nginx",
}


class Unavailable(AttributeError):
    """A uWSGI function supervise does not provide. It is an AttributeError
    so hasattr(uwsgi, name) is False, as on a uWSGI built without it."""


def __getattr__(name):
    why = _NOT_AVAILABLE.get(name)
    if why is not None:
        raise Unavailable("uwsgi.%s is not available under supervise: %s (see docs/python-api.md)" % (name, why))
    raise AttributeError("module 'uwsgi' has no attribute %r (supervise's uwsgi module; see docs/python-api.md)" % name)


# The spooler (spooler.py), the mules (mule.py) and the WebSocket API
# (uwsgi_websocket.py) add their functions:
# at once in a spooler process or a mule, on first use elsewhere (a worker
# that never spools does not compile them).
_ENV_SPOOLER = "SUPERVISE_SPOOLER"
_ENV_MULE = "SUPERVISE_MULE"
_PARTS = (("spooler", ("spool", "send_to_spooler", "spooler_jobs", "spooler_pid", "spooler_pids",
                       "set_spooler_frequency", "spooler_get_task", "spooler_dir")),
          ("mule", ("mule_msg", "farm_msg", "in_farm", "mule_get_msg", "farm_get_msg")),
          ("uwsgi_websocket", ("websocket_handshake", "websocket_recv", "websocket_recv_nb", "websocket_send",
                               "websocket_send_binary")))


def _lazy(part, name):
    def call(*args, **kwargs):
        fn = getattr(_sibling(part), name)
        globals()[name] = fn
        return fn(*args, **kwargs)
    call.__name__ = name
    return call


if _env.get(_ENV_SPOOLER) or _env.get(_ENV_MULE):
    for _part, _ in _PARTS:
        _sibling(_part)._install(globals())
else:
    for _part, _names in _PARTS:
        for _name in _names:
            globals()[_name] = _lazy(_part, _name)
