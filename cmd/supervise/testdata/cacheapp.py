# The uWSGI cache API, run the same way under supervise and under uWSGI
# 2.0.21 (cmd/supervise/cache_test.go compares what they answer).
import json
import os
from urllib.parse import parse_qs

import uwsgi


def r(fn, *args):
    """What a call returns, as JSON-able text; an exception by its type."""
    try:
        v = fn(*args)
    except Exception as e:
        return "%s" % type(e).__name__
    if isinstance(v, bytes):
        return "b:" + v.decode("latin-1")
    if isinstance(v, list):
        return sorted(r(lambda: x) for x in v)
    return repr(v)


def script():
    """Every cache function on fresh caches (see cacheINI in cache_test.go)."""
    u = uwsgi
    out = []
    step = lambda name, *a: out.append([name, r(*a)])
    step("set new", u.cache_set, "a", b"1")
    step("set existing", u.cache_set, "a", b"2")
    step("get", u.cache_get, "a")
    step("update existing", u.cache_update, "a", "2")
    step("get updated", u.cache_get, b"a")
    step("update new", u.cache_update, "b", "B")
    step("exists", u.cache_exists, "a")
    step("exists missing", u.cache_exists, "zz")
    step("del", u.cache_del, "a")
    step("del again", u.cache_del, "a")
    step("get deleted", u.cache_get, "a")
    step("get missing", u.cache_get, "missing")
    step("set named", u.cache_set, "x", "v", 0, "small")
    step("default cache has no x", u.cache_get, "x")
    step("get named", u.cache_get, "x", "small")
    step("empty name is default", u.cache_get, "b", "")
    step("value over blocksize", u.cache_set, "o", "y" * 17, 0, "small")
    step("value of blocksize", u.cache_set, "o", "y" * 16, 0, "small")
    step("update over blocksize", u.cache_update, "o", "y" * 17, 0, "small")
    step("key over keysize", u.cache_set, "k" * 9, "v", 0, "small")
    step("key of keysize", u.cache_exists, "k" * 8, "small")
    step("empty value", u.cache_set, "e", "")
    step("empty key", u.cache_set, "", "v")
    step("last free item", u.cache_set, "y", "v", 0, "small")
    step("full", u.cache_set, "z", "v", 0, "small")
    step("update when full", u.cache_update, "y", "w", 0, "small")
    step("keys", u.cache_keys, "small")
    step("unknown cache get", u.cache_get, "x", "nope")
    step("unknown cache set", u.cache_set, "x", "v", 0, "nope")
    step("unknown cache del", u.cache_del, "x", "nope")
    step("unknown cache exists", u.cache_exists, "x", "nope")
    step("unknown cache clear", u.cache_clear, "nope")
    step("unknown cache num", u.cache_num, "x", "nope")
    step("unknown cache inc", u.cache_inc, "x", 1, 0, "nope")
    step("unknown cache keys", u.cache_keys, "nope")
    step("inc new", u.cache_inc, "n")
    step("num", u.cache_num, "n")
    step("inc 10", u.cache_inc, "n", 10)
    step("dec 3", u.cache_dec, "n", 3)
    step("mul", u.cache_mul, "n")
    step("div 3", u.cache_div, "n", 3)
    step("num after", u.cache_num, "n")
    step("get num", u.cache_get, "n")
    step("div 0", u.cache_div, "n", 0)
    step("num zero", u.cache_num, "n")
    step("dec new", u.cache_dec, "m", 7)
    step("div negative", u.cache_div, "m", 2)
    step("num negative", u.cache_num, "m")
    step("mul new", u.cache_mul, "p")
    step("div new", u.cache_div, "q")
    step("num p q", lambda: (u.cache_num("p"), u.cache_num("q")))
    step("num missing", u.cache_num, "missing")
    step("num of a string", u.cache_num, "b")
    step("num named", lambda: (u.cache_inc("c", 5, 0, "big"), u.cache_num("c", "big"), u.cache_num("c")))
    step("str value", lambda: (u.cache_set("s", "\u00e9"), u.cache_get("s")))
    step("int key", u.cache_get, 1)
    step("bytearray key", u.cache_get, bytearray(b"a"))
    step("int value", u.cache_set, "i", 5)
    step("float expires", u.cache_set, "f", "v", 1.5)
    step("bytes cache name", u.cache_get, "a", b"small")
    step("clear named", u.cache_clear, "small")
    step("keys after clear", u.cache_keys, "small")
    step("set after clear", u.cache_set, "y", "v", 0, "small")
    # purge_lru: the least recently used item goes when a new one needs room
    step("lru a b", lambda: (u.cache_set("a", "1", 0, "lru"), u.cache_set("b", "2", 0, "lru")))
    step("lru get a", u.cache_get, "a", "lru")
    step("lru set c", u.cache_set, "c", "3", 0, "lru")
    step("lru keys", u.cache_keys, "lru")
    # clear_on_full: a new item into a full cache empties it first
    step("cof a b", lambda: (u.cache_set("a", "1", 0, "cof"), u.cache_set("b", "2", 0, "cof")))
    step("cof set c", u.cache_set, "c", "3", 0, "cof")
    step("cof keys", u.cache_keys, "cof")
    step("math_initial", lambda: (u.cache_inc("n", 1, 0, "mi"), u.cache_num("n", "mi")))
    step("keys default", u.cache_keys)
    step("clear default", u.cache_clear)
    step("keys after clear default", u.cache_keys)
    return out


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    c = q.get("c")
    if path == "/script":
        body = json.dumps(script())
    elif path == "/set":
        body = r(uwsgi.cache_update, q["k"], q["v"], int(q.get("e", 0)), c)
    elif path == "/get":
        body = r(uwsgi.cache_get, q["k"], c)
    elif path == "/pid":
        body = str(os.getpid())
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    body = body.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
