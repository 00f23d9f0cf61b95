# supervise's uWSGI signals, the process side: uwsgi.register_signal,
# signal, add_timer, add_rb_timer, add_cron, add_file_monitor,
# signal_registered, signal_wait, signal_received. uwsgi_api.py loads it
# (_sibling) and exports those names.
#
# As in uWSGI, the handlers live in the process that registered them and
# the master owns the clocks and routes signals. Each process connects
# to the master's signal socket by path (SUPERVISE_SIGNAL_SOCKET, a
# SOCK_SEQPACKET socket in the runtime directory), says who it is, and
# reads its signals on that connection in a thread of its own. A process
# forked from a zygote drops the zygote's connection and opens its own.
# What a zygote registers is the master's table (uWSGI's non-lazy mode:
# registered once, inherited by every worker); what a worker registers
# stays its own, and the master routes its signals to any worker (uWSGI's
# lazy-apps mode). docs/contract.md has the messages.
import operator as _operator
import os as _os
import socket as _socket
import sys as _sys
import threading as _threading
import collections as _collections

# The contract: mirrors ipc/signals.go (contract_test.go checks it).
_ENV_SIGNAL_SOCKET = "SUPERVISE_SIGNAL_SOCKET"
_ENV_WORKER_ID = "SUPERVISE_WORKER_ID"
_ENV_GENERATION = "SUPERVISE_GENERATION"
_SIGNAL_HELLO = "hello"
_SIGNAL_REGISTER = "register"
_SIGNAL_RAISE = "signal"
_SIGNAL_TIMER = "timer"
_SIGNAL_RB_TIMER = "rbtimer"
_SIGNAL_CRON = "cron"
_SIGNAL_FILE_MON = "filemon"
_SIGNAL_DELIVER = "sig"
_SIGNAL_OK = "ok"
_ROLE_WORKER = "worker"
_ROLE_ZYGOTE = "zygote"
_ROLE_MULE = "mule"
_ROLE_SPOOLER = "spooler"
_MAX_SIGNAL_TARGET = 63
# ipc.WkSignals: the word of this worker's scoreboard slot counting handlers run
_WK_SIGNALS = 3

_table = {}  # signal -> (target, handler): this process's, as uWSGI's per-worker table
_role = _ROLE_WORKER
_ident = int(_os.environ.get(_ENV_WORKER_ID) or 0)
_service = None  # (role, id) of a mule or spooler process: service()
_gen = int(_os.environ.get(_ENV_GENERATION) or 1)
_sock = None
_sock_pid = 0
_reader = None
_started = []  # [pid] of the process start() ran in
# One request and its reply at a time; reentrant, so a Python signal
# handler that calls uwsgi.signal() while the main thread is in one
# does not deadlock.
_req_lock = _threading.RLock()
_replies = _collections.deque()
_reply_cond = _threading.Condition()
_pending = []  # signals that arrived while a request read its reply before the reader ran
_delivered = _collections.deque(maxlen=256)  # (seq, signal) for signal_wait
_seq = 0
_seen_cond = _threading.Condition()
_closed = False
_waiting = _threading.local()
_warned_wrap = []
# uwsgi_api.py sets slot_word (uwsgi_harakiri.slot_word); _counter is
# (words, index) of this worker's signals word once a handler ran, or False.
slot_word = None
_counter = None


def _forget_counter():
    global _counter
    _counter = None  # a forked worker finds its own slot


_os.register_at_fork(after_in_child=_forget_counter)


def _log(level, msg, **kv):
    main = _sys.modules.get("__main__")
    fn = getattr(main, "log", None)
    if callable(fn):
        fn(level, msg, **kv)
        return
    tail = "".join(" %s=%s" % (k, v) for k, v in kv.items())
    _sys.stderr.write("[%s] %s%s\n" % (level, msg, tail))


def _log_traceback(msg, **kv):
    main = _sys.modules.get("__main__")
    fn = getattr(main, "log_traceback", None)
    if callable(fn):
        fn(msg, **kv)
        return
    import traceback
    _sys.stderr.write("[ERROR] %s\n%s" % (msg, traceback.format_exc()))


def _num(n):
    """uWSGI parses signal numbers with PyArg's "B": any integer, taken
    modulo 256, no range check (signal(256) is signal 0). We do the same,
    and say so once in the log."""
    v = _operator.index(n)
    if (v < 0 or v > 255) and not _warned_wrap:
        _warned_wrap.append(True)
        _log("WARN", "a uwsgi signal number outside 0-255 is taken modulo 256, as uWSGI does", given=v, signal=v & 0xFF)
    return v & 0xFF


def _args(name, args, least, most):
    """PyArg_ParseTuple's count check, with its messages."""
    n = len(args)
    if least == most and n != least:
        raise TypeError("%s() takes exactly %d argument%s (%d given)" % (name, least, "" if least == 1 else "s", n))
    if n < least:
        raise TypeError("%s() takes at least %d argument%s (%d given)" % (name, least, "" if least == 1 else "s", n))
    if n > most:
        raise TypeError("%s() takes at most %d argument%s (%d given)" % (name, most, "" if most == 1 else "s", n))
    return args


def _where():
    return "%s %d" % (_role, _ident)


# ------------------------------------------------------------ connection


def _connect():
    """This process's connection to the master, opened on first use; None
    when the process is not under a supervise master."""
    global _sock, _sock_pid, _reader, _req_lock, _reply_cond, _seen_cond, _closed
    pid = _os.getpid()
    if _sock is not None and _sock_pid == pid:
        return _sock
    if _sock is not None:  # forked: the parent's connection and locks are not ours
        try:
            _os.close(_sock.detach())
        except OSError:
            pass
        _sock = None
        _reader = None
        _req_lock = _threading.RLock()
        _reply_cond = _threading.Condition()
        _seen_cond = _threading.Condition()
        _replies.clear()
        del _pending[:]
    _closed = False
    path = _os.environ.get(_ENV_SIGNAL_SOCKET, "")
    if not path:
        return None
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    try:
        s.connect(path)
        s.send(("%s %s %d %d" % (_SIGNAL_HELLO, _role, _ident, _gen)).encode())
    except OSError as e:
        s.close()
        raise OSError(e.errno, "uwsgi signals: cannot reach the master's signal socket %s: %s" % (path, e.strerror))
    _sock, _sock_pid = s, pid
    return s


def _request(msg, want_reply=True):
    """Sends msg; returns the master's reply ("ok", "err ..."), or "ok"
    when there is no master (an import check outside a worker)."""
    with _req_lock:
        s = _connect()
        if s is None:
            return _SIGNAL_OK
        s.send(msg.encode("utf-8", "surrogateescape"))
        if not want_reply:
            return None
        if _reader is not None and _reader.is_alive() and _threading.current_thread() is not _reader:
            with _reply_cond:
                while not _replies:
                    if not _reply_cond.wait(10) or _closed:
                        if not _replies:
                            return "err the master did not answer"
                return _replies.popleft()
        while True:  # no reader yet (import time, a zygote) or called from a handler
            data = s.recv(4096)
            if not data:
                return "err the master closed the signal socket"
            text = data.decode("utf-8", "replace")
            if text.startswith(_SIGNAL_DELIVER + " "):
                _pending.append(int(text[len(_SIGNAL_DELIVER) + 1:]))
                continue
            return text


def zygote(generation=None):
    """Called by a zygote before it imports the app: what it registers is
    the master's table and its timers run once for the generation."""
    global _role, _ident, _gen
    _role, _ident = _ROLE_ZYGOTE, 0
    _gen = int(generation or _os.environ.get(_ENV_GENERATION) or 1)


def service(role, ident):
    """Called by a mule or spooler process before its post-fork hooks: the
    role and id start() connects as (uWSGI's mule and spooler targets)."""
    global _service
    _service = (role, int(ident))


def start(role=None, ident=None, generation=None):
    """Called once a process is what it will be (a worker after the
    post-fork hooks, a mule, a spooler): connects as that role and starts
    the thread that runs the handlers of the signals it receives."""
    global _role, _ident, _gen, _sock
    if role is None and _service is not None:
        role, ident = _service
    role = role or _ROLE_WORKER
    ident = int(ident if ident is not None else (_os.environ.get(_ENV_WORKER_ID) or 0))
    gen = int(generation or _os.environ.get(_ENV_GENERATION) or 1)
    if (role, ident, gen) != (_role, _ident, _gen) and _sock is not None and _sock_pid == _os.getpid():
        with _req_lock:  # a new identity in the same process: a new hello on a new connection
            _sock.close()
            _sock = None
    _role, _ident, _gen = role, ident, gen
    if _connect() is None:
        return
    _started[:] = [_os.getpid()]
    if _table:
        _start_reader()


def _start_reader():
    """The thread that reads this process's signals and runs their
    handlers, once the process has a handler (start, register_signal) or
    waits for a signal (signal_wait): a process's first thread costs it
    ~0.3 MB (docs/benchmarks.md), and one without handlers is sent
    nothing to run, as uWSGI's single-threaded worker."""
    global _reader
    pid = _os.getpid()
    if _sock is None or _sock_pid != pid or _started != [pid]:
        return  # not started in this process (a zygote's registrations, an import check)
    with _req_lock:
        if _reader is not None and _reader.is_alive():
            return
        _reader = _threading.Thread(target=_read, name="uwsgi-signals", daemon=True)
        _reader.start()


def _read():
    global _closed
    s = _sock
    for sig in list(_pending):
        _pending.remove(sig)
        _handle(sig)
    while True:
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:
            _closed = True
            with _reply_cond:
                _reply_cond.notify_all()
            with _seen_cond:
                _seen_cond.notify_all()
            if s is _sock:
                _log("WARN", "the master closed the signal socket: this process gets no more uwsgi signals")
            return
        text = data.decode("utf-8", "replace")
        if text.startswith(_SIGNAL_DELIVER + " "):
            _handle(int(text[len(_SIGNAL_DELIVER) + 1:]))
        else:
            with _reply_cond:
                _replies.append(text)
                _reply_cond.notify_all()


def _handle(sig):
    """Runs sig's handler: uWSGI's uwsgi_signal_handler. A handler that
    raises is logged with its traceback and the process goes on."""
    global _seq, _counter
    entry = _table.get(sig)
    if entry is None:
        _log("ERROR", "error managing signal %d on %s (no handler registered here)" % (sig, _where()))
    else:
        if _counter is None:  # in this process, after any fork: _handle runs in its reader thread only
            _counter = (_role == _ROLE_WORKER and slot_word is not None and slot_word(_WK_SIGNALS)) or False
        if _counter:  # uWSGI's workers[].signals, counted before the handler runs
            _counter[0][_counter[1]] += 1
        try:
            entry[1](sig)
        except Exception:
            _log_traceback("error managing signal %d on %s: the handler raised" % (sig, _where()), signal=sig)
    with _seen_cond:
        _seq += 1
        _delivered.append((_seq, sig))
        _seen_cond.notify_all()


# ------------------------------------------------------------ the API


def register_signal(*args):
    num, target, handler = _args("register_signal", args, 3, 3)
    sig = _num(num)
    if not isinstance(target, str):
        raise TypeError("register_signal() argument 2 must be str, not %s" % type(target).__name__)
    if len(target.encode("utf-8", "surrogateescape")) > _MAX_SIGNAL_TARGET:
        raise ValueError("unable to register signal")
    if _role == _ROLE_ZYGOTE:
        reply = _request("%s %d %s" % (_SIGNAL_REGISTER, sig, target))
        if reply != _SIGNAL_OK:
            _log("ERROR", "[uwsgi-signal] %s" % reply[4:], signal=sig)
            raise ValueError("unable to register signal")
    _table[sig] = (target, handler)
    _start_reader()  # connected (started) and the first handler: its signals can come now
    _log("INFO", "[uwsgi-signal] signum %d registered (wid: %d modifier1: 0 target: %s)" % (
        sig, _ident, target or "default, any worker"))


def signal_registered(num):
    """True when this process has a handler for the signal, else None
    (uWSGI's values)."""
    return True if _num(num) in _table else None


def signal(num, remote=None):
    """Raises a signal: the master routes it to the target registered for
    it in the master's table (any worker when none is)."""
    sig = _num(num)
    if remote is not None:
        if not isinstance(remote, str):
            raise TypeError("signal() argument 2 must be str, not %s" % type(remote).__name__)
        raise IOError("unable to deliver signal %d to node %s (remote uWSGI signals are not available under supervise)"
                      % (sig, remote))
    if _request("%s %d" % (_SIGNAL_RAISE, sig), want_reply=False) is _SIGNAL_OK:
        _log("WARN", "uwsgi.signal(%d): no supervise master to send it to" % sig)


def _add(msg, what):
    reply = _request(msg)
    if reply != _SIGNAL_OK:
        _log("ERROR", "uwsgi: unable to add %s: %s" % (what, reply[4:]))
        raise ValueError("unable to add %s" % what)


def add_timer(*args):
    num, secs = _args("add_timer", args, 2, 2)
    sig = _num(num)
    _add("%s %d %d" % (_SIGNAL_TIMER, sig, _operator.index(secs)), "timer")


def add_rb_timer(*args):
    num, secs, iterations = (_args("add_rb_timer", args, 2, 3) + (0,))[:3]
    sig = _num(num)
    _add("%s %d %d %d" % (_SIGNAL_RB_TIMER, sig, _operator.index(secs), _operator.index(iterations)), "rb_timer")


def add_cron(*args):
    num, minute, hour, day, month, week = _args("add_cron", args, 6, 6)
    sig = _num(num)
    fields = [_operator.index(v) for v in (minute, hour, day, month, week)]
    _add("%s %d %s" % (_SIGNAL_CRON, sig, " ".join(str(v) for v in fields)), "cron")


def add_file_monitor(*args):
    num, filename = _args("add_file_monitor", args, 2, 2)
    sig = _num(num)
    if not isinstance(filename, str):
        raise TypeError("add_file_monitor() argument 2 must be str, not %s" % type(filename).__name__)
    if len(filename.encode("utf-8", "surrogateescape")) > 254:
        _log("ERROR", "uwsgi_add_file_monitor: invalid filename length")
        raise ValueError("unable to add file monitor")
    _add("%s %d %s" % (_SIGNAL_FILE_MON, sig, filename), "file monitor")


def signal_wait(num=None):
    """Waits until this process receives a signal (num, when given), runs
    its handler (in the signal thread) and returns b"", as uWSGI's."""
    want = None if num is None else _num(num)
    _waiting.received = -1
    _start_reader()
    if _reader is None or not _reader.is_alive() or _sock_pid != _os.getpid():
        raise SystemError("error waiting for signal")
    with _seen_cond:
        last = _seq
        while True:
            for seq, sig in _delivered:
                if seq > last and (want is None or sig == want):
                    _waiting.received = sig
                    return b""
            last = _seq
            if _closed:
                raise SystemError("error waiting for signal")
            _seen_cond.wait()


def signal_received():
    """The signal the last signal_wait() in this thread returned for."""
    return getattr(_waiting, "received", 0)
