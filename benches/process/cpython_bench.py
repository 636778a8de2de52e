"""CPython's ProcessPoolExecutor, measured the same way as bench_process.c.
Prints one line per measurement: <name> <value> <unit>. Usage: cpython_bench.py [workers]"""
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool


def nothing():
    return None


def square(x):
    return x * x


def crash():
    os.kill(os.getpid(), signal.SIGSEGV)


def main():
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2

    best = 1e9
    for _ in range(5):
        t0 = time.perf_counter()
        with ProcessPoolExecutor(workers) as ex:
            ex.submit(nothing).result()
            best = min(best, time.perf_counter() - t0)
    print(f"start_to_first_result {best * 1e3:.3f} ms")

    with ProcessPoolExecutor(workers) as ex:
        for f in [ex.submit(nothing) for _ in range(workers * 4)]:
            f.result()
        n = 20000
        t0 = time.perf_counter()
        fs = [ex.submit(nothing) for _ in range(n)]
        for f in fs:
            f.result()
        dt = time.perf_counter() - t0
        print(f"empty_task_throughput {n / dt:.0f} tasks/s")

        lat = []
        for _ in range(500):
            a = time.perf_counter()
            ex.submit(nothing).result()
            lat.append(time.perf_counter() - a)
        lat.sort()
        print(f"one_shot_latency_p50 {lat[len(lat) // 2] * 1e6:.1f} us")
        print(f"one_shot_latency_p99 {lat[len(lat) * 99 // 100] * 1e6:.1f} us")

        for n, cs in ((5000, 1), (200000, 1000)):
            t0 = time.perf_counter()
            out = list(ex.map(square, range(n), chunksize=cs))
            dt = time.perf_counter() - t0
            assert out[-1] == (n - 1) ** 2
            print(f"map_chunksize_{cs} {n / dt:.0f} items/s")

    # A crash breaks a CPython pool: the replacement is a new pool.
    total = 0.0
    rounds = 5
    ex = ProcessPoolExecutor(1)
    ex.submit(nothing).result()
    for _ in range(rounds):
        t0 = time.perf_counter()
        c = ex.submit(crash)
        try:
            c.result()
        except BrokenProcessPool:
            pass
        ex.shutdown(wait=True)
        ex = ProcessPoolExecutor(1)
        ex.submit(nothing).result()
        total += time.perf_counter() - t0
    ex.shutdown()
    print(f"crash_to_replacement_result {total / rounds * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
