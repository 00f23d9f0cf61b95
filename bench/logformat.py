"""CPU per request line: supervise's fixed request line against log-format
lines and log-encoder = json's (uWSGI's default-like combined format and a long one), formatted by
the Python worker's own code. One process, no I/O: the cost the worker's
request path pays per line. Usage: /usr/bin/python3 bench/logformat.py"""
import os, runpy, sys, timeit, types

w = runpy.run_path(os.path.join(os.path.dirname(__file__), "..", "worker", "python", "worker.py"), run_name="bench")
env = {"REQUEST_METHOD": "GET", "REQUEST_URI": "/some/path?x=1", "PATH_INFO": "/some/path", "SERVER_PROTOCOL": "HTTP/1.1",
       "REMOTE_ADDR": "10.1.2.3", "HTTP_HOST": "example.com", "HTTP_USER_AGENT": "curl/8.0", "HTTP_REFERER": "-"}
resp = types.SimpleNamespace(nbytes=1234, hsize=120, headers=[("a", "b")], code=200)
ts, name, quote, pid = w["_timestamp"], w["NAME"], w["_quote"], w["PID"]


def fixed():
    return "%s [INFO]  %s: request: method=%s path=%s status=%d bytes=%d duration=%.2fms pid=%d remote=%s\n" % (
        ts(), name, env.get("REQUEST_METHOD"), quote(env.get("REQUEST_URI") or env.get("PATH_INFO")),
        200, resp.nbytes, 1234567 / 1e6, pid, env.get("REMOTE_ADDR", "-"))


combined = w["compile_log_format"]('%(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size) "%(referer)" "%(uagent)" %(msecs)')
short = w["compile_log_format"]('%(addr) %(method) %(uri) %(status) %(size) %(msecs)')
jr, jstr = w["JSON_REQUEST"], w["_jstr"]


def json_request():  # the worker's JSON request line, as run_app builds it
    return jr % (ts(), resp.nbytes, 1234567 / 1e6, jstr(env.get("REQUEST_METHOD") or ""),
                 jstr(env.get("REQUEST_URI") or env.get("PATH_INFO") or ""), jstr(env.get("REMOTE_ADDR", "-")), 200)


N = 200000
for label, f in [("fixed line (default)", fixed),
                 ("log-format short (no clock)", lambda: short(env, resp, 200, 1234567, 0, False)),
                 ("log-format combined (ltime)", lambda: combined(env, resp, 200, 1234567, 0, False)),
                 ("log-encoder json (request)", json_request)]:
    best = min(timeit.repeat(f, number=N, repeat=5)) / N
    print("%-30s %6.2f us/line" % (label, best * 1e6))
