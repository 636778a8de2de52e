// cfutures from C++: ThreadPool::parallel_for with the lambda inlined into the per-range
// loop (per index for the maps, per range for the reduction), on the default pool; and
// ThreadPool::map (map1m) in its loop and chunked forms.
#include <atomic>
#include <vector>

#include "cfutures.hpp"
#include "work.h"

int main() {
  cfut::ThreadPool pool;
  std::vector<int64_t> a(N_LARGE);
  std::vector<uint64_t> out(N_SPIKE);
  int64_t *A = a.data();
  uint64_t *O = out.data();
  std::atomic<int64_t> total{0};

  MEASURE("sq1m", "cpp_pfor", reset(A, N_SMALL), pool.parallel_for(0, N_SMALL, [&](size_t i) { A[i] = A[i] * A[i]; }),
          check_squares(A, N_SMALL));
  MEASURE("sq10m", "cpp_pfor", reset(A, N_LARGE), pool.parallel_for(0, N_LARGE, [&](size_t i) { A[i] = A[i] * A[i]; }),
          check_squares(A, N_LARGE));
  reset(A, N_LARGE);
  MEASURE("sum10m", "cpp_pfor", total = 0,
          pool.parallel_for(0, N_LARGE,
                            [&](size_t b, size_t e) {
                              int64_t t = 0;
                              for (size_t i = b; i < e; ++i) t += A[i];
                              total += t;
                            }),
          total == int64_t(N_LARGE) * (N_LARGE - 1) / 2);
  MEASURE("tri", "cpp_pfor", (void)0, pool.parallel_for(0, N_TRI, [&](size_t i) { O[i] = work(i, i); }), check_tri(O));
  MEASURE("spike", "cpp_pfor", (void)0, pool.parallel_for(0, N_SPIKE, [&](size_t i) { O[i] = work(i, spike_units(i)); }),
          check_spike(O));
  // ThreadPool::map into a new vector: the eager map (a loop on the default pool) against
  // the lazy chunked map it replaces there.
  std::vector<int64_t> in(N_SMALL);
  reset(in.data(), N_SMALL);
  std::vector<int64_t> res;
  auto sq = [](const int64_t &x) { return x * x; };
  MEASURE("map1m", "cpp_map", res.clear(), res = pool.map(sq, in), check_squares(res.data(), N_SMALL));
  MEASURE("map1m", "cpp_map_chunks", res.clear(), res = pool.map_lazy(sq, in).collect(),
          check_squares(res.data(), N_SMALL));
  return 0;
}
