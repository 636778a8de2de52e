// oneTBB peer, written as its users write it: tbb::parallel_for over a blocked_range with the
// default auto_partitioner (a lambda per range, inner loop inlined), parallel_reduce for the sum.
// The "tbb_call" rows do the per-item map's work: the same loop calling a C item function
// (cfut_map_fn's signature) through a pointer the compiler cannot see through, as a TBB
// program handed a callback by a C API would; "tbb_call_lib" takes the function from a
// shared library (items_lib.c), as the map row "callback in a shared library" does. The
// near callback runs first, as in ours_c.c.
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_reduce.h>

#include <functional>
#include <vector>

#include "work.h"

using range = tbb::blocked_range<size_t>;
using item_fn = int32_t (*)(const void *ctx, const void *item, void *slot);

extern "C" int32_t pfor_sq_item_lib(const void *ctx, const void *item, void *slot);

static int32_t sq_item(const void *ctx, const void *item, void *slot) {
  (void)ctx;
  int64_t x = *static_cast<const int64_t *>(item);
  *static_cast<int64_t *>(slot) = x * x;
  return 0;
}

// Read through volatile: a callback known only at run time, never inlined.
static item_fn volatile SQ_ITEM = sq_item;
static item_fn volatile SQ_ITEM_LIB = pfor_sq_item_lib;

int main() {
  std::vector<int64_t> a(N_LARGE);
  std::vector<uint64_t> out(N_SPIKE);
  int64_t *A = a.data();
  uint64_t *O = out.data();
  int64_t s = 0;
  auto sq = [&](size_t n) {
    tbb::parallel_for(range(0, n), [&](const range &r) {
      for (size_t i = r.begin(); i != r.end(); ++i) A[i] = A[i] * A[i];
    });
  };
  auto call = [&](item_fn f, size_t n) {
    tbb::parallel_for(range(0, n), [&](const range &r) {
      for (size_t i = r.begin(); i != r.end(); ++i)
        if (f(nullptr, &A[i], &A[i]) != 0) abort();
    });
  };
  MEASURE("sq1m", "tbb", reset(A, N_SMALL), sq(N_SMALL), check_squares(A, N_SMALL));
  MEASURE("sq10m", "tbb", reset(A, N_LARGE), sq(N_LARGE), check_squares(A, N_LARGE));
  MEASURE("sq1m", "tbb_call", reset(A, N_SMALL), call(SQ_ITEM, N_SMALL), check_squares(A, N_SMALL));
  MEASURE("sq10m", "tbb_call", reset(A, N_LARGE), call(SQ_ITEM, N_LARGE), check_squares(A, N_LARGE));
  MEASURE("sq1m", "tbb_call_lib", reset(A, N_SMALL), call(SQ_ITEM_LIB, N_SMALL), check_squares(A, N_SMALL));
  MEASURE("sq10m", "tbb_call_lib", reset(A, N_LARGE), call(SQ_ITEM_LIB, N_LARGE), check_squares(A, N_LARGE));
  reset(A, N_LARGE);
  MEASURE("sum10m", "tbb", (void)0,
          s = tbb::parallel_reduce(
              range(0, N_LARGE), int64_t(0),
              [&](const range &r, int64_t t) {
                for (size_t i = r.begin(); i != r.end(); ++i) t += A[i];
                return t;
              },
              std::plus<int64_t>()),
          s == int64_t(N_LARGE) * (N_LARGE - 1) / 2);
  MEASURE("tri", "tbb", (void)0, tbb::parallel_for(range(0, N_TRI), [&](const range &r) {
            for (size_t i = r.begin(); i != r.end(); ++i) O[i] = work(i, i);
          }),
          check_tri(O));
  MEASURE("spike", "tbb", (void)0, tbb::parallel_for(range(0, N_SPIKE), [&](const range &r) {
            for (size_t i = r.begin(); i != r.end(); ++i) O[i] = work(i, spike_units(i));
          }),
          check_spike(O));
  return 0;
}
