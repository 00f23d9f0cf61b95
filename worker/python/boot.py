# What the master runs: worker.py, with its bytecode cached.
#
# Python compiles the script it is given every time and never caches it,
# and worker.py is ~2,300 lines: ~32 ms of CPU to compile, paid by every
# zygote, every lazy, ASGI or gevent worker, spooler and mule at each
# start, on the cores that serve requests during a reload. Loaded here
# through the import system's loader instead, its bytecode is kept in
# __pycache__ in the master's private runtime directory (removed with
# it): compiled by the first process, read by every later one. It runs as
# __main__ with worker.py as its file, as if Python ran worker.py.
#
# As for any module, PYTHONDONTWRITEBYTECODE or -B mean no cache, and a
# directory the process cannot write means none: worker.py is then
# compiled at each start, as before.


def _run():
    import os
    import sys
    from importlib.machinery import SourceFileLoader
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
    code = SourceFileLoader("__main__", path).get_code("__main__")
    main = sys.modules["__main__"].__dict__
    del main["_run"]  # worker.py's namespace holds only its own names
    main["__file__"] = path
    sys.argv[0] = path
    exec(code, main)


_run()
