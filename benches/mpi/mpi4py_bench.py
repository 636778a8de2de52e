"""mpi4py.futures' side of `make bench-mpi`, written the way its users write it: run as
`mpirun -np 4 python mpi4py_bench.py [tasks]` (MPICommExecutor: every rank runs this
script, rank 0 submits). Prints one JSON object with the same measures as bench_mpi.c."""
import json
import os
import sys
import time

from mpi4py import MPI
from mpi4py.futures import MPICommExecutor


def noop():
    return None


def twice(x):
    return 2 * x


def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    comm = MPI.COMM_WORLD
    pids = comm.gather(os.getpid(), root=0)
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    with MPICommExecutor(comm, root=0) as ex:
        if ex is None:
            return
        for _ in range(50):
            ex.submit(noop).result()
        idle_s = 3.0
        c0 = [cpu_of(p) for p in pids]
        time.sleep(idle_s)
        pct = [(cpu_of(p) - c) / idle_s * 100 for p, c in zip(pids, c0)]
        t0 = time.perf_counter()
        futures = [ex.submit(noop) for _ in range(tasks)]
        for f in futures:
            f.result()
        thr = tasks / (time.perf_counter() - t0)
        lat = []
        for _ in range(200):
            a = time.perf_counter()
            ex.submit(noop).result()
            lat.append(time.perf_counter() - a)
        lat.sort()
        t0 = time.perf_counter()
        res = list(ex.map(twice, range(1_000_000), chunksize=1000))
        map_s = time.perf_counter() - t0
        print(json.dumps({
            "impl": "mpi4py.futures", "ranks": comm.Get_size(), "tasks": tasks,
            "throughput": round(thr, 1),
            "latency_p50_us": round(lat[len(lat) // 2] * 1e6, 1),
            "latency_p99_us": round(lat[len(lat) * 99 // 100] * 1e6, 1),
            "map_1m_s": round(map_s, 4), "map_ok": res[-1] == 1_999_998,
            "idle_cpu_worker_max_pct": round(max(pct[1:]), 2), "idle_cpu_root_pct": round(pct[0], 2),
        }), flush=True)


if __name__ == "__main__":
    main()
