// oneTBB peer for the fork-join cases of the benchmark suite, written as TBB users write it:
// a task_group per level, run() for each child, wait(). Same cases, cutoffs, input and
// "key value" output as cbench.c's fib and qsort; 2 threads (the main thread + 1 worker).
//
//     tbb_forkjoin fib [reps] | qsort [n]
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_group.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <vector>

namespace {

constexpr int FIB_N = 30, FIB_CUTOFF = 16, FIB_REPS = 20;
constexpr long QS_CUTOFF = 16384;

double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

long fib_seq(int n) { return n < 2 ? n : fib_seq(n - 1) + fib_seq(n - 2); }

long fib(int n) {
    if (n < FIB_CUTOFF) return fib_seq(n);
    long a = 0, b = 0;
    tbb::task_group g;
    g.run([&] { a = fib(n - 1); });
    g.run([&] { b = fib(n - 2); });
    g.wait();
    return a + b;
}

void insertion(int64_t *a, long n) {
    for (long i = 1; i < n; i++) {
        int64_t x = a[i];
        long j = i - 1;
        while (j >= 0 && a[j] > x) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = x;
    }
}

long partition(int64_t *a, long n) {
    int64_t x = a[0], y = a[n / 2], z = a[n - 1];
    int64_t p = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    long i = -1, j = n;
    for (;;) {
        do i++; while (a[i] < p);
        do j--; while (a[j] > p);
        if (i >= j) return j + 1;
        int64_t t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

void qs_seq(int64_t *a, long n) {
    while (n > 32) {
        long m = partition(a, n);
        qs_seq(a, m);
        a += m;
        n -= m;
    }
    insertion(a, n);
}

void qs(int64_t *a, long n) {
    if (n <= QS_CUTOFF) {
        qs_seq(a, n);
        return;
    }
    long m = partition(a, n);
    tbb::task_group g;
    g.run([=] { qs(a, m); });
    g.run([=] { qs(a + m, n - m); });
    g.wait();
}

}  // namespace

int main(int argc, char **argv) {
    tbb::global_control threads(tbb::global_control::max_allowed_parallelism, 2);
    const char *c = argc > 1 ? argv[1] : "";
    long n = argc > 2 ? std::atol(argv[2]) : 0;
    if (!std::strcmp(c, "fib")) {
        long reps = n > 0 ? n : FIB_REPS;
        double total = 0, best = 1e300;
        long v = 0;
        for (long i = -1; i < reps; i++) {  // i = -1: an untimed warm-up (starts the workers)
            double t0 = now_ms();
            v = fib(FIB_N);
            double dt = now_ms() - t0;
            if (i < 0) continue;
            total += dt;
            best = dt < best ? dt : best;
        }
        if (v != 832040) return 1;
        std::printf("ms %.4f\nbest_ms %.4f\n", total / reps, best);
    } else if (!std::strcmp(c, "qsort")) {
        if (n <= 0) n = 10000000;
        std::vector<int64_t> a(n);
        uint64_t s = 42;
        for (long i = 0; i < n; i++) {
            s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
            a[i] = (int64_t)(s * 2685821657736338717ull);
        }
        double t0 = now_ms();
        qs(a.data(), n);
        double dt = now_ms() - t0;
        for (long i = 1; i < n; i++) {
            if (a[i - 1] > a[i]) return 1;
        }
        std::printf("ms %.4f\nitems_per_s %.1f\n", dt, (double)n / (dt / 1e3));
    } else {
        std::fprintf(stderr, "tbb_forkjoin: unknown case %s\n", c);
        return 2;
    }
    return 0;
}
