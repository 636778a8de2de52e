// cfut::MpiPool under mpirun: the same bytes-only calls as cfut::ProcessPool. Prints
// `N passed, N failed` on the root. With --not-launched (no mpirun) the constructor throws
// cfut::error with CFUT_UNSUPPORTED.
#include <cstdio>
#include <cstring>
#include <numeric>
#include <vector>

#include "cfutures.hpp"

static int passed, failed;
static void check(bool ok, const char *what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  (ok ? passed : failed)++;
}

int main(int argc, char **argv) {
  if (argc > 1 && std::strcmp(argv[1], "--not-launched") == 0) {
    try {
      cfut::MpiPool pool;
      check(false, "MpiPool outside mpirun throws");
    } catch (const cfut::error &e) {
      check(e.status() == CFUT_UNSUPPORTED && std::strstr(e.what(), "mpirun"), "MpiPool outside mpirun throws CFUT_UNSUPPORTED");
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
  }
  cfut::MpiPoolOptions o;
  o.workers_per_rank = 2;
  cfut::MpiPool pool(o);
  if (!pool) return 0;
  check(pool.is_root() && pool.max_workers() >= 2, "the root gets the pool");
  auto f = pool.submit([](int x) { return x * x; }, 7);
  check(f.get() == 49, "submit");
  std::vector<long> items(1000);
  std::iota(items.begin(), items.end(), 0L);
  std::vector<long> r = pool.map([](long x) { return 3 * x + 1; }, items);
  bool same = r.size() == items.size();
  for (std::size_t i = 0; same && i < r.size(); i++) same = r[i] == 3 * items[i] + 1;
  check(same, "map");
  auto bad = pool.submit([](int x) -> int { if (x) throw std::runtime_error("no"); return 0; }, 1);
  try {
    bad.get();
    check(false, "a task's exception comes back");
  } catch (const cfut::task_failed &e) {
    check(std::strstr(e.what(), "no") != nullptr, "a task's exception comes back as task_failed");
  }
  pool.shutdown();
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
