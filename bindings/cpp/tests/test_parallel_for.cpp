// Parallel loops from C++ (C API 0.2 section 8): per-index and per-range bodies cover the
// range exactly once, exceptions come back with their own type and stop new ranges, nested
// loops and loops from tasks finish, many threads loop at once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

#include "cfutures.hpp"

namespace {

struct custom_error : std::runtime_error {
  explicit custom_error(int v) : std::runtime_error("custom"), value(v) {}
  int value;
};

TEST(ParallelFor, PerIndexSquaresInPlace) {
  cfut::ThreadPool pool(2);
  std::vector<std::int64_t> v(100003);
  std::iota(v.begin(), v.end(), 0);
  std::int64_t *d = v.data();
  pool.parallel_for(0, v.size(), [&](std::size_t i) { d[i] *= d[i]; });
  for (std::size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], std::int64_t(i) * std::int64_t(i)) << i;
}

TEST(ParallelFor, RangesCoverOnceAndRespectGrain) {
  for (std::uint32_t workers : {1u, 2u, 4u}) {
    cfut::ThreadPool pool(workers);
    for (std::size_t grain : {std::size_t(0), std::size_t(1), std::size_t(7), std::size_t(5000)}) {
      std::vector<std::atomic<int>> hits(20000);
      std::atomic<int> short_ranges{0};
      pool.parallel_for(
          100, 20100,
          [&](std::size_t b, std::size_t e) {
            if (grain && e != 20100 && e - b < grain) short_ranges++;
            for (std::size_t i = b; i < e; ++i) hits[i - 100]++;
          },
          grain);
      EXPECT_EQ(short_ranges.load(), 0);
      for (auto &h : hits) ASSERT_EQ(h.load(), 1);
    }
  }
}

TEST(ParallelFor, EmptyOneItemAndReversed) {
  cfut::ThreadPool pool(2);
  int calls = 0;
  pool.parallel_for(5, 5, [&](std::size_t) { calls++; });
  EXPECT_EQ(calls, 0);
  std::size_t seen = 0;
  pool.parallel_for(SIZE_MAX - 1, SIZE_MAX, [&](std::size_t i) {
    seen = i;
    calls++;
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, SIZE_MAX - 1);
  EXPECT_THROW(pool.parallel_for(9, 3, [](std::size_t) {}), std::invalid_argument);
}

TEST(ParallelFor, ExceptionIsRethrownWithItsType) {
  cfut::ThreadPool pool(2);
  try {
    pool.parallel_for(0, 1000000, [](std::size_t i) {
      if (i == 123456) throw custom_error(42);
    });
    FAIL() << "no exception";
  } catch (const custom_error &e) {
    EXPECT_EQ(e.value, 42);
  }
  // Every range throws: one of them comes back; the pool is fine afterwards.
  EXPECT_THROW(pool.parallel_for(0, 100, [](std::size_t, std::size_t) { throw std::out_of_range("x"); }, 1),
               std::out_of_range);
  std::atomic<long> sum{0};
  pool.parallel_for(0, 1000, [&](std::size_t i) { sum += long(i); });
  EXPECT_EQ(sum.load(), 999L * 1000 / 2);
}

TEST(ParallelFor, NestedAndFromATask) {
  for (std::uint32_t workers : {1u, 3u}) {
    cfut::ThreadPool pool(workers);
    constexpr std::size_t n = 40;
    std::vector<std::atomic<int>> hits(n * n);
    auto grid = [&] {
      pool.parallel_for(0, n, [&](std::size_t i) {
        pool.parallel_for(0, n, [&](std::size_t j) { hits[i * n + j]++; });
      }, 1);
    };
    grid();
    pool.submit(grid).get();  // from the pool's own worker
    for (auto &h : hits) ASSERT_EQ(h.load(), 2);
  }
}

TEST(ParallelFor, ManyThreadsAtOnce) {
  cfut::ThreadPool pool(3);
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&, t] {
      for (int round = 0; round < 10; ++round) {
        const std::size_t n = 10000 + std::size_t(round) * 77;
        std::vector<std::uint8_t> hit(n);
        pool.parallel_for(0, n, [&](std::size_t b, std::size_t e) {
          for (std::size_t i = b; i < e; ++i) hit[i]++;
        }, std::size_t(t % 3));
        for (auto h : hit) bad += h != 1;
      }
    });
  }
  for (auto &t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(ParallelFor, ShutDownPoolThrows) {
  cfut::ThreadPool pool(2);
  pool.shutdown();
  EXPECT_THROW(pool.parallel_for(0, 10, [](std::size_t) {}), cfut::shutdown_error);
}

// ThreadPool::map on the default pool runs as a loop (the caller works too); its results
// and failures are the lazy map's.
TEST(MapAsLoop, ResultsInOrderAndTheCallerWorks) {
  cfut::ThreadPool pool;  // default: max_workers >= CPUs
  std::vector<std::int64_t> in(200001);
  std::iota(in.begin(), in.end(), -100000);
  const auto caller = std::this_thread::get_id();
  std::atomic<int> on_caller{0};
  const auto out = pool.map(
      [&](const std::int64_t &x) {
        if (std::this_thread::get_id() == caller) {
          on_caller.fetch_add(1, std::memory_order_relaxed);
        } else {
          // Workers hold their first range until the caller ran an item (else a fast worker
          // may finish every range while the caller is still starting threads); bounded, so
          // a caller that never works fails the check below instead of hanging.
          const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
          while (on_caller.load(std::memory_order_relaxed) == 0 && std::chrono::steady_clock::now() < until) {
            std::this_thread::yield();
          }
        }
        return x * x;
      },
      in);
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) ASSERT_EQ(out[i], in[i] * in[i]) << i;
  EXPECT_GT(on_caller.load(), 0);  // the loop path: the calling thread took a range
  // The same results from the lazy (chunked) map.
  EXPECT_EQ(pool.map_lazy([](const std::int64_t &x) { return x * x; }, in).collect(), out);
}

TEST(MapAsLoop, LowestFailingIndexWinsAndEverythingBeforeItRan) {
  cfut::ThreadPool pool;
  for (std::size_t chunk : {std::size_t(0), std::size_t(1), std::size_t(64)}) {
    std::vector<int> in(50000);
    std::iota(in.begin(), in.end(), 0);
    std::vector<std::atomic<int>> ran(in.size());
    cfut::MapOptions o;
    o.chunksize = chunk;
    try {
      pool.map(
          [&](const int &x) {
            ran[std::size_t(x)].store(1, std::memory_order_relaxed);
            if (x % 9000 == 8999) throw custom_error(x);
            return x;
          },
          in, o);
      FAIL() << "no exception";
    } catch (const custom_error &e) {
      EXPECT_EQ(e.value, 8999) << chunk;
    }
    for (int i = 0; i <= 8999; ++i) ASSERT_EQ(ran[std::size_t(i)].load(), 1) << i;
  }
}

TEST(MapAsLoop, VoidStringsDequesAndEmpty) {
  cfut::ThreadPool pool;
  std::vector<std::atomic<int>> hits(1000);
  std::vector<int> idx(1000);
  std::iota(idx.begin(), idx.end(), 0);
  pool.map([&](const int &i) { hits[std::size_t(i)]++; }, idx);
  for (auto &h : hits) ASSERT_EQ(h.load(), 1);
  const std::deque<std::string> words{"a", "bb", "ccc"};
  EXPECT_EQ(pool.map([](const std::string &w) { return w + w; }, words),
            (std::vector<std::string>{"aa", "bbbb", "cccccc"}));
  EXPECT_TRUE(pool.map([](const int &x) { return x; }, std::vector<int>{}).empty());
  // bool results and proxy inputs keep the chunked path (vector<bool> packs bits).
  const std::vector<bool> flags{true, false, true};
  EXPECT_EQ(pool.map([](bool b) { return !b; }, flags), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(pool.map([](const int &x) { return x > 1; }, std::vector<int>{1, 2, 3}), (std::vector<bool>{false, true, true}));
}

// Pools where the caller joining would change what tasks see keep the chunked path: items
// run only on workers, at most max_workers at once.
TEST(MapAsLoop, SmallPoolsAndInitializersKeepWorkersOnly) {
  cfut::ThreadPool one(1);
  cfut::ThreadPoolOptions opts;
  opts.max_workers = 64;
  opts.initializer = [] {};
  cfut::ThreadPool with_init(opts);
  for (cfut::ThreadPool *pool : {&one, &with_init}) {
    const auto caller = std::this_thread::get_id();
    std::atomic<int> on_caller{0}, active{0}, peak{0};
    std::vector<int> in(2000, 1);
    pool->map(
        [&](const int &) {
          if (std::this_thread::get_id() == caller) on_caller++;
          const int a = ++active;
          int p = peak.load();
          while (a > p && !peak.compare_exchange_weak(p, a)) {
          }
          --active;
        },
        in);
    EXPECT_EQ(on_caller.load(), 0);
    if (pool == &one) {
      EXPECT_EQ(peak.load(), 1);
    }
  }
}

TEST(MapAsLoop, TimeoutAndShutdown) {
  cfut::ThreadPool pool;
  cfut::MapOptions o;
  o.timeout = std::chrono::seconds(30);  // a deadline keeps the chunked path; results alike
  EXPECT_EQ(pool.map([](const int &x) { return x + 1; }, std::vector<int>{1, 2}, o), (std::vector<int>{2, 3}));
  pool.shutdown();
  EXPECT_THROW(pool.map([](const int &x) { return x; }, std::vector<int>{1}), cfut::shutdown_error);
}

}  // namespace
