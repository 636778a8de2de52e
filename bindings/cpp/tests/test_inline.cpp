// Deadlock-proof waits from C++ (C API 0.2 section 1): get()/wait() from a task on a
// pending future of its own pool run it inline; a cycle of waiting tasks throws
// cfut::would_deadlock; inline_waits = false keeps CPython's behaviour.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <numeric>
#include <thread>
#include <vector>

#include "cfutures.hpp"

using namespace std::chrono_literals;

namespace {

cfut::ThreadPool pool(std::uint32_t workers, bool inline_waits = true) {
  cfut::ThreadPoolOptions o;
  o.max_workers = workers;
  o.inline_waits = inline_waits;
  return cfut::ThreadPool(o);
}

/// Futures published once every task of a ring is submitted.
template <std::size_t N>
struct Ring {
  std::array<cfut::Future<int>, N> f;
  std::atomic<bool> ready{false};
  std::atomic<int> would_deadlock{0};
  void wait_ready() const {
    while (!ready.load()) std::this_thread::yield();
  }
};

struct Cycle : std::runtime_error {
  Cycle() : std::runtime_error("this wait would close a cycle") {}
};

/// Task i of the ring waits on task i+1. The wait that closes the cycle throws
/// would_deadlock (counted, then turned into Cycle); the others rethrow Cycle from get().
template <std::size_t N>
int ring_task(Ring<N> *r, std::size_t i) {
  r->wait_ready();
  try {
    return r->f[(i + 1) % N].get() + 1;
  } catch (const cfut::would_deadlock &) {
    r->would_deadlock++;
    throw Cycle();
  }
}

template <std::size_t N>
void run_ring(std::vector<cfut::ThreadPool *> pools) {
  Ring<N> r;
  for (std::size_t i = 0; i < N; i++) r.f[i] = pools[i % pools.size()]->submit(ring_task<N>, &r, i);
  r.ready = true;
  const auto t0 = std::chrono::steady_clock::now();
  auto w = cfut::wait(r.f, cfut::ALL_COMPLETED, 20s);
  ASSERT_TRUE(w.condition_met);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_GE(r.would_deadlock.load(), 1);
  int cycles = 0;
  for (auto &f : r.f) {
    try {
      f.get();
    } catch (const Cycle &) {
      cycles++;
    }
  }
  EXPECT_EQ(cycles, static_cast<int>(N));  // every task ends with the one Cycle error
}

}  // namespace

TEST(InlineWaits, NestedSubmitOnOneWorkerGets25AtOnce) {
  auto p = pool(1);
  const auto t0 = std::chrono::steady_clock::now();
  auto outer = p.submit([&p] { return p.submit([](int a, int b) { return a * b; }, 5, 5).get(); });
  EXPECT_EQ(outer.get_for(20s), 25);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(InlineWaits, WithoutInlineWaitsTheNestedWaitTimesOut) {
  auto p = pool(1, false);
  auto outer = p.submit([&p] {
    auto inner = p.submit([] { return 25; });
    return inner.wait_for(100ms) == std::future_status::timeout;
  });
  EXPECT_TRUE(outer.get_for(20s));
}

TEST(InlineWaits, MutualWaitThrowsWouldDeadlockOnOneSide) {
  for (std::uint32_t workers : {1u, 2u}) {
    for (int round = 0; round < 10; round++) {
      auto p = pool(workers);
      run_ring<2>({&p});
    }
  }
  auto p = pool(2, false);  // cycle detection stays on without inline waits
  run_ring<2>({&p});
}

TEST(InlineWaits, ThreeAndFourTaskCyclesAcrossTwoPools) {
  for (int round = 0; round < 10; round++) {
    auto p = pool(2), q = pool(2);
    run_ring<3>({&p, &q});
    run_ring<4>({&p, &q});
  }
}

TEST(InlineWaits, CollectiveWaitsRunInline) {
  auto p = pool(1);
  auto sum = p.submit([&p] {
    std::vector<cfut::Future<int>> kids;
    for (int i = 1; i <= 5; i++) kids.push_back(p.submit([i] { return i * i; }));
    auto first = cfut::wait(kids, cfut::FIRST_COMPLETED);
    if (!first.condition_met) return -1;
    int s = 0;
    for (auto &f : cfut::as_completed(kids)) s += f.get();
    auto all = cfut::wait(kids, cfut::ALL_COMPLETED);
    return all.condition_met ? s : -2;
  });
  EXPECT_EQ(sum.get_for(20s), 55);
}

TEST(InlineWaits, MapFromATaskRunsInline) {
  auto p = pool(1);
  auto total = p.submit([&p] {
    std::vector<int> items(100);
    std::iota(items.begin(), items.end(), 0);
    int s = 0;
    for (int v : p.map([](int x) { return 2 * x; }, items)) s += v;
    return s;
  });
  EXPECT_EQ(total.get_for(20s), 9900);
}

namespace {

/// A one-shot gate a blocking task waits on (std::promise's shared_future: an event, not a sleep).
struct Gate {
  std::promise<void> p;
  std::shared_future<void> f = p.get_future().share();
};

}  // namespace

TEST(InlineWaitsAnyThread, TheWaitingCallerRunsItsPendingTasks) {
  cfut::ThreadPoolOptions o;
  o.max_workers = 1;
  EXPECT_FALSE(o.inline_waits_any_thread);
  o.inline_waits_any_thread = true;
  cfut::ThreadPool p(o);
  Gate gate, started;
  auto blocker = p.submit([&] {
    started.p.set_value();
    gate.f.wait();
  });
  started.f.wait();
  auto me = std::this_thread::get_id();
  auto where = [] { return std::this_thread::get_id(); };
  EXPECT_EQ(p.submit(where).get_for(20s), me);
  std::vector<cfut::Future<std::thread::id>> more;
  for (int i = 0; i < 3; i++) more.push_back(p.submit(where));
  EXPECT_TRUE(cfut::wait(more, cfut::ALL_COMPLETED).condition_met);
  for (auto &f : more) EXPECT_EQ(f.get(), me);
  gate.p.set_value();
  blocker.get_for(20s);
}

TEST(InlineWaitsAnyThread, OffByDefaultTasksStayOnWorkers) {
  cfut::ThreadPool p(1);
  Gate gate, started;
  auto blocker = p.submit([&] {
    started.p.set_value();
    gate.f.wait();
  });
  started.f.wait();
  auto f = p.submit([] { return std::this_thread::get_id(); });
  EXPECT_EQ(f.wait_for(30ms), std::future_status::timeout);
  gate.p.set_value();
  EXPECT_NE(f.get_for(20s), std::this_thread::get_id());
  blocker.get_for(20s);
}
