"""pybench: the CPython concurrent.futures side of the benchmark suite.

    python3 pybench.py CASE [N]

Same cases and output format ("key value" lines) as cbench.c; N defaults are smaller
because CPython is ~20-40x slower per task.
"""
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def noop():
    return None


def ident(x):
    return x


def cpu_ns():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1e9


def csw():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_nvcsw + r.ru_nivcsw


def warm(ex, n=64):
    for f in [ex.submit(noop) for _ in range(n)]:
        f.result()


def submit(n, submitters):
    with ThreadPoolExecutor(max_workers=2) as ex:
        warm(ex)
        per = n // submitters
        if submitters == 1:  # the main thread itself, the common case
            x0, c0, t0 = csw(), cpu_ns(), time.perf_counter_ns()
            fs = [ex.submit(noop) for _ in range(n)]
            for f in fs:
                f.result()
            t1, c1 = time.perf_counter_ns(), cpu_ns()
            print("tasks_per_s %.0f" % (n / ((t1 - t0) / 1e9)))
            print("cpu_us_per_task %.4f" % ((c1 - c0) / 1e3 / n))
            print("csw_per_task %.4f" % ((csw() - x0) / n))
            return
        start = threading.Barrier(submitters + 1)

        def run():
            start.wait()
            fs = [ex.submit(noop) for _ in range(per)]
            for f in fs:
                f.result()

        ths = [threading.Thread(target=run) for _ in range(submitters)]
        for t in ths:
            t.start()
        x0, c0, t0 = csw(), cpu_ns(), time.perf_counter_ns()
        start.wait()
        for t in ths:
            t.join()
        t1, c1 = time.perf_counter_ns(), cpu_ns()
        total = per * submitters
        print("tasks_per_s %.0f" % (total / ((t1 - t0) / 1e9)))
        print("cpu_us_per_task %.4f" % ((c1 - c0) / 1e3 / total))
        print("csw_per_task %.4f" % ((csw() - x0) / total))


def lat(n):
    with ThreadPoolExecutor(max_workers=2) as ex:
        warm(ex)
        for _ in range(200):
            ex.submit(noop).result()
        out = []
        x0, c0 = csw(), cpu_ns()
        for _ in range(n):
            t = time.perf_counter_ns()
            ex.submit(noop).result()
            out.append(time.perf_counter_ns() - t)
        print("cpu_us_per_sample %.3f" % ((cpu_ns() - c0) / 1e3 / n))
        print("csw_per_sample %.3f" % ((csw() - x0) / n))
        out.sort()
        print("p50_us %.3f" % (out[n // 2] / 1e3))
        print("p99_us %.3f" % (out[n * 99 // 100] / 1e3))


def tick(n):
    with ThreadPoolExecutor(max_workers=2) as ex:
        warm(ex)
        c0, t0, x0 = cpu_ns(), time.perf_counter_ns(), csw()
        for _ in range(n):
            time.sleep(0.001)
        c1, t1, x1 = cpu_ns(), time.perf_counter_ns(), csw()
        for _ in range(n):
            time.sleep(0.001)
            ex.submit(noop).result()
        c2, t2, x2 = cpu_ns(), time.perf_counter_ns(), csw()
        print("net_csw_per_tick %.3f" % (((x2 - x1) - (x1 - x0)) / n))
        print("bare_cpu_us_per_tick %.3f" % ((c1 - c0) / 1e3 / n))
        print("bare_wall_us_per_tick %.3f" % ((t1 - t0) / 1e3 / n))
        print("cpu_us_per_tick %.3f" % ((c2 - c1) / 1e3 / n))
        print("wall_us_per_tick %.3f" % ((t2 - t1) / 1e3 / n))
        print("net_cpu_us_per_tick %.3f" % (((c2 - c1) - (c1 - c0)) / 1e3 / n))


def map_(n, chunk):
    # ThreadPoolExecutor.map ignores chunksize: one future per item whatever it is.
    with ThreadPoolExecutor(max_workers=2) as ex:
        warm(ex)
        items = list(range(n))
        t0 = time.perf_counter_ns()
        out = list(ex.map(ident, items, chunksize=chunk))
        t1 = time.perf_counter_ns()
        assert out[-1] == n - 1
        print("items_per_s %.0f" % (n / ((t1 - t0) / 1e9)))


def sleep(n):
    t0 = time.perf_counter_ns()
    with ThreadPoolExecutor(max_workers=100) as ex:
        list(ex.map(time.sleep, [0.01] * n))
        t1 = time.perf_counter_ns()
    print("wall_ms %.3f" % ((t1 - t0) / 1e6))


# ---- recursive fork-join: each task submits its children and waits on them (the
# cfutures cases' cutoffs and input). A TPE worker that waits holds its thread, so the pool
# needs a thread for every task waiting at once: with FIFO order every internal task of the
# tree (1596 for fib(30), cutoff 16), not one per level; with 2 workers it deadlocks
# (checked by fib_deadlock: the root's result times out).

FIB_N, FIB_CUTOFF, QS_CUTOFF = 30, 16, 16384


def fib_seq(n):
    return n if n < 2 else fib_seq(n - 1) + fib_seq(n - 2)


def fib_task(ex, n):
    if n < FIB_CUTOFF:
        return fib_seq(n)
    a = ex.submit(fib_task, ex, n - 1)
    b = ex.submit(fib_task, ex, n - 2)
    return a.result() + b.result()


def fib(reps, workers=1600):
    total, best = 0.0, float("inf")
    with ThreadPoolExecutor(max_workers=workers) as ex:
        for i in range(reps + 1):  # the first run is an untimed warm-up (starts the threads)
            t0 = time.perf_counter()
            v = ex.submit(fib_task, ex, FIB_N).result()
            dt = (time.perf_counter() - t0) * 1e3
            assert v == 832040
            if i == 0:
                continue
            total += dt
            best = min(best, dt)
        threads = len(ex._threads)  # how many the pool had to start
    print("ms %.4f\nbest_ms %.4f\nthreads %d" % (total / reps, best, threads))


def fib_deadlock():
    import os
    ex = ThreadPoolExecutor(max_workers=2)
    try:
        ex.submit(fib_task, ex, FIB_N).result(timeout=2)
        print("deadlocks_with_2_workers 0")
    except TimeoutError:
        print("deadlocks_with_2_workers 1")
    sys.stdout.flush()
    os._exit(0)  # the deadlocked workers never end


def partition(a, lo, hi):
    x, y, z = a[lo], a[lo + (hi - lo) // 2], a[hi - 1]
    p = (y if y < z else (z if x < z else x)) if x < y else (x if x < z else (z if y < z else y))
    i, j = lo - 1, hi
    while True:
        i += 1
        while a[i] < p:
            i += 1
        j -= 1
        while a[j] > p:
            j -= 1
        if i >= j:
            return j + 1
        a[i], a[j] = a[j], a[i]


def qs_seq(a, lo, hi):
    while hi - lo > 32:
        m = partition(a, lo, hi)
        qs_seq(a, lo, m)
        lo = m
    for i in range(lo + 1, hi):
        x, j = a[i], i - 1
        while j >= lo and a[j] > x:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = x


def qs_task(ex, a, lo, hi):
    if hi - lo <= QS_CUTOFF:
        return qs_seq(a, lo, hi)
    m = partition(a, lo, hi)
    l = ex.submit(qs_task, ex, a, lo, m)
    r = ex.submit(qs_task, ex, a, m, hi)
    l.result()
    r.result()


def qsort(n):
    s, mask, a = 42, (1 << 64) - 1, []
    for _ in range(n):
        s ^= s >> 12
        s ^= (s << 25) & mask
        s ^= s >> 27
        v = (s * 2685821657736338717) & mask
        a.append(v - (1 << 64) if v >= 1 << 63 else v)
    with ThreadPoolExecutor(max_workers=4 * (n // QS_CUTOFF + 1)) as ex:
        t0 = time.perf_counter()
        ex.submit(qs_task, ex, a, 0, n).result()
        dt = time.perf_counter() - t0
    assert all(a[i] <= a[i + 1] for i in range(n - 1))
    print("ms %.4f\nitems_per_s %.1f" % (dt * 1e3, n / dt))


def main():
    case = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    N = lambda d: n if n > 0 else d
    if case == "submit1":
        submit(N(50_000), 1)
    elif case == "submit2":
        submit(N(50_000), 2)
    elif case == "lat":
        lat(N(5_000))
    elif case == "tick":
        tick(N(1000))
    elif case == "map1":
        map_(N(100_000), 1)
    elif case == "map1000":
        map_(N(100_000), 1000)
    elif case == "sleep":
        sleep(N(1000))
    elif case == "fib":
        fib(N(3))
    elif case == "fib_deadlock":
        fib_deadlock()
    elif case == "qsort":
        qsort(N(200_000))
    else:
        sys.exit("pybench: unknown case " + case)


if __name__ == "__main__":
    main()
