"""The MPI pool beside mpi4py.futures (MPICommExecutor from PyPI's mpi4py, on the same Open
MPI and the same ranks), in one run: paired rounds (each round runs every side), medians,
ratios. Usage: run.py [--ranks 4] [--rounds 3] [--python PATH]"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MPIRUN = ["mpirun", "--oversubscribe", "--allow-run-as-root"]

ROWS = [
    ("throughput", "empty-task throughput (submit all, then wait)", "tasks/s", True),
    ("latency_p50_us", "one-shot submit→result latency, p50", "µs", False),
    ("latency_p99_us", "one-shot submit→result latency, p99", "µs", False),
    ("map_1m_s", "map of 1 M items, chunks of 1000", "s", False),
    ("idle_cpu_worker_max_pct", "idle CPU, busiest worker rank (3 s idle)", "% of a core", False),
    ("idle_cpu_root_pct", "idle CPU, root rank", "% of a core", False),
]


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--tasks", type=int, default=100000)
    ap.add_argument("--py-tasks", type=int, default=20000)
    args = ap.parse_args()
    np = ["-np", str(args.ranks)]
    sides = {
        "cfutures NONE": MPIRUN + np + [os.path.join(HERE, "build", "bench_mpi"), "none", str(args.tasks)],
        "cfutures PROCESS": MPIRUN + np + [os.path.join(HERE, "build", "bench_mpi"), "process", str(args.tasks)],
        "mpi4py.futures": MPIRUN + np + [args.python, os.path.join(HERE, "mpi4py_bench.py"), str(args.py_tasks)],
    }
    load0 = os.getloadavg()[0]
    rounds = []
    for _ in range(args.rounds):
        rounds.append({name: run(cmd) for name, cmd in sides.items()})
    load1 = os.getloadavg()[0]
    mpi = subprocess.run(["mpirun", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    py = subprocess.run([args.python, "-c", "import mpi4py, sys; print(mpi4py.__version__, sys.version.split()[0])"],
                        capture_output=True, text=True).stdout.split()
    print(f"MPI pool, {args.ranks} ranks on {os.cpu_count()} CPUs ({mpi}); mpi4py {py[0]} on Python {py[1]} "
          f"(MPICommExecutor, rank 0 submits); {args.rounds} paired rounds, medians; "
          f"load average {load0:.2f} at the start, {load1:.2f} at the end")
    print()
    print("| measurement | unit | cfutures NONE | cfutures PROCESS | mpi4py.futures | NONE vs mpi4py | PROCESS vs mpi4py |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for key, label, unit, higher in ROWS:
        vals = {n: median([r[n][key] for r in rounds]) for n in sides}
        m = vals["mpi4py.futures"]

        def ratio(v):
            if "idle" in key:
                return "≤ 3 % target: " + ("met" if v <= 3 else "missed")
            if not v or not m:
                return "n/a"
            return f"{(v / m if higher else m / v):.1f}x"

        fmt = (lambda v: f"{v:,.0f}") if key == "throughput" else (lambda v: f"{v:.4g}")
        print(f"| {label} | {unit} | {fmt(vals['cfutures NONE'])} | {fmt(vals['cfutures PROCESS'])} | {fmt(m)} "
              f"| {ratio(vals['cfutures NONE'])} | {ratio(vals['cfutures PROCESS'])} |")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", time.strftime("%Y-%m-%dT%H%MZ.json", time.gmtime()))
    with open(path, "w") as f:
        json.dump({"load": [load0, load1], "rounds": rounds}, f, indent=1)
    print(f"\nraw rounds: {os.path.relpath(path, os.path.join(HERE, '..', '..'))}")


if __name__ == "__main__":
    main()
