# The WSGI app of bench/async.sh's gevent rounds: a short answer after a
# cooperative yield (as an app waiting on a monkey-patched socket would).
import gevent


def application(environ, start_response):
    gevent.sleep(0)
    body = b"Hello from gevent\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
