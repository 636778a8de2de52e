// ProcessPool tests: compiled always, run when the library has process pools
// (cfut_process_pool_new in cfutures.h); otherwise one test reports the skip.
#include "cfutures.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <iostream>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

#ifdef CFUT_HPP_HAS_PROCESS_POOL

namespace {

struct Point {
  int x, y;
};
Point flip(Point p, int k) { return {p.y * k, p.x * k}; }
int my_pid() { return static_cast<int>(getpid()); }
int die_by_sigkill() {
  kill(getpid(), SIGKILL);
  return 0;
}
int initialized_value = 0;  // set by the initializer in each worker

}  // namespace

TEST(ProcessPool, SubmitRunsInAnotherProcess) {
  cfut::ProcessPool pool(2);
  const int offset = 1000;
  cfut::Future<int> f = pool.submit([offset](int a, int b) { return a * b + offset; }, 6, 7);
  EXPECT_EQ(f.get(), 1042);
  auto pid = pool.submit<&my_pid>();
  EXPECT_NE(pid.get(), static_cast<int>(getpid()));
  auto p = pool.submit<&flip>(Point{1, 2}, 3);
  EXPECT_EQ(p.get().x, 6);
  EXPECT_EQ(p.get().y, 3);
  auto v = pool.submit([] {});
  v.get();
  std::array<double, 4> arr{1, 2, 3, 4};
  auto sum = pool.submit([](std::array<double, 4> a) { return a[0] + a[1] + a[2] + a[3]; }, arr);
  EXPECT_DOUBLE_EQ(sum.get(), 10.0);
  EXPECT_GE(pool.workers_started(), 1u);
}

TEST(ProcessPool, ExceptionBecomesTaskFailed) {
  cfut::ProcessPool pool(1);
  auto f = pool.submit([](int x) -> int { throw std::invalid_argument("bad " + std::to_string(x)); }, 3);
  try {
    f.get();
    FAIL();
  } catch (const cfut::task_failed &e) {
    EXPECT_STREQ(e.what(), "bad 3");
  }
}

TEST(ProcessPool, WorkerDeathFailsOnlyItsFuture) {
  cfut::ProcessPool pool(1);
  auto dead = pool.submit<&die_by_sigkill>();
  try {
    dead.get();
    FAIL();
  } catch (const cfut::worker_died &e) {
    EXPECT_EQ(e.code(), -SIGKILL);
  }
  EXPECT_EQ(pool.submit([] { return 5; }).get(), 5);  // replaced
}

TEST(ProcessPool, TaskTimeout) {
  cfut::ProcessPoolOptions o;
  o.max_workers = 1;
  o.task_timeout = 200ms;
  cfut::ProcessPool pool(o);
  auto f = pool.submit([] {
    std::this_thread::sleep_for(10s);
    return 1;
  });
  try {
    f.get();
    FAIL();
  } catch (const cfut::timeout_error &e) {
    std::printf("task timeout: %s\n", e.what());
  }
  EXPECT_TRUE(f.done());
  EXPECT_EQ(pool.submit([] { return 2; }).get(), 2);
}

TEST(ProcessPool, MapInOrderAndItemFailure) {
  cfut::ProcessPool pool(2);
  std::vector<int> in(200);
  std::iota(in.begin(), in.end(), 0);
  auto out = pool.map([](int x) { return x * 3L; }, in);
  ASSERT_EQ(out.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(out[i], 3L * i);
  EXPECT_THROW(pool.map([](int x) { if (x == 7) throw 1; return x; }, in), cfut::task_failed);
  std::vector<int> lazy;
  for (int v : pool.map_lazy([](int x) { return -x; }, std::vector<int>{1, 2, 3})) lazy.push_back(v);
  EXPECT_EQ(lazy, (std::vector<int>{-1, -2, -3}));
}

TEST(ProcessPool, InitializerRunsInEachWorker) {
  cfut::ProcessPoolOptions o;
  o.max_workers = 1;
  o.set_initializer([](int v) { initialized_value = v; }, 77);
  cfut::ProcessPool pool(o);
  EXPECT_EQ(pool.submit([] { return initialized_value; }).get(), 77);
  EXPECT_EQ(initialized_value, 0);  // not in the host
}

// Workers run tasks before the host's static constructors: the wrapper's task trampoline
// makes sure std::cout is constructed first, under every start method.
TEST(ProcessPool, CoutWorksInTasksUnderEveryStartMethod) {
  for (std::uint32_t m : {CFUT_START_SPAWN, CFUT_START_FORKSERVER, CFUT_START_FORK}) {
    cfut::ProcessPoolOptions o;
    o.max_workers = 1;
    o.start_method = m;
    cfut::ProcessPool pool(o);
    auto f = pool.submit([](int x) {
      std::cout << "task output " << x << std::endl;
      return x + 1;
    }, 41);
    EXPECT_EQ(f.get(), 42) << "start method " << m;
    auto g = pool.map([](int x) {
      std::cout << "item " << x << '\n';
      return 2 * x;
    }, std::vector<int>{1, 2, 3});
    EXPECT_EQ(g, (std::vector<int>{2, 4, 6}));
  }
}

TEST(ProcessPool, FailingInitializerBreaksThePool) {
  cfut::ProcessPoolOptions o;
  o.max_workers = 1;
  o.set_initializer([] { throw std::runtime_error("no init"); });
  cfut::ProcessPool pool(o);
  auto f = pool.submit([] { return 1; });
  EXPECT_THROW(f.get(), cfut::broken_executor);
}

TEST(ProcessPool, WaitAsCompletedShutdown) {
  cfut::ProcessPool pool(2);
  std::vector<cfut::Future<int>> fs;
  for (int i = 0; i < 4; ++i) fs.push_back(pool.submit([](int x) { return x; }, i));
  auto r = cfut::wait(fs, cfut::ALL_COMPLETED, 30s);
  EXPECT_TRUE(r.condition_met);
  int n = 0;
  for (auto &f : cfut::as_completed(fs)) n += f.get() >= 0;
  EXPECT_EQ(n, 4);
  pool.shutdown();
  EXPECT_THROW(pool.submit([] { return 1; }), cfut::shutdown_error);
}

#else

TEST(ProcessPool, NotInThisLibrary) {
  GTEST_SKIP() << "include/cfutures.h has no cfut_process_pool_new yet: ProcessPool is compiled out";
}

#endif
