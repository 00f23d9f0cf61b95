# A zygote as supervise's will be: it registers signals and a timer once
# (uwsgi_signals.zygote()), then forks workers that each start() and so
# connect on their own. Used by server_test.go. Lines on stdout:
# "ready ID PID", "got SIG ID", "rereg ERROR".
import importlib.util
import os
import select
import sys

spec = importlib.util.spec_from_file_location("uwsgi_signals", sys.argv[2])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
os.environ["SUPERVISE_SIGNAL_SOCKET"] = sys.argv[1]


def out(line):
    os.write(1, (line + "\n").encode())


def h(n):
    out("got %d %d" % (n, m._ident))


m.zygote(1)
m.register_signal(20, "workers", h)
m.register_signal(5, "workers", h)
m.register_signal(6, "worker2", h)
m.add_timer(5, 1)
try:
    m.register_signal(20, "worker", h)
except ValueError as e:
    out("rereg %s" % e)
kids = []
for i in (1, 2):
    pid = os.fork()
    if pid == 0:
        m.start("worker", i, 1)
        out("ready %d %d" % (i, os.getpid()))
        # The test asks this worker to raise a signal with a file named
        # raiseNUM-ID in TRIGGER_DIR; stdin's end ends it.
        while True:
            ready, _, _ = select.select([0], [], [], 0.01)
            if ready and not os.read(0, 4096):
                os._exit(0)
            for num in (20, 6):
                path = os.path.join(os.environ["TRIGGER_DIR"], "raise%d-%d" % (num, i))
                if os.path.exists(path):
                    os.remove(path)
                    m.signal(num)
    kids.append(pid)
sys.stdin.read()
for pid in kids:
    os.waitpid(pid, 0)
