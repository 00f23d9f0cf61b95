#!/usr/bin/python3
"""A process tree's costs split by process, read from /proc, for
bench/seedsplit.sh: `procsplit.py snap PID` prints a snapshot (JSON) of
PID and its descendants, every thread of each; `procsplit.py diff A B N`
prints what happened between snapshots A and B per request (N requests):
CPU us (schedstat, ns on a CPU), user and system us (stat's ticks: 10 ms
coarse, read over many requests), minor faults, voluntary and involuntary
context switches, per role (master, zygote, workers) and the tree's total.
"""
import json
import os
import sys


def children(pid):
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def comm_args(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("latin-1", "replace")
    except OSError:
        return ""


def thread(pid, tid):
    base = "/proc/%d/task/%s/" % (pid, tid)
    with open(base + "stat") as f:
        st = f.read().rsplit(")", 1)[1].split()
    with open(base + "schedstat") as f:
        run_ns, wait_ns, slices = (int(x) for x in f.read().split())
    vol = invol = 0
    with open(base + "status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches"):
                vol = int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches"):
                invol = int(line.split()[1])
    # st[0] is the state (field 3); minflt field 10, utime 14, stime 15
    return {"zombie": st[0] == "Z", "run_ns": run_ns, "wait_ns": wait_ns, "minflt": int(st[7]), "majflt": int(st[9]),
            "utime": int(st[11]), "stime": int(st[12]), "vol": vol, "invol": invol}


def snap(root):
    procs = {}
    todo, depth = [(root, 0)], {}
    while todo:
        pid, d = todo.pop()
        try:
            threads = {tid: thread(pid, tid) for tid in os.listdir("/proc/%d/task" % pid)}
        except OSError:
            continue
        kids = children(pid)
        if not kids and all(t["zombie"] for t in threads.values()):
            continue  # the zygote's exited helper, not yet reaped
        role = "master" if d == 0 else ("zygote" if kids else "worker")
        procs[pid] = {"role": role, "args": comm_args(pid), "threads": threads}
        todo += [(c, d + 1) for c in kids]
    return procs


KEYS = ("run_ns", "utime", "stime", "minflt", "vol", "invol", "wait_ns")


def diff(a, b, n):
    hz = os.sysconf("SC_CLK_TCK")
    roles = {}
    for pid, p in b.items():
        old = a.get(pid, {"threads": {}})["threads"]
        r = roles.setdefault(p["role"], dict.fromkeys(KEYS, 0))
        r.setdefault("procs", 0)
        r["procs"] += 1
        for tid, t in p["threads"].items():
            o = old.get(tid, dict.fromkeys(KEYS, 0))
            for k in KEYS:
                r[k] += t[k] - o[k]
    total = dict.fromkeys(KEYS, 0)
    lines = []
    for role in sorted(roles):
        r = roles[role]
        for k in KEYS:
            total[k] += r[k]
        lines.append(fmt(role + " x%d" % r["procs"], r, n, hz))
    lines.append(fmt("tree", total, n, hz))
    return "\n".join(lines)


def fmt(name, r, n, hz):
    return ("  %-10s cpu %6.1f us (user %5.1f sys %5.1f) runq-wait %6.1f us  minflt %6.3f  vol %5.2f  invol %5.2f  per request" % (
        name, r["run_ns"] / 1e3 / n, r["utime"] / hz * 1e6 / n, r["stime"] / hz * 1e6 / n,
        r["wait_ns"] / 1e3 / n, r["minflt"] / n, r["vol"] / n, r["invol"] / n))


if __name__ == "__main__":
    if sys.argv[1] == "snap":
        json.dump(snap(int(sys.argv[2])), sys.stdout)
    else:
        with open(sys.argv[2]) as f:
            a = {int(k): v for k, v in json.load(f).items()}
        with open(sys.argv[3]) as f:
            b = {int(k): v for k, v in json.load(f).items()}
        print(diff(a, b, float(sys.argv[4])))
