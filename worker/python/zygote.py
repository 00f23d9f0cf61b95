# supervise's zygote: the per-generation Python process that imported the
# app once and forks each worker on the master's request, so the workers
# share the app's memory copy-on-write (uWSGI's default, gunicorn's
# --preload). worker.py's main() imports the app, then calls run(); run
# returns only in a forked worker, with that worker's environment and log.
#
# The contract (docs/contract.md, "The zygote"; ipc/zygote.go): the fork
# socket is SUPERVISE_ZYGOTE_FD, a SOCK_SEQPACKET socket whose every
# message is one fork request naming one or more workers, {"seq": S,
# "workers": [{"set": ["K=V", ...], "unset": ["K", ...], "log": L}, ...]}
# as JSON (how each worker's environment differs from ours; L the index of
# its log pipe among the message's SCM_RIGHTS fds, -1 when the log is
# shared). The answer is "pids S P1 P2 ..." (0 for a fork that failed) or
# "error S TEXT". The zygote double-forks: one middle process forks the
# request's workers back to back, answers and exits, so the workers are
# reparented to the master (a child subreaper), which reaps, signals and
# supervises them like any child.
import array
import gc
import io
import itertools
import json
import os
import select
import socket
import sys
import threading

# Mirrors ipc/zygote.go (contract_test.go checks it).
ENV_ZYGOTE_GC_FREEZE = "SUPERVISE_ZYGOTE_GC_FREEZE"
ENV_PRELOAD_WARMUP = "SUPERVISE_PRELOAD_WARMUP"
ENV_CALL_OSAFTERFORK = "SUPERVISE_PY_CALL_OSAFTERFORK"
ZYGOTE_MAX_REQUEST = 1 << 20
ZYGOTE_MAX_BATCH = 64
# Seconds without a fork request after a fork before the zygote drops its
# read-only file pages (_trimmer): once a batch of forks is over.
TRIM_AFTER = 1.0
MADV_DONTNEED = 4
# Rounds of each preload-warmup path: CPython 3.11+ specializes a
# function's bytecode (in place, in its code object) after a few runs, so
# a path run once would still write to its code in every worker.
WARMUP_ROUNDS = 10


def run(ctrl_fd, lifeline_fd, log, notify, app=None):
    """Serves fork requests until the master goes away; returns in each
    forked worker. log(level, msg, **kv) and notify(state) are worker.py's;
    app is the loaded WSGI app, for preload-warmup."""
    ctrl = socket.socket(fileno=ctrl_fd)
    ctrl.setblocking(True)
    paths = [p for p in os.environ.get(ENV_PRELOAD_WARMUP, "").split("\n") if p]
    if paths and app is not None:
        warm_up(app, paths, log)
    raw = raw_fork(log)
    if raw is None:  # only os.fork() runs them in the workers
        warm_fork_callbacks()
    if os.environ.get(ENV_ZYGOTE_GC_FREEZE, "1") != "0" and hasattr(gc, "freeze"):
        # Objects the import made move to a generation the collector never
        # scans, so no worker's collection writes to (and copies) their pages.
        gc.collect()
        gc.freeze()
    _malloc_trim()
    notify("READY=1")
    warned = said_threads = False
    trim = _trimmer(log)
    forked = False  # since the last trim
    while True:
        _reap()
        watch = [ctrl] + ([lifeline_fd] if lifeline_fd is not None else [])
        try:
            readable, _, _ = select.select(watch, [], [], TRIM_AFTER if forked and trim else None)
        except InterruptedError:
            continue
        if not readable:  # no fork request for TRIM_AFTER since the last fork
            forked = False
            trim()
            continue
        if lifeline_fd in readable and not _alive(lifeline_fd):
            log("WARN", "the master is gone (lifeline closed); the zygote exits")
            os._exit(1)
        if ctrl not in readable:
            continue
        try:
            msg, anc, _, _ = ctrl.recvmsg(ZYGOTE_MAX_REQUEST, socket.CMSG_SPACE(4 * ZYGOTE_MAX_BATCH))
        except InterruptedError:
            continue
        if not msg:
            os._exit(0)  # the master closed the socket: this generation is over
        fds = _rights(anc)
        try:
            req = json.loads(msg.decode("utf-8", "surrogateescape"))
            seq = int(req.get("seq", 0))
            jobs = [(w.get("unset") or [], w.get("set") or [], int(w.get("log", -1))) for w in req["workers"]]
            if not 0 < len(jobs) <= ZYGOTE_MAX_BATCH:
                raise ValueError("%d workers (1 to %d a request)" % (len(jobs), ZYGOTE_MAX_BATCH))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            _close(fds)
            ctrl.send(("error 0 bad fork request: %s" % e).encode())
            continue
        if not warned and threading.active_count() > 1:
            warned = True
            names = ", ".join(t.name for t in threading.enumerate() if t is not threading.current_thread())
            log("WARN", "the app started threads at import; they do not run in the forked workers "
                "(start them in a @postfork function, or set lazy-apps = true)", threads=names)
        fork = raw
        if raw is not None and _threads() > 1:
            fork = None  # a bare fork would leave the other threads' states (and maybe the GIL) behind
            if not said_threads:
                said_threads = True
                log("INFO", "the zygote has other threads: workers are forked with os.fork() "
                    "(CPython's after-fork callbacks run in them)")
        pid = _fork(ctrl, fds, jobs, seq, fork)
        if pid == 0:
            return  # in the worker
        forked = True
        _close(fds)
        if pid < 0:
            ctrl.send(b"error %d fork failed" % seq)


def warm_up(app, paths, log):
    """preload-warmup: GET each path from the app, WARMUP_ROUNDS times,
    before forking, so what the app builds on its first requests (URL
    resolvers, compiled templates, caches) and the specialized bytecode of
    the request path are the zygote's, shared by every worker, instead of
    built again in each. A path that fails is logged; the zygote goes on."""
    for path in paths:
        target, _, query = path.partition("?")
        status = []

        def start_response(st, headers, exc_info=None):
            status[:] = [st]
            return lambda data: None

        try:
            for _ in range(WARMUP_ROUNDS):
                body = app(_warmup_environ(target, query), start_response)
                try:
                    for _ in body:
                        pass
                finally:
                    if hasattr(body, "close"):
                        body.close()
        except Exception as e:
            log("WARN", "preload-warmup: the app raised; the workers fork without this path warmed",
                path=path, error="%s: %s" % (type(e).__name__, e))
            continue
        log("INFO", "preload-warmup", path=path, status=status[0] if status else "none", rounds=WARMUP_ROUNDS)


def warm_fork_callbacks():
    """Runs, in the zygote, WARMUP_ROUNDS times, the after-fork callbacks
    CPython runs in every forked child (threading's and logging's, which
    they register with os.register_at_fork), so that what their first
    runs write (their code's warm-up counters and specialized bytecode,
    caches) is written once here instead of copied into each worker:
    ~85 KB of private memory less per worker (docs/benchmarks.md). Only
    while the zygote is single-threaded, where they change nothing:
    threading's marks every other thread stopped, as it does in a child.
    A callback this Python lacks, or that fails, is skipped."""
    if threading.active_count() != 1:
        return
    import logging
    for call in (getattr(threading, "_after_fork", None), getattr(logging, "_after_at_fork_child_reinit_locks", None)):
        if not callable(call):
            continue
        try:
            for _ in range(WARMUP_ROUNDS):
                call()
        except Exception:
            pass


def raw_fork(log):
    """The bare fork(2) the zygote forks the workers with, as uWSGI does
    (it calls no PyOS_AfterFork_Child unless py-call-osafterfork): libc's
    fork through ctypes, or None for os.fork(). os.fork() runs CPython's
    after-fork work in the child, the os.register_at_fork callbacks
    (threading's, logging's, random's, the app's), and every object that
    Python touches gets its reference count written, so its page copied:
    private memory in every worker (docs/benchmarks.md). For a
    process with one thread, forked from that thread with the GIL held
    (PyDLL keeps it held across the call), the child's interpreter state
    is consistent without that work; _after_fork does the little the
    worker still needs. None with py-call-osafterfork = true, or when
    ctypes is not there (said once)."""
    if os.environ.get(ENV_CALL_OSAFTERFORK) == "1":
        return None
    try:
        import ctypes
        fork = ctypes.PyDLL(None, use_errno=True).fork
        fork.argtypes = []
        fork.restype = ctypes.c_int
    except (ImportError, OSError, AttributeError) as e:
        log("INFO", "no bare fork (ctypes): workers are forked with os.fork(), CPython's after-fork callbacks run in them",
            error=e)
        return None

    def bare():
        pid = fork()
        if pid < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return pid

    bare.cfunc = fork  # for _fork_workers: -1 on failure, no Python around the call
    return bare


def _after_fork(raw):
    """In the forked worker: threading's main thread gets this process's
    native thread id (os.fork's callbacks leave it stale before Python
    3.12). After the bare fork (raw), what else of CPython's after-fork
    work matters for a one-thread process: random gets its own seed
    (os.fork reseeds it through its at-fork callback; uWSGI's workers,
    which skip that, all share the zygote's sequence). The other parts of
    PyOS_AfterFork_Child (re-creating the GIL, the import lock and the
    runtime's mutexes, deleting other threads' states and interpreters,
    clearing signals caught but not yet handled) have nothing to fix in
    a process with one thread that forked holding the GIL, from its main
    thread, outside any import. The uwsgi module's per-process state is
    refreshed by its _after_fork (worker.py calls it)."""
    set_native_id = getattr(threading.main_thread(), "_set_native_id", None)
    if set_native_id is not None:
        set_native_id()
    rnd = sys.modules.get("random") if raw else None
    if rnd is not None:
        rnd.seed()


def _trimmer(log):
    """The zygote's trim, or None without ctypes' madvise: once its workers
    are forked, the zygote drops from its page tables the pages of the
    read-only file mappings (shared libraries' code and constants, the
    interpreter's text) that it alone has mapped, with MADV_DONTNEED, as
    the Go master does with its binary's start-up pages (supervisor/trim.go).
    The import faulted them in (e.g. libcrypto's 3 MB for hashlib and
    ssl); a worker that uses a page faults it in from the page cache and
    shares it. They stay in the page cache, where the kernel reclaims
    unmapped pages first; the zygote's PSS no longer counts them (3-4 MB
    for a Flask app, docs/benchmarks.md). What its next forks run faults
    back in. Only mappings that are not writable and hold no anonymous
    (copy-on-write) page are dropped, so no byte of its state is lost."""
    try:
        import ctypes
        madvise = ctypes.CDLL(None, use_errno=True).madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        madvise.restype = ctypes.c_int
    except (ImportError, OSError, AttributeError):
        return None

    def trim():
        try:
            spans = _clean_file_mappings()
        except OSError:
            return
        kb = 0
        for lo, hi, rss in spans:
            if madvise(lo, hi - lo, MADV_DONTNEED) == 0:
                kb += rss
        log("INFO", "the zygote dropped its read-only file pages", resident_kb=kb, mappings=len(spans))

    return trim


def _malloc_trim():
    """Returns the free pages inside malloc's heap to the kernel
    (malloc_trim(0), glibc), before the first fork: what the app's import
    freed there is no page the workers share and copy. ~75 KB less
    private memory a worker, 1.8 MB less over 16 (docs/benchmarks.md)."""
    try:
        import ctypes
        ctypes.CDLL(None).malloc_trim(0)
    except (ImportError, OSError, AttributeError):
        pass  # not glibc


def _clean_file_mappings():
    """(start, end, Rss KB) of this process's resident file mappings that
    are not writable and hold no anonymous page (/proc/self/smaps)."""
    out = []
    cur = None
    with open("/proc/self/smaps", "rb") as f:
        for line in f:
            head = line.split(None, 6)
            if not head[0].endswith(b":"):
                if cur is not None and cur[3] == 0 and cur[2] > 0:
                    out.append(tuple(cur[:3]))
                cur = None
                if len(head) >= 6 and b"w" not in head[1] and head[5].startswith(b"/") and b"(deleted)" not in line:
                    lo, _, hi = head[0].partition(b"-")
                    cur = [int(lo, 16), int(hi, 16), 0, 0]
            elif cur is not None:
                if head[0] == b"Rss:":
                    cur[2] = int(head[1])
                elif head[0] == b"Anonymous:":
                    cur[3] = int(head[1])
    if cur is not None and cur[3] == 0 and cur[2] > 0:
        out.append(tuple(cur[:3]))
    return out


def _threads():
    """This process's threads, the app's C threads too (/proc), else
    threading's count."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _warmup_environ(path, query):
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
        "REQUEST_URI": path + ("?" + query if query else ""), "SERVER_NAME": "localhost", "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "localhost", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_USER_AGENT": "supervise-preload-warmup", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": True, "wsgi.run_once": False,
    }


def _fork(ctrl, fds, jobs, seq, raw):
    """Double fork: returns the middle process's pid in the zygote (-1 on
    failure), 0 in each worker. The middle process forks the workers of
    jobs ((unset, set, log index) each) back to back (_fork_workers),
    answers the master with their pids and exits, so the workers are
    orphaned and the master (a child subreaper) adopts them; the zygote
    goes back to its loop at once and reaps the middle process later
    (_reap). Every fork is raw() (raw_fork), or os.fork() when raw is
    None."""
    fork = raw or os.fork
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            pass
    try:
        middle = fork()
    except OSError:
        return -1
    if middle != 0:
        return middle
    try:
        pids, index = _fork_workers(len(jobs), raw)
    except BaseException:
        try:
            ctrl.send(b"error %d fork failed" % seq)
        finally:
            os._exit(1)
    if index is not None:
        try:
            _after_fork(raw is not None)
            unset, put, log = jobs[index]
            own = [fds[log]] if 0 <= log < len(fds) else []
            _close([fd for fd in fds if fd not in own])  # the other workers' log pipes
            _become_worker(ctrl, own, (unset, put))
        except BaseException:
            os._exit(1)
        return 0
    try:
        ctrl.send(b"pids %d %s" % (seq, b" ".join(b"%d" % max(p, 0) for p in pids)))
    finally:
        os._exit(0)


def _fork_workers(n, raw):
    """Forks n workers back to back: (their pids, -1 for a failed fork;
    None) in the process that forked them, (the pids forked before it;
    its index) in each worker. Whatever the forking process writes
    between two forks (reference counts, bytecode counters, pymalloc's
    pools) is copied into every worker forked before, so with the bare
    fork no line of Python runs between two: iter() calls libc's fork
    until it returns 0 (in a worker) and islice stops it after n, all in
    C (~100 KB less per worker than a Python loop round,
    docs/benchmarks.md)."""
    if raw is not None:
        pids = list(itertools.islice(iter(raw.cfunc, 0), n))
        return pids, (len(pids) if len(pids) < n else None)
    pids = []
    for _ in range(n):
        try:
            pid = os.fork()
        except OSError:
            pid = -1
        if pid == 0:
            return pids, len(pids)
        pids.append(pid)
    return pids, None


def _reap():
    """Collects the middle processes that have exited."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        if pid == 0:
            return


def _become_worker(ctrl, fds, env):
    """In the forked worker: its own log pipe on fds 1 and 2, its own
    environment, no fork socket."""
    ctrl.close()
    if fds:
        os.dup2(fds[0], 1)
        os.dup2(fds[0], 2)
        _close(fds)
    # Only what differs from the zygote's environment comes (the master
    # works it out): rewriting every variable would copy (and dirty)
    # ~700 KB of the zygote's pages in every worker, and decoding the
    # whole environment in the zygote writes pages each worker keeps.
    unset, put = env
    for k in unset:
        os.environ.pop(k, None)
    for kv in put:
        k, sep, v = kv.partition("=")
        if sep and k:
            os.environ[k] = v


def _rights(anc):
    fds = array.array("i")
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - (len(data) % fds.itemsize)])
    return list(fds)


def _close(fds):
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _alive(fd):
    """False once the master's lifeline reads EOF."""
    try:
        return bool(os.read(fd, 1))
    except InterruptedError:
        return True
    except OSError:
        return False
