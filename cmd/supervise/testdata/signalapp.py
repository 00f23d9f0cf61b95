# A uWSGI app using signals, for cmd/supervise/signals_test.go: it runs
# unchanged under supervise and under uWSGI 2.0.21. Every handler logs one
# "SIGEV" line to stderr (the server's log), which the tests count.
import json
import os
import sys

import uwsgi
import time

from uwsgidecorators import cron, filemon, harakiri, rbtimer, signal, timer

FAST = int(os.environ.get("SIGAPP_FAST", "1"))
SLOW = int(os.environ.get("SIGAPP_SLOW", "3"))
WATCHED = os.environ.get("SIGAPP_WATCHED", "")


def ev(kind, n):
    sys.stderr.write("SIGEV kind=%s sig=%d wid=%d pid=%d\n" % (kind, n, uwsgi.worker_id(), os.getpid()))
    sys.stderr.flush()


if os.environ.get("SIGAPP_TIMERS"):
    @timer(FAST, target="workers")
    def fast(n):
        ev("fast", n)

    @timer(SLOW, target="workers")
    def slow(n):
        ev("slow", n)

    @rbtimer(FAST, target="workers")
    def rb(n):
        ev("rb", n)

    uwsgi.register_signal(40, "workers", lambda n: ev("rb3", n))
    uwsgi.add_rb_timer(40, FAST, 3)

if os.environ.get("SIGAPP_CRON"):
    @cron(-1, -1, -1, -1, -1, target="workers")
    def minutely(n):
        ev("cron", n)

if WATCHED:
    @filemon(WATCHED)
    def changed(n):
        ev("filemon", n)


@signal(20, target="workers")
def s20(n):
    ev("s20", n)


@signal(21)
def s21(n):
    ev("s21", n)
    raise RuntimeError("the handler of signal 21 raises")


@signal(22)
def s22(n):
    ev("s22", n)


def attempt(f, *a):
    try:
        r = f(*a)
    except Exception as e:
        return [type(e).__name__, str(e)]
    if isinstance(r, bytes):
        return ["bytes", r.decode()]
    return ["ok", r]


def bad():
    h = lambda n: None
    return {
        "registered_str": attempt(uwsgi.signal_registered, "x"),
        "registered_float": attempt(uwsgi.signal_registered, 1.5),
        "registered_20": attempt(uwsgi.signal_registered, 20),
        "registered_99": attempt(uwsgi.signal_registered, 99),
        "registered_276": attempt(uwsgi.signal_registered, 276),  # 276 % 256 == 20
        "registered_neg": attempt(uwsgi.signal_registered, -236),  # & 0xff == 20
        "register_long_target": attempt(uwsgi.register_signal, 30, "x" * 64, h),
        "register_target_int": attempt(uwsgi.register_signal, 30, 5, h),
        "register_ok": attempt(uwsgi.register_signal, 31, "worker", h),
        "timer_float": attempt(uwsgi.add_timer, 32, 1.5),
        "timer_str": attempt(uwsgi.add_timer, "x", 1),
        "cron_args": attempt(uwsgi.add_cron, 33, 1, 2, 3),
        "filemon_long": attempt(uwsgi.add_file_monitor, 34, "/" + "x" * 300),
        "filemon_bytes": attempt(uwsgi.add_file_monitor, 34, b"/tmp"),
        "received": attempt(uwsgi.signal_received),
    }


@harakiri(1)
def hang():
    time.sleep(120)


def application(environ, start_response):
    path, q = environ["PATH_INFO"], environ.get("QUERY_STRING", "")
    body = b"ok"
    if path == "/raise":
        uwsgi.signal(int(q))
    elif path == "/wait":
        ev("waiting", -1)
        r = uwsgi.signal_wait(int(q)) if q else uwsgi.signal_wait()
        body = json.dumps([r.decode(), uwsgi.signal_received()]).encode()
    elif path == "/bad":
        body = json.dumps(bad(), sort_keys=True).encode()
    elif path == "/hang":  # @harakiri(1): the master kills this worker after a second
        hang()
    elif path == "/userharakiri":  # a deadline for this request only, then return
        uwsgi.set_user_harakiri(int(q))
    elif path == "/sleep":
        time.sleep(float(q))
    elif path == "/workers":
        body = json.dumps([w["signals"] for w in uwsgi.workers()]).encode()
    elif path == "/pid":
        body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
