#!/usr/bin/python3
"""Side by side, the CPU time per request of two or more process trees by
DSO and by symbol, from `perf report` of `perf record -e cpu-clock -F HZ`
runs (bench/seedsplit.sh PERFREC=1): `perfsyms.py HZ NAME:FILE:REQUESTS...`.
A sample is 1/HZ s of a CPU; samples / requests / HZ is the time per
request the symbol took, perf's own overhead included.
"""
import os
import subprocess
import sys


def report(path):
    out = subprocess.run(["perf", "report", "-i", path, "--stdio", "-n", "--sort", "dso,sym", "--percent-limit", "0"],
                         capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(None, 3)
        if len(parts) < 4 or not parts[0].endswith("%"):
            continue
        n, dso, sym = int(parts[1]), parts[2], parts[3].split(None, 1)[-1].strip()
        syms[(dso, sym)] = syms.get((dso, sym), 0) + n
    return syms


def main():
    hz = float(sys.argv[1])
    runs = []
    for arg in sys.argv[2:]:
        name, path, n = arg.split(":")
        runs.append((name, report(path), float(n)))
    us = lambda s, n: s / hz * 1e6 / n
    print("by DSO, us per request")
    dsos = {}
    for i, (name, syms, n) in enumerate(runs):
        for (dso, _), s in syms.items():
            dsos.setdefault(dso, [0.0] * len(runs))[i] += us(s, n)
    print("  %-40s" % "" + "".join("%10s" % r[0] for r in runs))
    for dso, v in sorted(dsos.items(), key=lambda kv: -max(kv[1])):
        if max(v) >= 0.2:
            print("  %-40s" % dso[:40] + "".join("%10.2f" % x for x in v))
    print("  %-40s" % "total" + "".join("%10.2f" % sum(us(s, n) for s in syms.values()) for _, syms, n in runs))
    shares = []
    for _, syms, n in runs:
        total = sum(syms.values()) or 1
        shares.append(100.0 * sum(v for (dso, sym), v in syms.items() if sym == "_PyEval_EvalFrameDefault") / total)
    print("  %-40s" % "the interpreter's loop, % of total" + "".join("%10.1f" % x for x in shares))
    print("by symbol, us per request (DSOs merged: python3.11 and libpython3.11 count as one)")
    merged = {}
    for i, (name, syms, n) in enumerate(runs):
        for (dso, sym), s in syms.items():
            key = ("python" if "python3" in dso else dso, sym)
            merged.setdefault(key, [0.0] * len(runs))[i] += us(s, n)
    top = sorted(merged.items(), key=lambda kv: -max(kv[1]))[:int(os.environ.get("TOP", "45"))]
    for (dso, sym), v in top:
        print("  %-58s" % (dso[-16:] + " " + sym)[:58] + "".join("%10.2f" % x for x in v) +
              ("   %+.2f" % (v[0] - v[1]) if len(v) > 1 else ""))


if __name__ == "__main__":
    main()
