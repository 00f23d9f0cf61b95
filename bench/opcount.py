#!/usr/bin/python3
"""Bytecodes the Python worker's request path runs per request, by
function: worker/python/worker.py's Worker serves the seed app's
/user/bob (Flask, examples/seed/app.py) in this process, on one thread,
for N requests with the 13 vars + Host that nginx's uwsgi_params sends,
request logging on (into a list: nothing is written), and sys.settrace's
opcode events count every bytecode executed, grouped by the code
object's file and name. Counts, not times: they do not move with the
machine's load. The server's own part is everything outside Flask,
Werkzeug, Jinja and the standard library's modules.

Behind nginx supervise's worker spends more user time than uWSGI's while
its instructions (callgrind) are fewer: the interpreter's loop runs
fewer instructions per microsecond than uWSGI's C does, so bytecodes are
what the server's Python has to cut (docs/benchmarks.md, session 8).

    /usr/bin/python3 bench/opcount.py            # N=200, the per-function table
    WORKER=/path/to/worker.py bench/opcount.py   # another build's worker
    TRACE=0 N=1200 bench/opcount.py              # serves N untraced (bench/opcost.sh runs it under callgrind)
"""
import importlib.util
import os
import socket
import sys
import tempfile
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = int(os.environ.get("N", "200"))


def nginx_request(uri):
    pairs = [("QUERY_STRING", ""), ("REQUEST_METHOD", "GET"), ("CONTENT_TYPE", ""), ("CONTENT_LENGTH", ""),
             ("REQUEST_URI", uri), ("PATH_INFO", uri), ("DOCUMENT_ROOT", "/usr/share/nginx/html"),
             ("SERVER_PROTOCOL", "HTTP/1.1"), ("REQUEST_SCHEME", "http"), ("REMOTE_ADDR", "127.0.0.1"),
             ("REMOTE_PORT", "54321"), ("SERVER_PORT", "8080"), ("SERVER_NAME", "localhost"),
             ("HTTP_HOST", "localhost:8080")]
    block = b"".join(len(k).to_bytes(2, "little") + k.encode() + len(v).to_bytes(2, "little") + v.encode()
                     for k, v in pairs)
    return bytes([0]) + len(block).to_bytes(2, "little") + bytes([0]) + block


def main():
    os.environ.update({"SUPERVISE_THREADS": "2", "LISTEN_FDS": "0"})
    os.environ.pop("SUPERVISE_DISABLE_LOGGING", None)
    path = os.environ.get("WORKER") or os.path.join(ROOT, "worker", "python", "worker.py")
    spec = importlib.util.spec_from_file_location("worker", path)
    w = importlib.util.module_from_spec(spec)
    sys.modules["worker"] = w
    spec.loader.exec_module(w)
    sys.path.insert(0, os.path.join(ROOT, "examples", "seed"))
    from app import app
    worker = w.Worker(app, "app:app")
    tmp = tempfile.mkdtemp()
    lsock = socket.socket(socket.AF_UNIX)
    lsock.bind(os.path.join(tmp, "s"))
    lsock.listen(N + 8)
    lsock.setblocking(False)
    listener = (lsock, "uwsgi")
    worker.local.board = worker.board.core(0)
    worker.local.logbuf = []
    req = nginx_request("/user/bob")

    def batch(n, trace):
        clients = []
        for _ in range(n):
            c = socket.socket(socket.AF_UNIX)
            c.connect(os.path.join(tmp, "s"))
            c.sendall(req)
            clients.append(c)
        if trace:
            sys.settrace(trace)
        served = 0
        while worker.accept_one(listener, 0):  # until the queue is empty: a failing accept ends each batch
            served += 1
        sys.settrace(None)
        worker.local.logbuf.clear()
        for c in clients:
            got = c.recv(65536)
            assert got.startswith(b"HTTP/1.1 200 OK"), got[:100]
            c.close()
        return served

    batch(20, None)  # warm: layouts, Flask's first request, specialisation
    if os.environ.get("TRACE") == "0":
        for _ in range(N // 20):
            batch(20, None)
        return
    counts = Counter()

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        code = frame.f_code
        key = (code.co_filename, getattr(code, "co_qualname", code.co_name))

        def local(frame, event, arg):
            if event == "opcode":
                counts[key] += 1
            return local
        return local

    served = 0
    for _ in range(N // 20):
        served += batch(20, tracer)
    mine = os.path.dirname(os.path.abspath(path))
    total = sum(counts.values())
    own = {k: v for k, v in counts.items() if k[0].startswith(mine)}
    print("bytecodes per request over %d requests (batches of 20 on one listener): total %.0f, the server's own %.0f"
          % (served, total / served, sum(own.values()) / served))
    for (f, name), v in sorted(own.items(), key=lambda kv: -kv[1]):
        print("  %8.1f  %s" % (v / served, name))


if __name__ == "__main__":
    main()
