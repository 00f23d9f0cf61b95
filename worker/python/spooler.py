# supervise's spooler: the uwsgi module's spool functions (every Python
# process) and the spooler process itself (main(): worker.py runs it when
# the master starts worker.py as a spooler, supervisor/services.go).
#
# Task files are uWSGI 2.0's: a uwsgi packet (modifier1 17, the vars
# block's size as u16 little-endian, modifier2 0), the vars block, then
# the body; named uwsgi_spoolfile_on_HOST_PID_COUNTER_RAND_SEC_USEC in
# the spooler directory, or in its PRIORITY subdirectory; `at` is the
# file's mtime (not run before). A file written by uWSGI runs here and
# the reverse (docs/python-api.md, "The spooler").
#
# A task runs at most once after a crash: the spooler process claims a
# file with uWSGI's fcntl write lock (so uWSGI's spoolers and ours never
# run the same file), then sets its owner-execute bit while it runs (one
# fchmod: cheaper than a rename, and invisible to uWSGI). A spooler
# process that dies in a task (crash, spooler-harakiri, SIGKILL after
# worker-reload-mercy) leaves the bit set, its lock released by the
# kernel; the next scan moves the file to supervise-failed/ with one log
# line and never runs it again. uWSGI's spooler leaves nothing behind,
# so it runs the task again: once per crash.
import errno as _errno
import fcntl as _fcntl
import json as _json
import mmap as _mmap
import os as _os
import signal as _signal
import socket as _socket
import struct as _struct
import sys as _sys
import threading as _threading
import time as _time

# The contract: mirrors ipc/services.go (contract_test.go checks it).
_ENV_SERVICES = "SUPERVISE_SERVICES"
_ENV_SPOOLER = "SUPERVISE_SPOOLER"
_SERVICE_HEADER_WORDS = 8
_SERVICE_SLOTS = 1024
_SERVICE_SLOT_WORDS = 8
_SVC_PID, _SVC_TASKS, _SVC_RUNNING, _SVC_TASK_START_NS = 0, 1, 2, 3
# a header word: uwsgi.set_spooler_frequency()'s seconds, 0 = spooler-frequency
_SVC_FREQUENCY = 2

SPOOL_RETRY = -1
SPOOL_OK = -2
SPOOL_IGNORE = 0

_RESULTS = {SPOOL_OK: "SPOOL_OK", SPOOL_RETRY: "SPOOL_RETRY", SPOOL_IGNORE: "SPOOL_IGNORE"}
_PREFIX = "uwsgi_spoolfile_on_"
_RUNNING_BIT = 0o100  # S_IXUSR: the task is running (or its process died in it)
_FAILED_DIR = "supervise-failed"
_MODIFIER1 = 17
_EMPTY_GRACE = 60  # seconds an empty task file may be a writer's (uWSGI's lock race) before it is invalid


class _Services(object):
    """What EnvServices names: the spooler directories with their wake
    sockets, and the services board. Parsed once per process."""

    def __init__(self):
        raw = _os.environ.get(_ENV_SERVICES, "")
        conf = _json.loads(raw) if raw else {}
        self.conf = conf
        self.dirs = [d["dir"] for d in conf.get("spoolers") or []]
        self.slots = [list(d.get("slots") or []) for d in conf.get("spoolers") or []]
        self.wake = []
        for d in conf.get("spoolers") or []:
            try:
                self.wake.append(_socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM, 0, d["wake"]))
            except (OSError, ValueError):
                self.wake.append(None)
        self.board = None
        fd = conf.get("board", -1)
        if fd is not None and fd >= 0:
            try:
                size = (_SERVICE_HEADER_WORDS + _SERVICE_SLOTS * _SERVICE_SLOT_WORDS) * 8
                self.board = _mmap.mmap(fd, size, _mmap.MAP_SHARED, _mmap.PROT_READ | _mmap.PROT_WRITE)
            except (OSError, ValueError):
                self.board = None

    def word(self, off):
        if self.board is None:
            return 0
        return _struct.unpack_from("<Q", self.board, off * 8)[0]

    def set_word(self, off, value):
        if self.board is not None:
            _struct.pack_into("<Q", self.board, off * 8, value)

    def slot_word(self, slot, w):
        return self.word(_SERVICE_HEADER_WORDS + slot * _SERVICE_SLOT_WORDS + w)

    def set_slot_word(self, slot, w, value):
        self.set_word(_SERVICE_HEADER_WORDS + slot * _SERVICE_SLOT_WORDS + w, value)


_services = None
_services_lock = _threading.Lock()


def _svc():
    global _services
    if _services is None:
        with _services_lock:
            if _services is None:
                _services = _Services()
    return _services


# ------------------------------------------------ the uwsgi module's part

_counter = [0]
_counter_lock = _threading.Lock()
_hostname = _socket.gethostname()


def _as_bytes(v, what):
    if type(v) is bytes:
        return v
    if isinstance(v, str):  # uWSGI takes bytes only; str is encoded (UTF-8) rather than refused
        return v.encode("utf-8")
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    raise ValueError("spooler callable dictionary must contains only bytes (%s %r)" % (what, type(v).__name__))


def _packet(pairs):
    out = []
    for k, v in pairs:
        if len(k) > 0xffff or len(v) > 0xffff:
            raise ValueError("a spooler var is limited to 64k, use the 'body' for bigger values")
        out.append(_struct.pack("<H", len(k)) + k + _struct.pack("<H", len(v)) + v)
    return b"".join(out)


def _spooler_for(name):
    svc = _svc()
    if not svc.dirs:
        raise ValueError("unable to spool job: no spooler is configured (add spooler = DIR)")
    if name is None:
        return 0
    name = name.decode("utf-8", "surrogateescape")
    for i, d in enumerate(svc.dirs):
        if d == name or d == _os.path.realpath(name):
            return i
    raise ValueError("unable to spool job: no spooler on %r (spoolers: %s)" % (name, ", ".join(svc.dirs)))


def spool(*args, **kwargs):
    """uwsgi.spool(dict) / uwsgi.send_to_spooler(): writes a task file
    in uWSGI's format and wakes a spooler process; returns its path
    (bytes), as uWSGI does."""
    if args:
        d = args[0]
        if not isinstance(d, dict):
            raise ValueError("The argument of spooler callable must be a dictionary")
    else:
        d = kwargs
    if not d and not kwargs:
        raise ValueError("The argument of spooler callable must be a dictionary")
    body = b""
    pairs = []
    special = {}
    for k, v in d.items():
        k = _as_bytes(k, "key")
        if k == b"body" and isinstance(v, (bytes, str)):
            body = _as_bytes(v, "body")
            continue
        v = _as_bytes(v, "value of %r" % k)
        if k in (b"spooler", b"priority", b"at"):
            special[k] = v
        pairs.append((k, v))
    vars_block = _packet(pairs)
    if len(vars_block) > 0xffff:
        raise ValueError("[uwsgi-spooler] args buffer is limited to 64k, use the 'body' for bigger values")
    index = _spooler_for(special.get(b"spooler"))
    directory = _svc().dirs[index]
    priority = special.get(b"priority")
    if priority:
        if not priority.isdigit():
            raise ValueError("unable to spool job: priority must be a number (it names a subdirectory), got %r" % priority)
        directory = _os.path.join(directory, priority.decode())
        try:
            _os.mkdir(directory, 0o777)
        except FileExistsError:
            pass
    at = 0
    if special.get(b"at"):
        try:
            at = int(special[b"at"].split(b".")[0])
        except ValueError:
            raise ValueError("unable to spool job: at must be a unix time, got %r" % special[b"at"])
    with _counter_lock:
        _counter[0] += 1
        n = _counter[0]
    now = _time.time()
    name = "%s%s_%d_%d_%d_%d_%d" % (_PREFIX, _hostname, _os.getpid(), n, int.from_bytes(_os.urandom(4), "little") >> 1,
                                   int(now), int((now % 1) * 1000000))
    path = _os.path.join(directory, name)
    # uWSGI's way: the file is write-locked (fcntl) from just after its
    # creation until it is complete, so no spooler (ours or uWSGI's) runs
    # it half-written; one that locks it first finds it empty and leaves it.
    fd = _os.open(path, _os.O_CREAT | _os.O_EXCL | _os.O_WRONLY | _os.O_CLOEXEC, 0o600)
    try:
        _fcntl.lockf(fd, _fcntl.LOCK_EX)
        data = _struct.pack("<BHB", _MODIFIER1, len(vars_block), 0) + vars_block + body
        view = memoryview(data)
        while view:
            view = view[_os.write(fd, view):]
        if at > 0:
            _os.utime(fd, (at, at))
    except BaseException:
        try:
            _os.unlink(path)
        except OSError:
            pass
        raise
    finally:
        _os.close(fd)
    wake = _svc().wake[index]
    if wake is not None:
        try:
            wake.send(b"w", _socket.MSG_DONTWAIT)
        except OSError:
            pass  # full: enough wake-ups are queued already
    return path.encode("utf-8", "surrogateescape")


send_to_spooler = spool


def spooler_jobs():
    """The task files waiting in the first spooler directory (bytes
    paths), as uWSGI lists them."""
    svc = _svc()
    if not svc.dirs:
        return []
    out = []
    try:
        entries = list(_os.scandir(svc.dirs[0]))
    except OSError:
        return out
    for e in entries:
        if e.name.startswith(_PREFIX) and e.is_file(follow_symlinks=False) and _os.access(e.path, _os.R_OK | _os.W_OK):
            out.append(e.path.encode("utf-8", "surrogateescape"))
    return out


def _alive(pid):
    if pid <= 0:
        return False
    try:
        _os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _slot_pid(slot):
    pid = _svc().slot_word(slot, _SVC_PID)
    return pid if _alive(pid) else 0


def spooler_pid():
    """The pid of the first spooler process (0 when none runs)."""
    svc = _svc()
    if not svc.slots or not svc.slots[0]:
        return 0
    return _slot_pid(svc.slots[0][0])


def spooler_pids():
    return [_slot_pid(s) for slots in _svc().slots for s in slots]


def _targets():
    """Every spooler process and mule as (role, id, pid), spoolers numbered
    1.. over all directories in config order, mules by id; pid 0 while one
    restarts. For uwsgi signal targets ("spooler", "mule", "muleN")."""
    svc = _svc()
    out = []
    n = 0
    for slots in svc.slots:
        for slot in slots:
            n += 1
            out.append(("spooler", n, _slot_pid(slot)))
    for m in svc.conf.get("mules") or []:
        out.append(("mule", m["id"], _slot_pid(m["slot"])))
    return out


def i_am_the_spooler():
    return True if _me is not None else None  # uWSGI returns None, not False, elsewhere


def spooler_dir():
    if _me is None:
        raise ValueError("This process is not a spooler")
    return _me.dir.encode("utf-8", "surrogateescape")


def set_spooler_frequency(seconds):
    """Every spooler process's scan interval from now on (shared, as in
    uWSGI), until the master restarts."""
    seconds = int(seconds)
    _svc().set_word(_SVC_FREQUENCY, max(seconds, 0))
    return True


def spooler_get_task(path):
    """A task file's dict (as the spooler callable gets it), or None."""
    if isinstance(path, bytes):
        path = path.decode("utf-8", "surrogateescape")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        return _task_dict(_os.path.basename(path), data)
    except ValueError:
        return None


def _parse(data):
    """(vars dict, body) of a task file's bytes; ValueError when it is
    not one."""
    if len(data) < 4:
        raise ValueError("shorter than the 4-byte uwsgi header (%d bytes)" % len(data))
    _, size, _ = _struct.unpack_from("<BHB", data, 0)
    if size > len(data) - 4:
        raise ValueError("the header says %d bytes of vars, the file has %d" % (size, len(data) - 4))
    out = {}
    pos, end = 4, 4 + size
    while pos < end:
        if pos + 2 > end:
            raise ValueError("a var is cut short at byte %d" % pos)
        (kl,) = _struct.unpack_from("<H", data, pos)
        pos += 2
        if pos + kl + 2 > end:
            raise ValueError("a key runs past the vars block at byte %d" % pos)
        k = data[pos:pos + kl]
        pos += kl
        (vl,) = _struct.unpack_from("<H", data, pos)
        pos += 2
        if pos + vl > end:
            raise ValueError("a value runs past the vars block at byte %d" % pos)
        out[k] = data[pos:pos + vl]
        pos += vl
    return out, data[end:]


def _task_dict(name, data):
    parsed, body = _parse(data)
    d = {"spooler_task_name": name.encode("utf-8", "surrogateescape")}
    d.update(parsed)
    if body:
        d["body"] = body
    return d


_EXPORTS = ("spool", "send_to_spooler", "spooler_jobs", "spooler_pid", "spooler_pids", "i_am_the_spooler",
            "set_spooler_frequency", "spooler_get_task", "spooler_dir", "SPOOL_OK", "SPOOL_RETRY", "SPOOL_IGNORE")


def _install(namespace):
    """Puts the spool functions into the uwsgi module (uwsgi_api.py)."""
    for name in _EXPORTS:
        namespace[name] = globals()[name]


# ------------------------------------------------ the spooler process

_me = None  # this process's _Spooler, in a spooler process


def _version_key(name):
    """glibc's versionsort, which uWSGI's spooler-ordered uses: digit
    runs compare as numbers."""
    import re  # the spooler process only: workers import this module too
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.findall(r"\d+|\D+", name)]


class _Stop(Exception):
    pass


class _Spooler(object):
    def __init__(self, conf, worker):
        self.w = worker
        self.dir = conf["dir"]
        self.slot = conf.get("slot", 0)
        self.frequency = max(int(conf.get("frequency") or 30), 1)
        self.max_tasks = int(conf.get("max_tasks") or 0)
        self.harakiri = int(conf.get("harakiri") or 0)
        self.chdir = conf.get("chdir") or ""
        self.quiet = bool(conf.get("quiet"))
        self.imports = conf.get("import") or []
        self.processes = max(int(conf.get("processes") or 1), 1)
        self.index = int(conf.get("index") or 0)
        self.wake = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM, 0, conf["wake"])
        self.wake.setblocking(True)
        self.timeout = 0
        self.tasks = 0
        self.in_task = False
        self.stopping = False
        self.no_callable_logged = 0.0

    def log(self, level, msg, **kv):
        self.w.log(level, msg, **kv)

    # -- signals: SIGTERM finishes the running task, then exits
    def on_term(self, signum, frame):
        self.stopping = True
        if not self.in_task:
            raise _Stop()

    def run(self):
        svc = _svc()
        svc.set_slot_word(self.slot, _SVC_PID, _os.getpid())
        try:
            self.log("INFO", "spooler ready", dir=self.dir, pid=_os.getpid(), frequency=self.frequency)
            while not self.stopping:
                self.scan()
                if self.stopping:
                    break
                self.wait()
        except _Stop:
            pass
        self.log("INFO", "spooler stopped", dir=self.dir, tasks=self.tasks)

    def wait(self):
        """Until a writer's wake-up or the scan interval. A blocking recv
        (SO_RCVTIMEO), not select: the kernel wakes one of the spooler
        processes sleeping on the directory's socket, not all of them."""
        freq = _svc().word(_SVC_FREQUENCY) or self.frequency
        if freq != self.timeout:
            self.timeout = freq
            self.wake.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVTIMEO, _struct.pack("ll", freq, 0))
        try:
            self.wake.recv(16)
        except (BlockingIOError, InterruptedError):
            return  # the interval passed
        except OSError:
            return
        while True:  # every queued wake-up: one scan sees all their tasks
            try:
                self.wake.recv(16, _socket.MSG_DONTWAIT)
            except OSError:
                break

    def scan(self, directory=None):
        directory = directory or self.dir
        try:
            names = _os.listdir(directory)
        except OSError as e:
            self.log("ERROR", "cannot read the spooler directory", dir=directory, error=e)
            return
        names.sort(key=_version_key)
        if self.processes > 1 and directory == self.dir and len(names) > 1:
            # spooler processes on one directory start at different places
            # in it, rather than racing for the same files one by one
            cut = len(names) * self.index // self.processes
            names = names[cut:] + names[:cut]
        now = _time.time()
        for name in names:
            if self.stopping:
                return
            path = _os.path.join(directory, name)
            if name.isdigit() and directory == self.dir:
                if _os.path.isdir(path) and not _os.path.islink(path):
                    self.scan(path)  # a priority: lower numbers first, before plain tasks
                continue
            if name.startswith(_PREFIX):
                self.manage(directory, name, now)

    def claim(self, path):
        """An open fd holding the file's fcntl write lock (uWSGI's) and
        its stat, or (None, None): gone, locked by its writer or another
        spooler process."""
        try:
            fd = _os.open(path, _os.O_RDWR | _os.O_CLOEXEC)
        except OSError:
            return None, None
        try:
            _fcntl.lockf(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
            st = _os.fstat(fd)
            if _os.lstat(path).st_ino != st.st_ino:  # renamed or removed meanwhile
                raise OSError(_errno.ENOENT, "gone")
        except OSError:
            _os.close(fd)
            return None, None
        return fd, st

    def move_aside(self, directory, name, why, **kv):
        failed = _os.path.join(self.dir, _FAILED_DIR)
        try:
            _os.mkdir(failed, 0o750)
        except FileExistsError:
            pass
        except OSError as e:
            self.log("ERROR", "cannot make the directory for failed tasks", dir=failed, error=e)
            return
        target = _os.path.join(failed, name)
        try:
            _os.rename(_os.path.join(directory, name), target)
        except OSError as e:
            self.log("ERROR", "cannot move a task aside", task=name, error=e)
            return
        self.log("ERROR", why, task=name, moved_to=target, **kv)

    def recover(self, fd, directory, name, mode):
        """A claimed task with the running bit: its spooler process died
        while running it."""
        _os.fchmod(fd, mode & 0o7777 & ~_RUNNING_BIT)  # moved back by hand, it runs
        self.move_aside(directory, name, "a spooler process died while running this task; "
                        "it is not run again (move it back into the spooler directory to run it)")

    def manage(self, directory, name, now):
        path = _os.path.join(directory, name)
        try:
            st = _os.lstat(path)
        except OSError:
            return
        if not _stat_isreg(st.st_mode):
            return
        running = st.st_mode & _RUNNING_BIT
        if not running and (st.st_mtime > now or (st.st_size == 0 and now - st.st_mtime < _EMPTY_GRACE)):
            return  # at= in the future, or a writer between its open and its lock
        fd, st = self.claim(path)
        if fd is None:
            return  # being written, or run by another spooler process
        try:
            if st.st_mode & _RUNNING_BIT:
                self.recover(fd, directory, name, st.st_mode)
            else:
                self.run_claimed(fd, directory, name, st)
        finally:
            _os.close(fd)  # the lock goes with it

    def run_claimed(self, fd, directory, name, st):
        path = _os.path.join(directory, name)
        mode = st.st_mode
        chunks = []
        want = st.st_size + 1  # one read for the whole file; one more if it grew
        while True:
            b = _os.read(fd, want)
            chunks.append(b)
            if len(b) < want:
                break
            want = 1 << 16
        data = b"".join(chunks)
        if not data and _time.time() - st.st_mtime < _EMPTY_GRACE:
            return  # locked before its writer could: it waits for the lock, then writes
        try:
            task = _task_dict(name, data)
        except ValueError as e:
            self.move_aside(directory, name, "invalid spool file (not uWSGI's task format); it is not run", error=str(e))
            return
        uwsgi = _sys.modules.get("uwsgi")
        func = getattr(uwsgi, "spooler", None) if uwsgi is not None else None
        if func is None:
            t = _time.monotonic()
            if t - self.no_callable_logged > 60:
                self.no_callable_logged = t
                self.log("ERROR", "unable to find the spooler function (uwsgi.spooler): import the module that sets it "
                         "(uwsgidecorators does) in the app or with spooler-import; tasks wait", task=name)
            return
        self.in_task = True  # from the running bit set to cleared: SIGTERM waits
        try:
            self.run_task(fd, func, task, path, mode, directory, name)
        finally:
            self.in_task = False

    def run_task(self, fd, func, task, path, mode, directory, name):
        _os.fchmod(fd, (mode & 0o7777) | _RUNNING_BIT)
        svc = _svc()
        svc.set_slot_word(self.slot, _SVC_TASK_START_NS, _time.monotonic_ns())
        svc.set_slot_word(self.slot, _SVC_RUNNING, 1)
        started = _time.monotonic()
        ret = SPOOL_RETRY
        try:
            _os.chdir(self.chdir or self.dir)  # every time: a task may chdir elsewhere
            if self.harakiri > 0:
                _signal.alarm(self.harakiri)  # SIGALRM's default action ends the process
            try:
                ret = func(task)
            finally:
                if self.harakiri > 0:
                    _signal.alarm(0)
            if not isinstance(ret, int) or isinstance(ret, bool):
                self.log("WARN", "the spooler function returned %r, not an int; the task is retried as uWSGI does "
                         "(return uwsgi.SPOOL_OK when it is done)" % (type(ret).__name__,), task=name)
                ret = SPOOL_RETRY
        except _Stop:
            ret = SPOOL_RETRY
        except Exception:
            self.w.log_traceback("spooler task raised; it is retried at the next scan, as uWSGI does", task=name)
            ret = SPOOL_RETRY
        finally:
            svc.set_slot_word(self.slot, _SVC_RUNNING, 0)
        if ret == SPOOL_OK:
            _os.unlink(path)
        else:
            _os.fchmod(fd, mode & 0o7777)  # SPOOL_RETRY (and anything else): run again later
        if ret != SPOOL_IGNORE:
            self.tasks += 1
            svc.set_slot_word(self.slot, _SVC_TASKS, self.tasks)
        if not self.quiet:  # one line a task (uWSGI: one before, one after)
            self.log("INFO", "task done" if ret == SPOOL_OK else "task kept for the next scan", task=name,
                     seconds="%.3f" % (_time.monotonic() - started), result=_RESULTS.get(ret, ret))
        if self.max_tasks > 0 and self.tasks >= self.max_tasks:
            self.log("INFO", "maximum number of tasks reached (spooler-max-tasks); recycling", tasks=self.tasks)
            self.stopping = True


def _stat_isreg(mode):
    import stat
    return stat.S_ISREG(mode)


def _import_extra(w, name):
    """spooler-import: a module name, or a .py file."""
    import importlib
    import importlib.util as _util
    try:
        if name.endswith(".py"):
            key = "uwsgi_spooler_import_" + "".join(c if c.isalnum() else "_" for c in name)
            spec = _util.spec_from_file_location(key, name)
            mod = _util.module_from_spec(spec)
            _sys.modules[key] = mod
            spec.loader.exec_module(mod)
        else:
            importlib.import_module(name)
    except BaseException:
        w.log_traceback("spooler-import failed", module=name)


def main(w):
    """The spooler process: w is worker.py's module (its logging, app
    loading and lifeline), which loaded this one as _supervise_spooler."""
    global _me
    conf = _json.loads(_os.environ[_ENV_SPOOLER])
    w.NAME = "spooler.%d" % (int(conf.get("slot", 0)) + 1)
    lifeline = _os.environ.get(w.ENV_LIFELINE_FD)
    if lifeline:
        _threading.Thread(target=w.watch_lifeline, args=(int(lifeline),), daemon=True, name="lifeline").start()
    _me = _Spooler(conf, w)
    _signal.signal(_signal.SIGTERM, _me.on_term)
    _signal.signal(_signal.SIGHUP, _signal.SIG_IGN)
    _signal.signal(_signal.SIGALRM, _signal.SIG_DFL)
    try:
        _os.setpriority(_os.PRIO_PROCESS, 0, 19)  # uWSGI lowers the spooler's priority too
    except (OSError, AttributeError):
        pass
    try:
        mod = w.install_uwsgi_module()
        if mod is not None:  # uwsgi signals reach it as "spooler(s)", from its import on
            mod._signals.service("spooler", int(conf.get("slot", 0)) + 1)
        w.load_app()
        for name in _me.imports:
            _import_extra(w, name)
        w.run_postfork(mod)
    except _Stop:
        _os._exit(0)
    _me.run()
    _sys.stdout.flush()
    _sys.stderr.flush()
    _os._exit(0)

