#!/usr/bin/env python3
"""Paired rounds of the Go closure rows: cfutures.Submit of two builds of the Go package
(OLD and NEW tasks_go binaries, e.g. main's and a branch's) beside the Go channel pool, plus
NEW against a copy of itself (the A/A control), in a shuffled order each round. Prints
medians, medians of per-round ratios, and medians of per-round differences per task
against the channel pool (µs: 1/throughput for the 100 000-task burst, p50 for one-shot).

    python3 tasks/go_ab.py NEW_TASKS_GO OLD_TASKS_GO [--rounds 15]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ab import interleave, run  # noqa: E402  (one parser of the programs' "<case> <impl> <value>" lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("new")
    ap.add_argument("old")
    ap.add_argument("--rounds", type=int, default=15)
    x = ap.parse_args()
    copy = os.path.join(tempfile.mkdtemp(), "tasks_go_copy")
    shutil.copy(x.new, copy)
    sides = {
        "go": lambda: run([x.new]),
        "new": lambda: run([x.new, "cf"]),
        "new_copy": lambda: run([copy, "cf"]),
        "old": lambda: run([x.old, "cf"]),
    }
    load0 = os.getloadavg()
    res = interleave(sides, x.rounds)
    load1 = os.getloadavg()
    for case, better in (("empty100k", "higher"), ("oneshot_p50", "lower")):
        med = {k: statistics.median(r[case] for r in v) for k, v in res.items()}
        print(f"{case} ({better} is better): " + "  ".join(f"{k} {v:.4g}" for k, v in med.items()))
        for a, b in (("new", "go"), ("new", "old"), ("new", "new_copy")):
            rs = [(p[case] / q[case]) if better == "higher" else (q[case] / p[case])
                  for p, q in zip(res[a], res[b])]
            print(f"  {a} vs {b}: median ratio {statistics.median(rs):.3f}  (range {min(rs):.2f}..{max(rs):.2f})")
        for a in ("new", "new_copy", "old"):
            per = (lambda r: 1e6 / r[case]) if case == "empty100k" else (lambda r: 1e6 * r[case])
            ds = [per(p) - per(q) for p, q in zip(res[a], res["go"])]
            print(f"  {a} - go per task: median {statistics.median(ds):+.3f} us  (range {min(ds):+.2f}..{max(ds):+.2f})")
    print(f"rounds {x.rounds}, load average {load0[0]:.2f} -> {load1[0]:.2f}")


if __name__ == "__main__":
    main()
