#!/usr/bin/env python3
"""Paired A/B of two builds of the library on cbench cases, interleaved round by round.

    benches/ab.py BASE_DIR CAND_DIR [--rounds 9] [--case submit1w:200000:tasks_per_s ...]

Each directory holds a libcfutures.so.0; cbench's RUNPATH yields to LD_LIBRARY_PATH, so the
same cbench binary runs both. Rounds alternate A,B / B,A so drift hits both sides alike.
Prints the median of each side and the median of the per-round ratios (B / A).
"""
import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CASES = ["submit1w:200000:tasks_per_s", "submit1:200000:tasks_per_s", "lat:20000:p50_us", "tick:300:net_cpu_us_per_tick"]


def run(cbench, libdir, case, n, key):
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    out = subprocess.run([cbench, case, n], env=env, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        k, _, v = line.partition(" ")
        if k == key:
            return float(v)
    sys.exit(f"ab.py: {case} printed no {key}:\n{out}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("cand")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--case", action="append", help="CASE:N:KEY (default: %s)" % " ".join(DEFAULT_CASES))
    ap.add_argument("--cbench", default=os.path.join(HERE, "build", "cbench"))
    a = ap.parse_args()
    for spec in a.case or DEFAULT_CASES:
        case, n, key = spec.split(":")
        xs, ys, ratios = [], [], []
        for r in range(a.rounds):
            order = [(a.base, xs), (a.cand, ys)] if r % 2 == 0 else [(a.cand, ys), (a.base, xs)]
            for libdir, acc in order:
                acc.append(run(a.cbench, libdir, case, n, key))
            ratios.append(ys[-1] / xs[-1])
        print(f"{case:10} {key:18} A {statistics.median(xs):12.4g}  B {statistics.median(ys):12.4g}  "
              f"B/A median {statistics.median(ratios):.3f}  (ratios {min(ratios):.2f}..{max(ratios):.2f}, {a.rounds} rounds)")


if __name__ == "__main__":
    main()
