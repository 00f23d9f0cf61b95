# An app using uWSGI's spooler and mules through Debian's unmodified
# uwsgidecorators; run by spooler_test.go and mule_test.go under
# supervise and under uWSGI 2.0.21.
import json
import os
import signal
import time
from urllib.parse import parse_qs

import uwsgi
from uwsgidecorators import farm, mule, mulefunc, mulemsg, signal as usignal, spool, spoolforever

OUT = os.environ["OUT"]


def record(name, line):
    with open(os.path.join(OUT, name), "a") as f:
        f.write(line + "\n")


@spool
def task(args):
    n, mode = args["n"], args.get("mode", "")
    if mode == "crash":
        record("started-" + n, str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "hang":
        record("started-" + n, str(os.getpid()))
        time.sleep(120)
    if mode == "raise_once" and not os.path.exists(os.path.join(OUT, "raised-" + n)):
        record("raised-" + n, str(os.getpid()))
        raise RuntimeError("task failed on demand")
    if mode == "slow":
        time.sleep(0.02)
    if mode == "second":
        record("started-" + n, str(os.getpid()))
        time.sleep(1)
    record("done-" + n, "%d %s %s" % (os.getpid(), os.getcwd(), uwsgi.i_am_the_spooler()))


@spoolforever
def forever(args):
    record("forever-" + args["n"], str(os.getpid()))


def raw_spooler(env):
    # uwsgi.spooler for tasks not from uwsgidecorators: keys are bytes
    if b"raw" in env:
        record("raw-" + env[b"raw"].decode(), "%s %s" % (env.get("body", b"").decode(), env["spooler_task_name"].decode()))
        return uwsgi.SPOOL_OK
    return decorated(env)


decorated = uwsgi.spooler
uwsgi.spooler = raw_spooler
if os.environ.get("SPOOL_HOLD") == "1":
    uwsgi.spooler = lambda env: uwsgi.SPOOL_IGNORE  # only write task files (the other server runs them)


@usignal(20, target="mule2")
def to_mule_two(num):
    record("sig-%d" % num, "%d mule=%d spooler=%s" % (os.getpid(), uwsgi.mule_id(), uwsgi.i_am_the_spooler()))


@usignal(21, target="spooler")
def to_spooler(num):
    record("sig-%d" % num, "%d mule=%d spooler=%s" % (os.getpid(), uwsgi.mule_id(), uwsgi.i_am_the_spooler()))


@usignal(22, target="workers")
def to_workers(num):
    record("sig-%d" % num, "%d mule=%d spooler=%s" % (os.getpid(), uwsgi.mule_id(), uwsgi.i_am_the_spooler()))


@mulefunc(1)
def to_mule_one(n):
    if n == "crash":
        os._exit(3)
    record("mulefunc-" + n, "%d %d" % (os.getpid(), uwsgi.mule_id()))


@mulemsg(2)
def on_mule_two(message):
    record("mulemsg-" + message.decode(), "%d %d" % (os.getpid(), uwsgi.mule_id()))


@farm("f")
def on_farm(message):
    record("farm-" + message.decode(), "%d %d" % (os.getpid(), uwsgi.mule_id()))


@mule(4)
def mule_four():
    record("mule4", "%d %d" % (os.getpid(), uwsgi.mule_id()))


def application(environ, start_response):
    q = dict((k, v[0]) for k, v in parse_qs(environ.get("QUERY_STRING", "")).items())
    path = environ["PATH_INFO"]
    out = {}
    if path == "/spool":
        kw = {"n": q["n"], "mode": q.get("mode", "")}
        for k in ("at", "priority"):
            if k in q:
                kw[k] = q[k]
        out["file"] = task.spool(**kw).decode()
    elif path == "/forever":
        out["file"] = forever.spool(n=q["n"]).decode()
    elif path == "/extra":  # a task function only spooler-import loads
        out["file"] = uwsgi.spool({b"ud_spool_func": b"extra_task", b"ud_spool_ret": str(uwsgi.SPOOL_OK).encode(),
                                   b"n": q["n"].encode()}).decode()
    elif path == "/raw":
        out["file"] = uwsgi.spool({b"raw": q["n"].encode(), b"body": b"B" * int(q.get("body", "0"))}).decode()
    elif path == "/mulefunc":
        to_mule_one(q["n"])
    elif path == "/mulemsg":
        out["sent"] = uwsgi.mule_msg(q["n"].encode(), int(q["id"]))
    elif path == "/signal":
        uwsgi.signal(int(q["n"]))
    elif path == "/farm":
        out["sent"] = uwsgi.mule_msg(q["n"].encode(), "f")
    out.update({"spooler_pid": uwsgi.spooler_pid(), "spooler_pids": uwsgi.spooler_pids(),
                "jobs": len(uwsgi.spooler_jobs()), "i_am_the_spooler": uwsgi.i_am_the_spooler(),
                "mule_id": uwsgi.mule_id()})
    sv = __import__("sys").modules.get("_supervise_spooler")  # supervise's own: signal targets' pids
    if sv is not None:
        out["targets"] = ["%s%d=%d" % t for t in sv._targets()]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(out).encode()]
