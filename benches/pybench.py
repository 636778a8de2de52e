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
    else:
        sys.exit("pybench: unknown case " + case)


if __name__ == "__main__":
    main()
