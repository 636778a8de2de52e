// Parallel loops from C++ (C API 0.2 section 8): per-index and per-range bodies cover the
// range exactly once, exceptions come back with their own type and stop new ranges, nested
// loops and loops from tasks finish, many threads loop at once.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
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

}  // namespace
