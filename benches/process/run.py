"""Runs the cfutures process-pool benchmark and CPython's ProcessPoolExecutor in one run
and prints them side by side. Usage: run.py [--workers N] [--markdown]"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

ROWS = [
    ("empty_task_throughput", "empty-task throughput (submit all, then wait)", "tasks/s", True),
    ("one_shot_latency_p50", "one-shot submit→result latency, p50", "µs", False),
    ("one_shot_latency_p99", "one-shot submit→result latency, p99", "µs", False),
    ("map_chunksize_1", "map, chunksize 1", "items/s", True),
    ("map_chunksize_1000", "map, chunksize 1000", "items/s", True),
    ("start_to_first_result", "pool start → first result", "ms", False),
    ("crash_to_replacement_result", "crash → replacement worker's first result", "ms", False),
    ("start_to_first_result_forkserver", "pool start → first result (cfutures FORKSERVER)", "ms", False),
    ("crash_to_replacement_result_forkserver", "crash → replacement's first result (cfutures FORKSERVER)", "ms", False),
]


def measure(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    res = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            res[parts[0]] = float(parts[1])
    return res


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    rounds = []
    for _ in range(args.rounds):
        # Paired: both sides in the same round, so a ratio compares like with like.
        ours = measure([os.path.join(HERE, "build", "bench_process"), str(args.workers)])
        py = measure([sys.executable, os.path.join(HERE, "cpython_bench.py"), str(args.workers)])
        rounds.append((ours, py))
    load1 = os.getloadavg()[0]
    print(f"Process pool, {args.workers} workers, {os.cpu_count()} CPUs; CPython {sys.version.split()[0]} "
          f"(ProcessPoolExecutor, default start method); {args.rounds} paired rounds, medians; "
          f"load average {load0:.2f} at the start, {load1:.2f} at the end")
    print()
    print("| measurement | unit | cfutures | CPython | cfutures advantage |")
    print("|---|---|---:|---:|---:|")
    for key, label, unit, higher_better in ROWS:
        pairs = [(o.get(key), p.get(key.replace("_forkserver", ""))) for o, p in rounds]
        pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
        if not pairs:
            continue
        a = median([x for x, _ in pairs])
        b = median([y for _, y in pairs])
        ratio = median([(x / y if higher_better else y / x) for x, y in pairs])
        fmt = (lambda v: f"{v:,.0f}") if unit.endswith("/s") else (lambda v: f"{v:,.3g}" if v < 100 else f"{v:,.0f}")
        print(f"| {label} | {unit} | {fmt(a)} | {fmt(b)} | {ratio:,.1f}× |")
    note = ("CPython breaks the whole pool on a crash (BrokenProcessPool): its 'replacement' is "
            "a new pool. cfutures fails only the crashed task and starts one new worker.")
    print()
    print(note)


if __name__ == "__main__":
    main()
