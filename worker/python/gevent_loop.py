"""supervise's gevent engine: the worker's accept and request loop on
gevent (`gevent = N`), for WSGI apps that hold many connections at once
(long polling, slow upstreams). worker.py's main() hands over here
(main(w, uwsgi_mod)) when SUPERVISE_GEVENT=1.

The request path is worker.py's own (Worker.serve_uwsgi_conn,
serve_http, run_app). The hub watches each listener and, each time it
is readable, accepts one bare fd and switches to a plain greenlet for it; a uwsgi connection is its
non-blocking fd (Conn: os.read/os.write, waiting in the hub only on
EAGAIN), an http-socket one a gevent socket. worker.py's `select` is
replaced by gevent's for its waits, and its per-thread state made
per-greenlet. Up to N connections are served at once (SUPERVISE_THREADS
= N), each on its own scoreboard core, so stats show N cores and
harakiri, max-requests and reloads work unchanged. That costs about the
instructions per request of uWSGI's gevent loop (bench/async.sh, docs/async.md).
Monkey patching is the app's choice, as in uWSGI: gevent-monkey-patch
(after the app is imported) or gevent-early-monkey-patch (before).
"""

import errno
import fcntl
import gc
import os
import signal
import socket
import struct
import sys
import termios

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
        if W.lifeline_closed(fd):
            W.master_gone()


class Conn(object):
    """A uwsgi-protocol connection as its bare, non-blocking file
    descriptor: os.read and os.write, waiting in the hub (with
    socket-timeout) only when the kernel has nothing to read or no room to
    write. What worker.py's FdConn is to a thread; no gevent socket object
    (two io watchers, a timeout, a close protocol) to build and tear down
    per request."""

    __slots__ = ("fd", "timeout")

    def __init__(self, fd, timeout):
        self.fd, self.timeout = fd, timeout

    def recv(self, n):
        while True:
            try:
                return os.read(self.fd, n)
            except BlockingIOError:
                _wait_read(self.fd, self.timeout, BlockingIOError(errno.EAGAIN, "socket-timeout"))

    def sendall(self, data):
        n, size, view = 0, len(data), data
        while True:
            try:
                n += os.write(self.fd, view)
            except BlockingIOError:
                _wait_write(self.fd, self.timeout, BlockingIOError(errno.EAGAIN, "socket-timeout"))
                continue
            if n >= size:
                return
            view = memoryview(data)[n:]

    def sendfile(self, f, offset=0, count=None):
        s = _gsocket(fileno=self.fd)  # gevent's sendfile: send() in a loop, waiting in the hub
        try:
            s.settimeout(self.timeout)
            return s.sendfile(f, offset, count)
        finally:
            s.detach()

    def shutdown(self, how):
        s = socket.socket(fileno=self.fd)
        try:
            s.shutdown(how)
        finally:
            s.detach()

    def fileno(self):
        return self.fd


_wait_read = _wait_write = _gsocket = None  # gevent's, set by main()
_NONBLOCK = struct.pack("i", 1)


class Engine(object):
    def __init__(self, gevent, worker):
        from greenlet import greenlet
        self.gevent = gevent
        self.worker = worker
        self.hub = gevent.get_hub()
        self.greenlet = greenlet
        self.cores = worker.threads
        self.free = list(range(self.cores - 1, -1, -1))
        self.watchers = []  # (io watcher, its callback) per listener
        self.paused = 0  # accept pauses (EMFILE...) running
        self.all_free = gevent.event.Event()  # set when the last busy core finished
        self.boards = [None] * self.cores
        self.stopped = gevent.event.Event()
        self.logbuf = []
        self.flush_queued = False
        ms = worker.socket_timeout_ms
        self.timeout = ms / 1000.0 if ms > 0 else None

    def board(self, core):
        b = self.boards[core]
        if b is None:
            b = self.boards[core] = self.worker.board.core(core)
        return b

    def listen(self, listener):
        """Watches a listening socket from the hub, as uWSGI's gevent loop
        does: each time the hub finds it readable, one connection is
        accepted (the bare fd, no socket object) and served at once in a
        new greenlet (a plain one: no gevent.Greenlet links or pool to
        keep), switched to from the hub's callback, until it first waits.
        The rest of the listen queue is left to the next turn of the loop,
        or to another worker: taking it all in one turn (as this loop did
        before) piled work on one worker while the other idled, and kept
        the accepted requests waiting behind each other (behind nginx:
        0.89-0.99x the throughput and 1.14-1.40x the p99 of one accept per
        turn, docs/benchmarks.md "gevent throughput (session 7)").
        No greenlet waits for connections: the watcher's callback is the
        accept loop, stopped while every core is busy (restarted when one
        frees up) and for a pause after EMFILE and its kin."""
        worker, hub = self.worker, self.hub
        sock, proto = listener
        accept = sock._accept
        watcher = hub.loop.io(sock.fileno(), 1)
        greenlet, serve, free = self.greenlet, self.serve, self.free

        def ready():
            if not free:  # every core busy: the end of a request restarts the watcher
                watcher.stop()
                return
            try:
                fd, addr = accept()
            except (BlockingIOError, InterruptedError):
                return  # another worker took it
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    W.log("ERROR", "accept failed; pausing", error=e)
                    watcher.stop()
                    self.paused += 1
                    hub.loop.timer(0.1).start(self.unpause)
                elif e.errno in (errno.EBADF, errno.ENOTSOCK, errno.EINVAL):
                    watcher.stop()
                    self.watchers.remove((watcher, ready))
                    worker.listener_died(sock, e)
                return
            greenlet(serve, hub).switch(fd, addr, proto, sock, free.pop())

        self.watchers.append((watcher, ready))
        watcher.start(ready)

    def unpause(self):
        self.paused -= 1
        self.resume()

    def resume(self):
        """Watches the listeners again: a core is free, or a pause ended."""
        if self.paused or self.worker.stopping or not self.free:
            return
        for watcher, ready in self.watchers:
            if not watcher.active:
                watcher.start(ready)

    def serve(self, fd, addr, proto, listener, core):
        """worker.py's accept_one after the accept, cooperatively."""
        worker = self.worker
        local = worker.local
        local.board = self.board(core)
        local.logbuf = self.logbuf
        worker.on_conn[core] = True
        conn = None
        try:
            if proto == "http":
                conn = _gsocket(listener.family, listener.type, listener.proto, fileno=fd)
                conn.settimeout(self.timeout)  # socket-timeout, as gevent waits (SO_RCVTIMEO would not apply)
                worker.serve_http(conn, addr, core, listener)
            else:
                fcntl.ioctl(fd, termios.FIONBIO, _NONBLOCK)
                worker.serve_uwsgi_conn(Conn(fd, self.timeout), core)
        except (BlockingIOError, socket.timeout):
            worker.timed_out()
        except Exception:
            W.log_traceback("connection failed")
        finally:
            worker.end_conn(core, conn, fd)
            free = self.free
            free.append(core)
            if len(free) == 1:
                self.resume()
            if len(free) == self.cores:
                self.all_free.set()
            if self.logbuf and not self.flush_queued:
                # One write for the request lines of every connection that
                # finished in this turn of the loop.
                self.flush_queued = True
                self.hub.loop.run_callback(self.flush_log)

    def flush_log(self):
        self.flush_queued = False
        self.worker.local.logbuf = self.logbuf
        self.worker.flush_log()

    def join(self):
        """Until every core is free (the connections being served finish)."""
        while len(self.free) < self.cores:
            self.all_free.clear()
            self.all_free.wait()

    def stop(self):
        """SIGTERM: no more accepts; main() waits for the busy cores.
        Also when stopping is already set (listener_died sets it, then
        sends the SIGTERM): idle keep-alive connections still need the
        wake-up."""
        self.worker.stop()  # sets stopping and wakes idle keep-alive connections (the wake pipe)
        for watcher, _ in self.watchers:
            watcher.stop()
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
    global _wait_read, _wait_write, _gsocket
    _wait_read, _wait_write, _gsocket = gevent.socket.wait_read, gevent.socket.wait_write, gevent.socket.socket
    local = gevent.local.local()
    W.UWSGI_REQUEST = local
    if uwsgi_mod is not None:
        uwsgi_mod._request = local
    worker = W.Worker(app, app_name)
    worker.local = gevent.local.local()
    worker.base_environ["wsgi.multithread"] = True  # greenlets: concurrent requests in one process
    engine = Engine(gevent, worker)
    W.run_postfork(uwsgi_mod)
    # The app's import lives as long as the worker: frozen, no full
    # collection walks it again (a pause in some request's latency).
    if hasattr(gc, "freeze"):  # Python 3.7
        gc.collect()
        gc.freeze()
    for sig in (signal.SIGINT, signal.SIGQUIT):
        gevent.signal_handler(sig, lambda: os._exit(0))
    gevent.signal_handler(signal.SIGTERM, engine.stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for l in worker.listeners:
        engine.listen(l)
    socks = ",".join("%s:%s" % (proto, W._sockname(s)) for s, proto in worker.listeners)
    W.log("INFO", "ready", pid=W.PID, app=app_name, gevent=engine.cores, sockets=socks,
          generation=os.environ.get(W.ENV_GENERATION, "1"), monkey=monkey or "no")
    if no_app_reason is None:
        W.notify("READY=1")
    else:
        W.notify("READY=1\n%s=1\nSTATUS=no app loaded: %s" % (W.NOTIFY_NO_APP, no_app_reason))
    engine.stopped.wait()
    engine.join()
    engine.flush_log()
    try:
        import atexit
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(W.EXIT_LISTENER_GONE if worker.listener_gone is not None else 0)
