#!/usr/bin/env python3
"""Paired rounds of the empty-task and one-shot rows: two builds of the library (A, B) beside
oneTBB task_arena and the Go channel pool, in a shuffled order each round, so a slow moment
of the shared machine hits every side alike. Prints medians and medians of per-round ratios
(B / A, B / TBB, B / Go; > 1 = B faster), and the load average before and after.

    python3 tasks/ab.py A_LIBDIR B_LIBDIR [--rounds 15] [--build build] [--go-cf] [--loops]

Each LIBDIR holds a libcfutures.so.0 (LD_LIBRARY_PATH wins over the binaries' RUNPATH);
pass the same directory twice for an A/A control. --go-cf adds the Go closure Submit rows
(built against the tree's library, so run with B = this tree's build). --loops also runs the
C loop program (per-item map and parallel_for rows, build/ours_c) on both builds: the
per-item map is sensitive to the pool's hand-off timing (two pool changes that left these
rows alone slowed it by 35-40 %), so pool changes are checked against it too.
"""
import argparse
import os
import random
import statistics
import subprocess


def run(cmd, libdir=None):
    env = dict(os.environ)
    if libdir:
        env["LD_LIBRARY_PATH"] = libdir
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    r = {}
    for line in out.split("\n"):
        p = line.split()
        if len(p) == 3:
            r[p[0]] = float(p[2])
    return r


def run_loops(cmd, libdir):
    """The loop program's "<workload> <impl> <seconds>" lines: {"workload/impl": seconds}."""
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return {f"{p[0]}/{p[1]}": float(p[2]) for p in (line.split() for line in out.split("\n")) if len(p) == 3}


def interleave(sides, rounds):
    """Runs every side once per round, in a shuffled order each round: {side: [result, ...]}."""
    res = {k: [] for k in sides}
    for _ in range(rounds):
        order = list(sides)
        random.shuffle(order)
        for k in order:
            res[k].append(sides[k]())
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build"))
    ap.add_argument("--go-cf", action="store_true")
    ap.add_argument("--loops", action="store_true")
    x = ap.parse_args()
    sides = {
        "A": lambda: run([os.path.join(x.build, "tasks_ours")], x.a),
        "B": lambda: run([os.path.join(x.build, "tasks_ours")], x.b),
        "tbb": lambda: run([os.path.join(x.build, "tasks_tbb")]),
        "go": lambda: run([os.path.join(x.build, "tasks_go")]),
    }
    if x.go_cf:
        sides["go_cf"] = lambda: run([os.path.join(x.build, "tasks_go"), "cf"], x.b)
    if x.loops:
        sides["A_loops"] = lambda: run_loops([os.path.join(x.build, "ours_c")], x.a)
        sides["B_loops"] = lambda: run_loops([os.path.join(x.build, "ours_c")], x.b)
    load0 = os.getloadavg()
    res = interleave(sides, x.rounds)
    load1 = os.getloadavg()
    loops = {k: res.pop(k) for k in ("A_loops", "B_loops") if k in res}
    for k in loops:
        del sides[k]
    if loops:
        print("loops (seconds, lower is better; B vs A > 1 = B faster):")
        for key in loops["A_loops"][0]:
            a = [r[key] for r in loops["A_loops"]]
            b = [r[key] for r in loops["B_loops"]]
            rs = [x_ / y_ for x_, y_ in zip(a, b)]
            print(f"  {key}: A {statistics.median(a):.4g}  B {statistics.median(b):.4g}  "
                  f"B vs A: median {statistics.median(rs):.3f}  (range {min(rs):.2f}..{max(rs):.2f})")
    for case, better in (("empty100k", "higher"), ("oneshot_p50", "lower")):
        med = {k: statistics.median(r[case] for r in v) for k, v in res.items()}
        print(f"{case} ({better} is better): " + "  ".join(f"{k} {v:.4g}" for k, v in med.items()))
        for peer in [k for k in sides if k != "B"]:
            rs = [(b[case] / p[case]) if better == "higher" else (p[case] / b[case])
                  for b, p in zip(res["B"], res[peer])]
            print(f"  B vs {peer}: median {statistics.median(rs):.3f}  (range {min(rs):.2f}..{max(rs):.2f})")
    print(f"rounds {x.rounds}, load average {load0[0]:.2f} -> {load1[0]:.2f}")


if __name__ == "__main__":
    main()
