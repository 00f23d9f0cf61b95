# uwsgi.set_user_harakiri(secs): the app gives itself a deadline and the
# master enforces it like harakiri (ipc/harakiri.go, docs/contract.md).
# The deadline goes into two words of this worker's scoreboard slot:
# CLOCK_MONOTONIC ns, and the request it belongs to (uWSGI resets it when
# the request ends; the master ignores it once that request is over).
import mmap as _mmap
import os as _os
import threading as _threading
import time as _time

# The contract: mirrors ipc (contract tests check it).
_ENV_SCOREBOARD_FD = "SUPERVISE_SCOREBOARD_FD"
_ENV_SCOREBOARD_SLOT = "SUPERVISE_SCOREBOARD_SLOT"
_HDR_CORES, _HDR_SLOT_BYTES, _HDR_CORE_BYTES = 3, 4, 5
_HEADER_WORDS = 8
_WK_WORDS = 8
_WK_USER_HARAKIRI = 6
_WK_USER_HARAKIRI_REQ = 7
_CORE_REQUESTS, _CORE_IN_REQUEST = 0, 1
_USER_HARAKIRI_CORE_SHIFT = 48

_words = None
_base = 0
_warned = []


def _slot():
    global _words, _base
    if _words is None:
        fd, slot = _os.environ.get(_ENV_SCOREBOARD_FD), _os.environ.get(_ENV_SCOREBOARD_SLOT)
        if not fd or not slot:
            return None
        mm = _mmap.mmap(int(fd), _os.fstat(int(fd)).st_size, _mmap.MAP_SHARED, _mmap.PROT_READ | _mmap.PROT_WRITE)
        w = memoryview(mm).cast("Q")
        _base = _HEADER_WORDS + int(slot) * (w[_HDR_SLOT_BYTES] // 8)
        _words = w
    return _words


def slot_word(i):
    """(words, index) of word i of this worker's scoreboard slot, or None
    without a scoreboard."""
    w = _slot()
    return None if w is None else (w, _base + i)


def _core():
    """This thread's core (worker.py names its threads core-N), or None."""
    name = _threading.current_thread().name
    if name.startswith("core-"):
        try:
            return int(name[5:])
        except ValueError:
            return None
    return None


def set_user_harakiri(*args):
    if len(args) != 1:
        raise TypeError("set_user_harakiri() takes exactly 1 argument (%d given)" % len(args))
    import operator
    sec = operator.index(args[0])
    w = _slot()
    if w is None:
        if not _warned:
            _warned.append(True)
            import sys
            sys.stderr.write("!!! unable to set user harakiri without the master's scoreboard !!!\n")
        return None
    if sec == 0:
        w[_base + _WK_USER_HARAKIRI] = 0
        w[_base + _WK_USER_HARAKIRI_REQ] = 0
        return None
    tag = 0
    core = _core()
    if core is not None and core < w[_HDR_CORES]:
        cb = _base + _WK_WORDS + core * (w[_HDR_CORE_BYTES] // 8)
        if w[cb + _CORE_IN_REQUEST] == 1:
            tag = ((core + 1) << _USER_HARAKIRI_CORE_SHIFT) | (w[cb + _CORE_REQUESTS] & ((1 << _USER_HARAKIRI_CORE_SHIFT) - 1))
    w[_base + _WK_USER_HARAKIRI] = 0  # never a new deadline with the old tag
    w[_base + _WK_USER_HARAKIRI_REQ] = tag
    w[_base + _WK_USER_HARAKIRI] = max(_time.monotonic_ns() + sec * 1000000000, 1)  # uWSGI: a negative one is already over
    return None
