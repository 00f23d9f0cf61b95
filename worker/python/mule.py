# supervise's mules: the uwsgi module's mule functions (every Python
# process) and the mule process itself (main(): worker.py runs it when
# the master starts worker.py as a mule, supervisor/services.go).
#
# As in uWSGI, a message is one datagram on a socketpair the master made
# once: one queue per mule, one every mule reads (uwsgi.mule_msg(msg)
# without a target) and one per farm. Queues outlive the mules, so a
# message sent while a mule restarts waits for the next one.
import json as _json
import os as _os
import select as _select
import socket as _socket
import sys as _sys
import threading as _threading
import time as _time

_ENV_MULE = "SUPERVISE_MULE"
_DEFAULT_BUFFER = 65536  # uWSGI's mule-msg-size
_SVC_PID, _SVC_TASKS, _SVC_RUNNING = 0, 1, 2  # services board words: spooler.py's (ipc/services.go)


def _spooler():
    """spooler.py (the services board): the module uwsgi_api._sibling or
    worker.py's _load_sibling loaded, both as _supervise_spooler."""
    mod = _sys.modules.get("_supervise_spooler")
    if mod is None:
        mod = _sys.modules["uwsgi"]._sibling("spooler")
    return mod


class _Queues(object):
    """The sending ends (EnvServices): mule id -> socket, the shared
    queue, farm name -> socket."""

    def __init__(self):
        conf = _spooler()._svc().conf
        dgram = lambda fd: _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM, 0, fd)
        self.mules = {}
        for m in conf.get("mules") or []:
            self.mules[m["id"]] = dgram(m["queue"])
        shared = conf.get("shared", -1)
        self.shared = dgram(shared) if shared is not None and shared >= 0 else None
        self.farms = {}
        for f in conf.get("farms") or []:
            self.farms[f["name"]] = (dgram(f["queue"]), list(f.get("mules") or []))


_queues = None
_queues_lock = _threading.Lock()


def _q():
    global _queues
    if _queues is None:
        with _queues_lock:
            if _queues is None:
                _queues = _Queues()
    return _queues


def _message(msg):
    if isinstance(msg, str):
        return msg.encode("utf-8")
    if isinstance(msg, (bytes, bytearray, memoryview)):
        return bytes(msg)
    raise TypeError("mule_msg() argument 1 must be bytes or str, not %s" % type(msg).__name__)


def _send(sock, data):
    try:
        sock.send(data, _socket.MSG_DONTWAIT)
        return True
    except BlockingIOError:
        _log("ERROR", "*** MULE MSG QUEUE IS FULL ***: the mules do not keep up; the message is dropped",
             bytes=len(data))
    except OSError as e:
        _log("ERROR", "cannot send a mule message", bytes=len(data), error=e)
    return False


def mule_msg(message, target=None):
    """uwsgi.mule_msg(msg[, mule_id | farm_name]): True when queued."""
    data = _message(message)
    q = _q()
    if not q.mules:
        raise ValueError("no mule configured")
    if target is None or (isinstance(target, int) and not isinstance(target, bool) and target == 0):
        return _send(q.shared, data)
    if isinstance(target, (str, bytes)):
        name = target.decode() if isinstance(target, bytes) else target
        farm = q.farms.get(name)
        if farm is None:
            raise ValueError("unknown farm")
        return _send(farm[0], data)
    if isinstance(target, int) and not isinstance(target, bool):
        sock = q.mules.get(target)
        if sock is None:
            raise ValueError("invalid mule number")
        return _send(sock, data)
    raise ValueError("invalid mule")


def farm_msg(farm, message):
    q = _q()
    f = q.farms.get(farm.decode() if isinstance(farm, bytes) else farm)
    if f is not None:
        _send(f[0], _message(message))
    return None


def mule_id():
    return _me.id if _me is not None else 0


def in_farm(name=None):
    if _me is None:
        return None
    if name is None:
        return True if _me.farms else None
    return True if (name.decode() if isinstance(name, bytes) else name) in _me.farms else None


def mule_get_msg(signals=True, farms=True, buffer_size=_DEFAULT_BUFFER, timeout=-1):
    """The next message for this mule (its own queue first, then the
    shared one, then its farms'); b"" when timeout (seconds) passes."""
    if _me is None:
        raise ValueError("you can receive mule messages only in a mule !!!")
    socks = [_me.queue, _me.shared] + (list(_me.farms.values()) if farms else [])
    return _me.receive(socks, buffer_size, timeout)


def farm_get_msg():
    if _me is None:
        raise ValueError("you can receive farm messages only in a mule !!!")
    if not _me.farms:
        return None
    return _me.receive(list(_me.farms.values()), _DEFAULT_BUFFER, -1) or None


def _log(level, msg, **kv):
    w = _sys.modules.get("_supervise_worker")
    if w is not None:
        w.log(level, msg, **kv)
    else:
        _sys.stderr.write("%s %s %r\n" % (level, msg, kv))


_EXPORTS = ("mule_msg", "farm_msg", "mule_id", "in_farm", "mule_get_msg", "farm_get_msg")


def _install(namespace):
    """Puts the mule functions into the uwsgi module (uwsgi_api.py)."""
    for name in _EXPORTS:
        namespace[name] = globals()[name]


# ------------------------------------------------------ the mule process

_me = None


class _Mule(object):
    def __init__(self, conf):
        dgram = lambda fd: _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM, 0, fd)
        self.id = int(conf["id"])
        self.slot = int(conf.get("slot", 0))
        self.patch = conf.get("patch") or ""
        self.queue = dgram(conf["queue"])
        self.shared = dgram(conf["shared"])
        self.farms = dict((name, dgram(fd)) for name, fd in (conf.get("farms") or {}).items())
        self.messages = 0
        for s in [self.queue, self.shared] + list(self.farms.values()):
            s.setblocking(False)

    def receive(self, socks, size, timeout):
        deadline = None if timeout is None or timeout < 0 else _time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(deadline - _time.monotonic(), 0)
            try:
                ready, _, _ = _select.select(socks, [], [], left)
            except InterruptedError:
                continue
            for s in socks:  # in order: its own queue first
                if s in ready:
                    try:
                        return s.recv(size)
                    except (BlockingIOError, InterruptedError):
                        continue  # another mule took it
            if deadline is not None and _time.monotonic() >= deadline:
                return b""

    def loop(self):
        """uWSGI's mule handler: each message to uwsgi.mule_msg_hook
        (uwsgidecorators' @mulefunc dispatcher)."""
        svc = _spooler()._svc()
        socks = [self.queue, self.shared] + list(self.farms.values())
        while True:
            msg = self.receive(socks, _DEFAULT_BUFFER, -1)
            uwsgi = _sys.modules.get("uwsgi")
            hook = getattr(uwsgi, "mule_msg_hook", None) if uwsgi is not None else None
            svc.set_slot_word(self.slot, _SVC_RUNNING, 1)
            try:
                if hook is None:
                    _log("INFO", "*** mule %d received a %d bytes message ***" % (self.id, len(msg)))
                else:
                    hook(msg)
            except Exception:
                _sys.modules["_supervise_worker"].log_traceback("mule message handler raised", mule=self.id)
            finally:
                svc.set_slot_word(self.slot, _SVC_RUNNING, 0)
            self.messages += 1
            svc.set_slot_word(self.slot, _SVC_TASKS, self.messages)


def _run_patch(w, patch):
    """mule = FILE.py runs the script as __main__; mule = module:function
    calls the function. uWSGI ends the mule when it returns."""
    import runpy
    if patch.endswith(".py"):
        runpy.run_path(patch, run_name="__main__")
    elif ":" in patch:
        import importlib
        modname, func = patch.split(":", 1)
        getattr(importlib.import_module(modname), func)()
    else:
        runpy.run_module(patch, run_name="__main__", alter_sys=True)


def main(w):
    """The mule process: w is worker.py's module, which loaded this one
    as _supervise_mule."""
    global _me
    conf = _json.loads(_os.environ[_ENV_MULE])
    sp = w._load_sibling("spooler")
    w.NAME = "mule.%d" % int(conf["id"])
    lifeline = _os.environ.get(w.ENV_LIFELINE_FD)
    if lifeline:
        _threading.Thread(target=w.watch_lifeline, args=(int(lifeline),), daemon=True, name="lifeline").start()
    _me = _Mule(conf)
    sp._svc().set_slot_word(_me.slot, _SVC_PID, _os.getpid())
    mod = w.install_uwsgi_module()
    if mod is not None:  # uwsgi signals reach it as "mule", "muleN", "mules", from its import on
        mod._signals.service("mule", _me.id)
    w.load_app()
    w.log("INFO", "mule ready", id=_me.id, pid=_os.getpid(), script=_me.patch or "-")
    w.run_postfork(mod)  # uwsgidecorators' @mule, @muleloop, @mulemsg and @farm run here, as in uWSGI
    code = 0
    if _me.patch:
        try:
            _run_patch(w, _me.patch)
            w.log("INFO", "the mule's script returned; the mule ends and the master starts it again", script=_me.patch)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            w.log_traceback("the mule's script raised", script=_me.patch)
            code = 1
    else:
        _me.loop()
    _sys.stdout.flush()
    _sys.stderr.flush()
    _os._exit(code)

