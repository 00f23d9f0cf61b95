"""supervise's gevent engine: the worker's accept and request loop on
gevent (`gevent = N`), for WSGI apps that hold many connections at once
(long polling, slow upstreams). worker.py's main() hands over here
(main(w, uwsgi_mod)) when SUPERVISE_GEVENT=1.

The request path is worker.py's own (Worker.serve_uwsgi, serve_http,
run_app): each connection runs in a greenlet on a gevent socket, with
worker.py's `select` replaced by gevent's for its waits, and its
per-thread state made per-greenlet. Up to N connections are served at
once (SUPERVISE_THREADS = N), each on its own scoreboard core, so stats
show N cores and harakiri, max-requests and reloads work unchanged.
Monkey patching is the app's choice, as in uWSGI: gevent-monkey-patch
(after the app is imported) or gevent-early-monkey-patch (before).
"""

import errno
import os
import signal
import socket
import sys

W = None  # worker.py's module, set by main()

ENV_GEVENT_MONKEY = "SUPERVISE_GEVENT_MONKEY"


def import_gevent():
    """gevent, or a start-up error that says what to install (exit 22:
    the app cannot run here, need-app and reloads treat it so)."""
    try:
        import gevent
        import gevent.local
        import gevent.pool
        import gevent.select
        import gevent.socket
        import gevent.event
        return gevent
    except ImportError as e:
        W.log("ERROR", "gevent = %s, but this interpreter has no gevent: install it where the app's packages are "
              "(Debian: apt install python3-gevent; a virtualenv: pip install gevent), or remove the gevent option"
              % os.environ.get(W.ENV_THREADS, "?"), python=sys.executable, error=e)
        sys.stderr.flush()
        os._exit(W.EXIT_APP_LOAD_FAILED)


def watch_lifeline(gevent, fd):
    """worker.py's lifeline, as a greenlet: a blocking read would stop the hub."""
    while True:
        gevent.socket.wait_read(fd)
        try:
            if os.read(fd, 1):
                continue
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            pass
        W.log("WARN", "the master is gone (lifeline closed); exiting")
        os._exit(1)


class Engine(object):
    def __init__(self, gevent, worker):
        self.gevent = gevent
        self.worker = worker
        self.cores = worker.threads
        self.free = list(range(self.cores - 1, -1, -1))
        self.room = gevent.event.Event()  # set while a core is free
        self.room.set()
        self.boards = [None] * self.cores
        self.group = gevent.pool.Group()
        self.stopped = gevent.event.Event()
        self.logbuf = []
        ms = worker.socket_timeout_ms
        self.timeout = ms / 1000.0 if ms > 0 else None

    def board(self, core):
        b = self.boards[core]
        if b is None:
            b = self.boards[core] = self.worker.board.core(core)
        return b

    def accept_loop(self, listener):
        """Accepts on a gevent socket over the listener (its accept waits
        in the hub and returns gevent sockets) while a core is free."""
        gevent, worker = self.gevent, self.worker
        sock, proto = listener
        gsock = gevent.socket.socket(sock.family, sock.type, sock.proto, fileno=os.dup(sock.fileno()))
        gsock.settimeout(None)
        spawn, serve, free, room = self.group.spawn, self.serve, self.free, self.room
        while not worker.stopping:
            if not free:
                room.wait()
                continue
            try:
                conn, addr = gsock.accept()
            except (BlockingIOError, InterruptedError):
                continue  # another worker took it
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    W.log("ERROR", "accept failed; pausing", error=e)
                    gevent.sleep(0.1)
                    continue
                if e.errno in (errno.EBADF, errno.ENOTSOCK, errno.EINVAL):
                    worker.listener_died(sock, e)
                    return
                continue
            core = free.pop()
            if not free:
                room.clear()
            spawn(serve, conn, addr, proto, sock, core)

    def serve(self, conn, addr, proto, listener, core):
        """worker.py's accept_one after the accept, on a gevent socket."""
        worker = self.worker
        local = worker.local
        local.board = self.board(core)
        local.logbuf = self.logbuf
        worker.on_conn[core] = True
        try:
            conn.settimeout(self.timeout)  # socket-timeout, as gevent waits (SO_RCVTIMEO would not apply)
            if proto == "http":
                worker.serve_http(conn, addr, core, listener)
            else:
                worker.serve_uwsgi_conn(conn, core)
        except (BlockingIOError, socket.timeout):
            W.log("WARN", "socket-timeout: no data from the client for %d ms; connection closed" % worker.socket_timeout_ms)
            local.board[2]()
        except Exception:
            W.log_traceback("connection failed")
        finally:
            worker.on_conn[core] = False
            conn.close()
            self.free.append(core)
            self.room.set()
            worker.flush_log()

    def stop(self):
        if not self.worker.stopping:
            self.worker.stop()  # sets stopping and wakes idle keep-alive connections (the wake pipe)
            self.room.set()
            self.stopped.set()


def main(w, uwsgi_mod):
    global W
    W = w
    gevent = import_gevent()
    monkey = os.environ.get(ENV_GEVENT_MONKEY, "")
    if monkey == "early":
        from gevent import monkey as gm
        gm.patch_all()
    lifeline = os.environ.get(W.ENV_LIFELINE_FD)
    if lifeline:
        gevent.spawn(watch_lifeline, gevent, int(lifeline))
    app, app_name = W.load_app()
    no_app_reason = None
    if app is None:
        app, app_name, no_app_reason = W.no_app, "none", app_name
    if monkey == "late":
        from gevent import monkey as gm
        gm.patch_all()
    # worker.py's waits (keep-alive idle, others_waiting) go through
    # gevent's select; its per-thread state becomes per-greenlet.
    W.select = gevent.select
    local = gevent.local.local()
    W.UWSGI_REQUEST = local
    if uwsgi_mod is not None:
        uwsgi_mod._request = local
    worker = W.Worker(app, app_name)
    worker.local = gevent.local.local()
    worker.base_environ["wsgi.multithread"] = True  # greenlets: concurrent requests in one process
    engine = Engine(gevent, worker)
    W.run_postfork(uwsgi_mod)
    for sig in (signal.SIGINT, signal.SIGQUIT):
        gevent.signal_handler(sig, lambda: os._exit(0))
    gevent.signal_handler(signal.SIGTERM, engine.stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    acceptors = [gevent.spawn(engine.accept_loop, l) for l in worker.listeners]
    socks = ",".join("%s:%s" % (proto, W._sockname(s)) for s, proto in worker.listeners)
    W.log("INFO", "ready", pid=W.PID, app=app_name, gevent=engine.cores, sockets=socks,
          generation=os.environ.get(W.ENV_GENERATION, "1"), monkey=monkey or "no")
    if no_app_reason is None:
        W.notify("READY=1")
    else:
        W.notify("READY=1\n%s=1\nSTATUS=no app loaded: %s" % (W.NOTIFY_NO_APP, no_app_reason))
    engine.stopped.wait()
    gevent.killall(acceptors)
    engine.group.join()
    worker.local.logbuf = engine.logbuf
    worker.flush_log()
    try:
        import atexit
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(W.EXIT_LISTENER_GONE if worker.listener_gone is not None else 0)
