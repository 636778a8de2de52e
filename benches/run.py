#!/usr/bin/env python3
"""run.py: the benchmark driver. Builds nothing (the Makefile does); runs every case of
every implementation in interleaved, shuffled rounds, one fresh process per case per round,
and prints a markdown table of medians [min-max] with paired per-round ratios.

    python3 run.py --cbench build/cbench --peers peers/target/release/peers \
                   --pybench pybench.py --tbb build/tbb_forkjoin [--rounds 5] [--out build] [--only SUBSTR]

cbench runs against a snapshot copy of target/release/libcfutures.so taken when the run
starts (OUT/libsnap, via LD_LIBRARY_PATH), so a rebuild during the run cannot mix builds;
--no-snapshot runs against target/release directly.

Each benchmark program prints "key value" lines. Raw per-round results go to
OUT/results-<UTC time>.json (and the table to OUT/results-<UTC time>.md) so they can be
recomputed later.
"""
import argparse
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time

IMPLS = ["cf", "py", "cb", "rayon", "tbb"]
IMPL_NAMES = {
    "cf": "cfutures (C API)",
    "py": "CPython TPE",
    "cb": "Rust crossbeam pool",
    "rayon": "rayon 1.12",
    "tbb": "oneTBB task_group",
}
RATIO_NAMES = {"py": "cf vs CPython", "cb": "cf vs crossbeam", "rayon": "cf vs rayon", "tbb": "cf vs TBB"}


def case_table(a):
    """Case id -> argv. Ids are '<impl>:<name>'."""
    cb, pe, py, cq = a.cbench, a.peers, [sys.executable, a.pybench], a.cqbench
    pin = ["taskset", "-c", "0"]
    c = {
        # 1. empty-task submit+result throughput, 2 workers
        "cf:submit1": [cb, "submit1"],
        "cf:submit1w": [cb, "submit1w"],
        "cf:submit1t": [cb, "submit1t"],
        "cf:submit2": [cb, "submit2"],
        "py:submit1": py + ["submit1"],
        "py:submit2": py + ["submit2"],
        "cb:submit1": [pe, "cb_submit1"],
        "cb:submit1w": [pe, "cb_submit1w"],
        "cb:submit1t": [pe, "cb_submit1t"],
        "cb:submit2": [pe, "cb_submit2"],
        "rayon:submit1": [pe, "rayon_submit1"],
        "rayon:submit1w": [pe, "rayon_submit1w"],
        "rayon:submit2": [pe, "rayon_submit2"],
        # 2. one-shot latency, default placement and confined to one CPU
        "cf:lat": [cb, "lat"],
        "py:lat": py + ["lat"],
        "cb:lat": [pe, "cb_lat"],
        "rayon:lat": [pe, "rayon_lat"],
        "cf:lat_pin": pin + [cb, "lat"],
        "py:lat_pin": pin + py + ["lat"],
        "cb:lat_pin": pin + [pe, "cb_lat"],
        "rayon:lat_pin": pin + [pe, "rayon_lat"],
        # 3. idle tick
        "cf:tick": [cb, "tick"],
        "py:tick": py + ["tick"],
        "cb:tick": [pe, "cb_tick"],
        "rayon:tick": [pe, "rayon_tick"],
        # 4. map (CPython: 50 k items, one future per item whatever the chunksize)
        "cf:map1_1M": [cb, "map1", "1000000"],
        "cf:map1000_1M": [cb, "map1000", "1000000"],
        "cf:map1000_10M": [cb, "map1000", "10000000"],
        "cf:mapauto_1M": [cb, "mapauto", "1000000"],
        "cf:mapauto_10M": [cb, "mapauto", "10000000"],
        "cf:mapmanual_10M": [cb, "mapmanual", "10000000"],
        "py:map_50k": py + ["map1", "50000"],
        "cb:map1_1M": [pe, "cb_map1", "1000000"],
        "cb:map1000_1M": [pe, "cb_map1000", "1000000"],
        "cb:map1000_10M": [pe, "cb_map1000", "10000000"],
        "rayon:map1_1M": [pe, "rayon_map1", "1000000"],
        "rayon:map1000_1M": [pe, "rayon_map1000", "1000000"],
        "rayon:map1000_10M": [pe, "rayon_map1000", "10000000"],
        "rayon:mapauto_1M": [pe, "rayon_mapauto", "1000000"],
        "rayon:mapauto_10M": [pe, "rayon_mapauto", "10000000"],
        # 5. I/O-bound sleep: 1000 x 10 ms on 100 workers
        "cf:sleep": [cb, "sleep"],
        "py:sleep": py + ["sleep"],
        "cb:sleep": [pe, "cb_sleep"],
        # 6. recursive fork-join: each task submits its children and waits on them
        "cf:fib": [cb, "fib"],
        "py:fib": py + ["fib"],
        "py:fib_deadlock": py + ["fib_deadlock"],
        "rayon:fib": [pe, "rayon_fib"],
        "tbb:fib": [a.tbb, "fib"],
        "cf:qsort": [cb, "qsort"],
        "py:qsort_200k": py + ["qsort", "200000"],
        "rayon:qsort": [pe, "rayon_qsort"],
        "tbb:qsort": [a.tbb, "qsort"],
    }
    if cq:
        # 6. completion to an event loop (its own table: CQ_ROWS)
        c.update({"cq:cq": [cq, "cq"], "cq:result": [cq, "result"], "cq:uv": [cq, "uv"]})
    return c


# 6. Completion to an event loop: (label, metric key, higher_is_better)
CQ_COLS = [("cq", "cfutures: completion queue, epoll loop"), ("result", "cfutures: blocking `cfut_future_result`"),
           ("uv", "libuv 1.44 `uv_queue_work` (own loop)")]
CQ_ROWS = [("tasks/s", "tasks_per_s", True), ("completion-to-loop latency p50 (µs)", "p50_us", False),
           ("completion-to-loop latency p99 (µs)", "p99_us", False),
           ("loop wake-ups per task", "wakeups_per_task", False)]


# (section, label, metric key, higher_is_better, {impl: case name}, target note)
ROWS = [
    ("1. Empty-task submit+result throughput, 2 workers (submit all, then result() each)",
     "1 submitter = main thread (tasks/s)", "tasks_per_s", True, {i: "submit1" for i in IMPLS}, "≥ 4 M"),
    (None, "1 submitter = main thread, warm heap: after one untimed batch (tasks/s)", "tasks_per_s",
     True, {"cf": "submit1w", "cb": "submit1w", "rayon": "submit1w"}, "≥ 4 M"),
    (None, "1 submitter on a spawned thread (tasks/s)", "tasks_per_s", True,
     {"cf": "submit1t", "cb": "submit1t"}, ""),
    (None, "2 submitters (tasks/s)", "tasks_per_s", True, {i: "submit2" for i in IMPLS}, "≥ 4 M"),
    (None, "1 submitter: process CPU per task (µs)", "cpu_us_per_task", False,
     {i: "submit1" for i in IMPLS}, ""),
    (None, "1 submitter: context switches per task", "csw_per_task", False,
     {i: "submit1" for i in IMPLS}, ""),
    ("2. One-shot submit→result latency, warm 2-worker pool, back-to-back",
     "p50 (µs), default placement", "p50_us", False, {i: "lat" for i in IMPLS}, "≤ 2"),
    (None, "p99 (µs), default placement", "p99_us", False, {i: "lat" for i in IMPLS}, ""),
    (None, "process CPU per sample (µs), default placement", "cpu_us_per_sample", False,
     {i: "lat" for i in IMPLS}, ""),
    (None, "context switches per sample, default placement", "csw_per_sample", False,
     {i: "lat" for i in IMPLS}, ""),
    (None, "p50 (µs), `taskset -c 0`", "p50_us", False, {i: "lat_pin" for i in IMPLS}, ""),
    (None, "p99 (µs), `taskset -c 0`", "p99_us", False, {i: "lat_pin" for i in IMPLS}, ""),
    ("3. Idle tick: 1000 × (sleep 1 ms; submit no-op; wait), process CPU by getrusage",
     "CPU per tick (µs)", "cpu_us_per_tick", False, {i: "tick" for i in IMPLS}, "near 0"),
    (None, "CPU per tick beyond a bare sleep loop (µs)", "net_cpu_us_per_tick", False,
     {i: "tick" for i in IMPLS}, "near 0"),
    (None, "context switches per tick beyond the bare loop", "net_csw_per_tick", False,
     {i: "tick" for i in IMPLS}, ""),
    (None, "bare sleep loop, same process, pool idle: CPU per tick (µs)", "bare_cpu_us_per_tick",
     False, {i: "tick" for i in IMPLS}, ""),
    (None, "wall per tick (µs)", "wall_us_per_tick", False, {i: "tick" for i in IMPLS}, ""),
    ("4. Map, identity (store) per item, 2 workers; items/s. CPython: 50 k items, TPE ignores "
     "chunksize (one future per item), same measurement in every row; rayon: "
     "`par_iter().map().collect()`, chunk rows forced with `with_min_len/with_max_len`",
     "1 M items, chunk 1", "items_per_s", True,
     {"cf": "map1_1M", "py": "map_50k", "cb": "map1_1M", "rayon": "map1_1M"}, ""),
    (None, "1 M items, chunk 1000", "items_per_s", True,
     {"cf": "map1000_1M", "py": "map_50k", "cb": "map1000_1M", "rayon": "map1000_1M"}, ""),
    (None, "10 M items, chunk 1000", "items_per_s", True,
     {"cf": "map1000_10M", "py": "map_50k", "cb": "map1000_10M", "rayon": "map1000_10M"}, ""),
    (None, "1 M items, auto", "items_per_s", True,
     {"cf": "mapauto_1M", "py": "map_50k", "rayon": "mapauto_1M"}, ""),
    (None, "10 M items, auto", "items_per_s", True,
     {"cf": "mapauto_10M", "py": "map_50k", "rayon": "mapauto_10M"}, "≥ 50% of rayon"),
    (None, "diagnostic: 10 M items as 16 hand-made chunks (cfutures: one `cfut_executor_submit` + "
     "`cfut_future_result` per chunk, not `cfut_executor_map`)", "items_per_s", True,
     {"cf": "mapmanual_10M", "rayon": "mapauto_10M"}, ""),
    ("5. I/O-bound: 1000 × sleep(10 ms) on 100 workers (ideal 100 ms; includes pool start)",
     "wall (ms)", "wall_ms", False, {"cf": "sleep", "py": "sleep", "cb": "sleep"}, ""),
    ("6. Recursive fork-join, 2 threads: each task submits its two children and waits on them "
     "(cfutures: `cfut_executor_submit` + a blocking wait, run inline by the waiting worker; "
     "rayon: `join`; TBB: `task_group::run` + `wait`; CPython: `submit` + `result()`, which "
     "deadlocks on 2 workers and needs a thread for every waiting task)",
     "fib(30), cutoff 16: mean of 20 runs after a warm-up (ms; CPython: 3 runs)", "ms", False,
     {"cf": "fib", "py": "fib", "rayon": "fib", "tbb": "fib"}, "≤ 2× TBB"),
    (None, "fib(30): best run (ms)", "best_ms", False, {"cf": "fib", "py": "fib", "rayon": "fib", "tbb": "fib"}, ""),
    (None, "fib(30): threads CPython's pool started", "threads", False, {"py": "fib"}, ""),
    (None, "fib(30) on a 2-worker CPython pool: deadlocked (1 = yes; root result timed out after 2 s)",
     "deadlocks_with_2_workers", False, {"py": "fib_deadlock"}, ""),
    (None, "quicksort of 10 M int64, cutoff 16384 (items/s; CPython: 200 k items)", "items_per_s", True,
     {"cf": "qsort", "py": "qsort_200k", "rayon": "qsort", "tbb": "qsort"}, "≥ 0.5× TBB"),
    (None, "quicksort of 10 M int64: wall (ms)", "ms", False,
     {"cf": "qsort", "rayon": "qsort", "tbb": "qsort"}, ""),
]


def parse(out):
    r = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            try:
                r[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return r


def fmt(v):
    if v is None:
        return "—"
    a = abs(v)
    if a >= 1e9:
        return "%.2f G" % (v / 1e9)
    if a >= 1e6:
        return "%.2f M" % (v / 1e6)
    if a >= 1e4:
        return "%.0f k" % (v / 1e3)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    if a >= 0.1 or a == 0:
        return "%.2f" % v
    return "%.3f" % v


def cell(vals):
    if not vals:
        return "—"
    m = statistics.median(vals)
    if len(vals) == 1:
        return fmt(m)
    return "%s [%s–%s]" % (fmt(m), fmt(min(vals)), fmt(max(vals)))


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:  # noqa: BLE001
        return "(%s)" % e


def sh_env(cmd, env):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env).stdout
    except Exception as e:  # noqa: BLE001
        return "(%s)" % e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cbench", required=True)
    ap.add_argument("--peers", required=True)
    ap.add_argument("--pybench", required=True)
    ap.add_argument("--tbb", required=True, help="the oneTBB fork-join peer (tbb/forkjoin.cpp)")
    ap.add_argument("--cqbench", default="", help="the completion-queue bench (table 7)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", default="build")
    ap.add_argument("--only", default="", help="run only case ids containing this substring")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--no-snapshot", action="store_true",
                    help="run cbench against target/release directly instead of a snapshot copy")
    a = ap.parse_args()

    cases = case_table(a)
    ids = [k for k in cases if a.only in k]
    rng = random.Random(a.seed)
    # results[case id] = list (per round) of dicts of metrics (None when the run failed)
    results = {k: [] for k in ids}
    errors = []
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = sh(["uptime"])
    libso = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "libcfutures.so")

    def lib_mtime():
        try:
            return os.path.getmtime(libso)
        except OSError:
            return None

    lib_before = lib_mtime()
    # Run cbench against a snapshot of the library taken now, so that a rebuild by someone
    # else during the run cannot mix two builds (LD_LIBRARY_PATH overrides cbench's RUNPATH).
    env = dict(os.environ)
    if lib_before is not None and not a.no_snapshot:
        snap = os.path.abspath(os.path.join(a.out, "libsnap"))
        os.makedirs(snap, exist_ok=True)
        shutil.copy2(libso, os.path.join(snap, "libcfutures.so.0"))
        env["LD_LIBRARY_PATH"] = snap + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        resolved = sh_env(["ldd", a.cbench], env)
        if snap not in resolved:
            print("run.py: warning: cbench does not resolve libcfutures from the snapshot:\n" + resolved,
                  file=sys.stderr)
    t_all = time.time()
    for r in range(a.rounds):
        order = ids[:]
        rng.shuffle(order)
        t_round = time.time()
        for k in order:
            try:
                p = subprocess.run(cases[k], capture_output=True, text=True, timeout=120, env=env)
                m = parse(p.stdout) if p.returncode == 0 else None
                if m is None:
                    errors.append("round %d %s: exit %d: %s" % (r, k, p.returncode, p.stderr.strip()[-300:]))
            except subprocess.TimeoutExpired:
                m = None
                errors.append("round %d %s: timeout" % (r, k))
            results[k].append(m)
        print("round %d/%d: %.1f s" % (r + 1, a.rounds, time.time() - t_round), file=sys.stderr, flush=True)
    load_after = sh(["uptime"])
    lib_changed = lib_mtime() != lib_before
    elapsed = time.time() - t_all

    def series(impl, name, key):
        rs = results.get("%s:%s" % (impl, name))
        if rs is None:
            return None
        return [(m or {}).get(key) for m in rs]

    lines = []
    w = lines.append
    w("## cfutures benchmark suite: %s" % started.strftime("%Y-%m-%d %H:%M UTC"))
    w("")
    w("- machine: %s, %d CPUs (`nproc`), %s" % (platform.node(), os.cpu_count(), platform.platform()))
    w("- load before: `%s`" % load_before)
    w("- load after:  `%s`" % load_after)
    w("- %d interleaved rounds (case order shuffled per round), one fresh process per case per round; "
      "%.0f s in all" % (a.rounds, elapsed))
    w("- versions: %s; %s; %s; cfutures git %s" % (
        "Python " + platform.python_version(), sh(["rustc", "--version"]),
        sh(["gcc", "--version"]).splitlines()[0] if sh(["gcc", "--version"]) else "gcc ?",
        sh(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short", "HEAD"])))
    lib_time = "?" if lib_before is None else datetime.datetime.fromtimestamp(
        lib_before, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    w("- library: `target/release/libcfutures.so` built %s (run from a snapshot copy unless --no-snapshot); last commit touching `src/`: %s" % (
        lib_time, sh(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "log", "-1", "--format=%h %s", "--", "../src"])))
    if lib_changed and a.no_snapshot:
        w("- **WARNING: libcfutures.so was rebuilt during this run; the rounds mix two builds. "
          "Re-run.**")
        print("WARNING: libcfutures.so changed during the run", file=sys.stderr)
    elif lib_changed:
        w("- note: libcfutures.so was rebuilt during the run; this run used the snapshot taken "
          "at its start (`%s/libsnap`)." % a.out)
    w("- cells: median [min–max] over rounds. Ratio columns: how many times *better* cfutures is "
      "(>1 = cfutures better, whatever the metric's direction), computed per round (paired) then "
      "the median; ⚠ = the per-round ratios spread more than 2×.")
    w("")
    head = ["workload"] + [IMPL_NAMES[i] for i in IMPLS] + [RATIO_NAMES[i] for i in IMPLS[1:]] + ["target"]
    w("| " + " | ".join(head) + " |")
    w("|" + "---|" * len(head))
    for section, label, key, higher, impls, target in ROWS:
        if section:
            w("| **%s** |" % section + " |" * (len(head) - 1))
        row = [label]
        cf = series("cf", impls.get("cf"), key) if "cf" in impls else None
        for i in IMPLS:
            s = series(i, impls[i], key) if i in impls else None
            row.append(cell([v for v in s if v is not None]) if s else "—")
        for i in IMPLS[1:]:
            s = series(i, impls[i], key) if i in impls else None
            if not s or not cf:
                row.append("—")
                continue
            rat = []
            for x, y in zip(cf, s):
                if x is None or y is None or x <= 0 or y <= 0:
                    continue
                rat.append(x / y if higher else y / x)
            if not rat:
                row.append("—")
                continue
            flag = " ⚠" if max(rat) / min(rat) > 2 else ""
            row.append("%.2f×%s" % (statistics.median(rat), flag))
        row.append(target)
        w("| " + " | ".join(row) + " |")
    if any(k.startswith("cq:") for k in ids):
        w("")
        w("**7. Completion to an event loop: 100 000 empty tasks, 2 workers, at most 1024 in flight; "
          "latency = task end → the loop learns of it (the task stores its end time)**")
        w("")
        hd = ["metric"] + [n for _, n in CQ_COLS] + ["cq vs result", "cq vs libuv"]
        w("| " + " | ".join(hd) + " |")
        w("|" + "---|" * len(hd))
        for label, key, higher in CQ_ROWS:
            row = [label]
            ser = {c: [(m or {}).get(key) for m in results.get("cq:" + c, [])] for c, _ in CQ_COLS}
            for c, _ in CQ_COLS:
                row.append(cell([v for v in ser[c] if v is not None]))
            for other in ("result", "uv"):
                rat = [(x / y if higher else y / x) for x, y in zip(ser["cq"], ser[other])
                       if x is not None and y is not None and x > 0 and y > 0]
                row.append("%.2f×%s" % (statistics.median(rat), " ⚠" if max(rat) / min(rat) > 2 else "")
                           if rat else "—")
            w("| " + " | ".join(row) + " |")
    # Extra facts worth a line: the chunk size cfutures chose for auto.
    ch = sorted({(m or {}).get("chunksize") for k in ("cf:mapauto_1M", "cf:mapauto_10M")
                 for m in results.get(k, []) if m})
    if ch:
        w("")
        w("cfutures auto chunksize chosen: %s (1 M, 10 M items, 2 workers)." % ", ".join("%.0f" % c for c in ch if c))
    if errors:
        w("")
        w("Failed runs (%d):" % len(errors))
        for e in errors:
            w("- " + e)
    text = "\n".join(lines)
    print(text)
    os.makedirs(a.out, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    with open(os.path.join(a.out, "results-%s.json" % stamp), "w") as f:
        json.dump({"started": started.isoformat(), "rounds": a.rounds, "load_before": load_before,
                   "load_after": load_after, "cases": {k: cases[k] for k in ids},
                   "results": results, "errors": errors}, f, indent=1)
    with open(os.path.join(a.out, "results-%s.md" % stamp), "w") as f:
        f.write(text + "\n")
    print("\nraw results: %s/results-%s.json" % (a.out, stamp), file=sys.stderr)


if __name__ == "__main__":
    main()
