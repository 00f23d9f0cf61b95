# An app written for uWSGI: it imports uwsgi and Debian's unmodified
# uwsgidecorators, and shows what it sees (uwsgimod_test.go).
import json
import os
import socket
import sys
import time

import uwsgi
from uwsgidecorators import lock, postfork

POSTFORK = []


@postfork
def reconnect():
    POSTFORK.append(os.getpid())
    sys.stderr.write("postfork ran: pid=%d worker=%d\n" % (os.getpid(), uwsgi.worker_id()))
    sys.stderr.flush()


@postfork
def fail_on_demand():
    if os.environ.get("POSTFORK_RAISE"):
        raise RuntimeError("postfork failed on demand")


@lock
def bump(path):
    """A read-modify-write that loses updates unless the lock excludes
    every other thread and worker."""
    with open(path) as f:
        n = int(f.read() or 0)
    time.sleep(0.002)
    with open(path, "w") as f:
        f.write(str(n + 1))
    return n + 1


def err(fn):
    try:
        fn()
    except Exception as e:
        return "%s: %s" % (type(e).__name__, e)
    return "no error"


def b(v):
    return v.decode() if isinstance(v, bytes) else v


def info():
    uwsgi.set_logvar("user", "alice")
    return {
        "opt": {k: (v if v is True else ["bytes", b(v)]) if isinstance(v, (bytes, bool)) else repr(v) for k, v in uwsgi.opt.items()},
        "worker_id": uwsgi.worker_id(), "numproc": uwsgi.numproc, "masterpid": uwsgi.masterpid(),
        "mule_id": uwsgi.mule_id(), "started_on": uwsgi.started_on, "pid": os.getpid(),
        "version_is_bytes": isinstance(uwsgi.version, bytes), "hostname": b(uwsgi.hostname),
        "magic_n": b(uwsgi.magic_table.get(b"n")), "total_requests": uwsgi.total_requests(),
        "workers": [dict(id=w["id"], pid=w["pid"], requests=w["requests"], status=b(w["status"])) for w in uwsgi.workers()],
        "spool": [uwsgi.SPOOL_OK, uwsgi.SPOOL_RETRY, uwsgi.SPOOL_IGNORE],
        "postfork": POSTFORK, "logvar": b(uwsgi.get_logvar("user")), "logvar_missing": uwsgi.get_logvar("nope"),
        "is_connected_stdin": uwsgi.is_connected(0), "i_am_the_spooler": uwsgi.i_am_the_spooler(),
        "lock_out_of_range": err(lambda: uwsgi.lock(uwsgi.opt.get("locks") and int(uwsgi.opt["locks"]) + 1 or 1)),
        "lock_negative": err(lambda: uwsgi.is_locked(-1)),
        "cache_get": err(lambda: uwsgi.cache_get("k")),
        "has_cache_get": hasattr(uwsgi, "cache_get"),
        "unknown": err(lambda: uwsgi.no_such_function),
    }


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = environ.get("QUERY_STRING", "")
    if path == "/info":
        body = json.dumps(info()).encode()
    elif path == "/bump":
        body = str(bump(q)).encode()
    elif path == "/locked":
        n = int(q or 0)
        uwsgi.lock(n)
        try:
            body = json.dumps([uwsgi.is_locked(n)]).encode()
        finally:
            uwsgi.unlock(n)
        body = json.dumps([json.loads(body)[0], uwsgi.is_locked(n)]).encode()
    elif path == "/hold":  # holds lock 1 until the file q exists
        uwsgi.lock(1)
        try:
            open(q + ".held", "w").close()
            while not os.path.exists(q):
                time.sleep(0.01)
        finally:
            uwsgi.unlock(1)
        body = b"released"
    elif path == "/is_locked":
        body = json.dumps(uwsgi.is_locked(int(q or 0))).encode()
    elif path in ("/reload", "/chain_reload", "/stop"):
        body = repr(getattr(uwsgi, path[1:])()).encode()
    elif path == "/disconnect":
        uwsgi.disconnect()
        body = b"never seen"
    else:
        body = b"pid=%d" % os.getpid()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
