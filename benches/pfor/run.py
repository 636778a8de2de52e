#!/usr/bin/env python3
"""run.py: the parallel-loop benchmark driver. Runs every program once per round, in a
shuffled order each round (interleaved rounds: a slow moment of the shared machine hits
every implementation alike), and prints two markdown tables: median throughput per
implementation, and medians of per-round ratios (ours / peer, > 1 = ours faster).

    python3 run.py --build build --rayon rayon/target/release/pfor-rayon [--rounds 7]

Raw per-round times go to BUILD/results-<UTC time>.json, the tables to .md beside it.
"""
import argparse
import datetime
import json
import os
import random
import statistics
import subprocess
import sys

ITEMS = {"sq1m": 1_000_000, "sq10m": 10_000_000, "sum10m": 10_000_000, "tri": 6000, "spike": 1_000_000, "map1m": 1_000_000}
ROWS = {
    "sq1m": "in-place squares, 1 M int64",
    "sq10m": "in-place squares, 10 M int64",
    "sum10m": "sum of 10 M int64",
    "tri": "uneven: item i costs i units (6000 items)",
    "spike": "uneven: 1 item in 100 costs 1000x (1 M items)",
    "map1m": "C++ pool.map, 1 M int64 squares into a new vector",
}
OURS = ["c_map", "c_map_lib", "c_map_static", "c_pfor", "cpp_pfor", "go_pfor", "cpp_map", "cpp_map_chunks"]
PEERS = ["omp_static", "omp_dynamic", "tbb", "tbb_call", "tbb_call_lib", "rayon_chunks", "rayon_iter", "go_chunks"]
NAMES = {
    "c_map": "cfutures C per-item map",
    "c_map_lib": "cfutures C per-item map, callback in a shared library",
    "c_map_static": "cfutures C per-item map, libcfutures.a linked in",
    "c_pfor": "cfutures C parallel_for",
    "cpp_pfor": "cfutures C++ parallel_for",
    "go_pfor": "cfutures Go ParallelFor",
    "cpp_map": "cfutures C++ map (loop)",
    "cpp_map_chunks": "cfutures C++ map_lazy().collect()",
    "omp_static": "OpenMP static",
    "omp_dynamic": "OpenMP dynamic",
    "tbb": "oneTBB parallel_for",
    "tbb_call": "oneTBB parallel_for, a C item call per item",
    "tbb_call_lib": "oneTBB parallel_for, a C item call per item, callback in a shared library",
    "rayon_chunks": "rayon par_chunks_mut",
    "rayon_iter": "rayon par_iter(_mut)",
    "go_chunks": "Go chunked goroutines",
}


def rate(items, secs):
    r = items / secs
    return f"{r / 1e9:.2f} G/s" if r >= 1e9 else f"{r / 1e6:.0f} M/s" if r >= 1e6 else f"{r / 1e3:.0f} k/s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rayon", required=True)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    progs = [[os.path.join(a.build, p)] for p in ("ours_c", "ours_c_static", "ours_cpp", "omp", "tbb", "go_peer")] + [[a.rayon]]
    progs += [[os.path.join(a.build, "go_peer"), "pfor"]]  # the same binary: the same loop kernels
    tasks = os.path.join(a.build, "tasks_go")
    progs += [[os.path.join(a.build, "tasks_ours")], [os.path.join(a.build, "tasks_ours"), "help"],
              [os.path.join(a.build, "tasks_tbb")], [tasks],
              [tasks, "cf"], [tasks, "cf_direct"]]
    env = dict(os.environ)
    # Every implementation uses all the machine's CPUs (its default); OpenMP threads sleep
    # between regions after a short spin, as by default.
    rounds = []
    load0 = os.getloadavg()[0]
    for r in range(a.rounds):
        order = progs[:]
        random.shuffle(order)
        times = {}
        for p in order:
            out = subprocess.run(p, capture_output=True, text=True, env=env, check=True).stdout
            for line in out.splitlines():
                w, impl, secs = line.split()
                times[(w, impl)] = float(secs)
        rounds.append(times)
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)

    impls = OURS + PEERS
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%MZ")
    lines = [f"Parallel loops, {stamp}, {a.rounds} interleaved rounds, {os.cpu_count()} CPUs, load average "
             f"{load0:.1f} at the start and {os.getloadavg()[0]:.1f} at the end; "
             "each cell: median over rounds of each program's median of 9 runs.", "",
             "| workload | " + " | ".join(NAMES[i] for i in impls) + " |",
             "|---|" + "---:|" * len(impls)]
    for w in ITEMS:
        cells = []
        for i in impls:
            ts = [t[(w, i)] for t in rounds if (w, i) in t]
            cells.append(rate(ITEMS[w], statistics.median(ts)) if ts else "—")
        lines.append(f"| {ROWS[w]} | " + " | ".join(cells) + " |")
    lines += ["", "Ratios (ours / peer throughput; > 1 = ours faster), medians of per-round ratios:", "",
              "| workload | ours | " + " | ".join(NAMES[p] for p in PEERS) + " |",
              "|---|---|" + "---:|" * len(PEERS)]
    for w in ITEMS:
        for o in OURS:
            if (w, o) not in rounds[0] or w == "map1m":  # no peer maps into a new vector
                continue
            cells = []
            for p in PEERS:
                rs = [t[(w, p)] / t[(w, o)] for t in rounds if (w, p) in t and (w, o) in t]
                cells.append(f"{statistics.median(rs):.2f}x" if rs else "—")
            lines.append(f"| {w} | {NAMES[o]} | " + " | ".join(cells) + " |")
    rs = [t[("map1m", "cpp_map_chunks")] / t[("map1m", "cpp_map")] for t in rounds
          if ("map1m", "cpp_map") in t and ("map1m", "cpp_map_chunks") in t]
    if rs:
        lines += ["", f"C++ pool.map as a loop vs the chunked map_lazy().collect(): {statistics.median(rs):.2f}x "
                  f"(min {min(rs):.2f}x, max {max(rs):.2f}x)"]
    lines += ["", "Empty tasks (100 000 submitted, then each result waited in order) and one-shot "
              "submit->result p50; medians over rounds, ratios of per-round values (> 1 = the first better):", "",
              "| case | cfutures C | cfutures C, waiters help | oneTBB task_arena::enqueue + atomic flag | "
              "Go channel pool | cfutures Go Submit | Go Submit WithDirectGoTasks | C vs TBB | C vs Go pool | "
              "C, waiters help, vs TBB | C, waiters help, vs Go pool | Go Submit vs Go pool |",
              "|---|" + "---:|" * 11]
    timps = ["cf", "cf_help", "tbb", "go", "go_cf", "go_cf_direct"]
    for case, higher in (("empty100k", True), ("oneshot_p50", False)):
        vals = [[t[(case, i)] for t in rounds if (case, i) in t] for i in timps]
        fmt = (lambda v: f"{v / 1e6:.2f} M/s") if higher else (lambda v: f"{v * 1e6:.2f} us")
        cells = [fmt(statistics.median(v)) if v else "—" for v in vals]

        def ratio(x, y):
            rs = [(t[(case, x)] / t[(case, y)]) if higher else (t[(case, y)] / t[(case, x)])
                  for t in rounds if (case, x) in t and (case, y) in t]
            return f"{statistics.median(rs):.2f}x" if rs else "—"
        cells += [ratio("cf", "tbb"), ratio("cf", "go"), ratio("cf_help", "tbb"), ratio("cf_help", "go"),
                  ratio("go_cf", "go")]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(a.build, f"results-{stamp}.json"), "w") as f:
        json.dump([{f"{w} {i}": s for (w, i), s in t.items()} for t in rounds], f, indent=1)
    with open(os.path.join(a.build, f"results-{stamp}.md"), "w") as f:
        f.write(table + "\n")


if __name__ == "__main__":
    main()
