// Flow control, stats, the unobserved-error hook and the worker life cycle in the C++ API.
#include "cfutures.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;

namespace {

/// A one-shot event (no sleeps as synchronisation).
struct Event {
  std::mutex m;
  std::condition_variable cv;
  bool set = false;
  void fire() {
    std::lock_guard<std::mutex> l(m);
    set = true;
    cv.notify_all();
  }
  bool wait(std::chrono::seconds d = 20s) {
    std::unique_lock<std::mutex> l(m);
    return cv.wait_for(l, d, [&] { return set; });
  }
};

cfut::ThreadPool bounded(std::uint32_t workers, std::uint32_t max_queued, cfut::WhenFull when_full) {
  cfut::ThreadPoolOptions o;
  o.max_workers = workers;
  o.max_queued = max_queued;
  o.when_full = when_full;
  return cfut::ThreadPool(std::move(o));
}

TEST(Flow, RejectThrowsQueueFullAndTrySubmitKeepsTheCallable) {
  auto pool = bounded(1, 2, cfut::WhenFull::reject);
  Event started, release;
  auto busy = pool.submit([&] {
    started.fire();
    release.wait();
  });
  ASSERT_TRUE(started.wait());
  auto a = pool.submit([] { return 1; });
  auto b = pool.submit([] { return 2; });
  EXPECT_THROW(pool.submit([] { return 3; }), cfut::queue_full);
  // The request stays with the caller: a shared_ptr copied into the task is released by the
  // task's copy only.
  auto request = std::make_shared<int>(42);
  auto handler = [request] { return *request; };
  auto t0 = std::chrono::steady_clock::now();
  auto none = pool.try_submit(30ms, handler);
  EXPECT_FALSE(none.has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 25ms);
  EXPECT_EQ(request.use_count(), 2);  // ours + the handler's capture: the task copy is gone
  auto s = pool.stats();
  EXPECT_EQ(s.queued, 2u);
  EXPECT_EQ(s.running, 1u);
  EXPECT_EQ(s.rejected, 2u);
  EXPECT_EQ(s.peak_queued, 2u);
  release.fire();
  busy.get();
  EXPECT_EQ(a.get() + b.get(), 3);
  auto some = pool.try_submit(20s, handler);
  ASSERT_TRUE(some.has_value());
  EXPECT_EQ(some->get(), 42);
  pool.shutdown();
  s = pool.stats();
  EXPECT_EQ(s.submitted, 4u);
  EXPECT_EQ(s.completed, 4u);
  EXPECT_EQ(s.failed, 0u);
}

TEST(Flow, CallerRunsOnTheSubmittingThread) {
  auto pool = bounded(1, 1, cfut::WhenFull::caller_runs);
  Event started, release;
  auto busy = pool.submit([&] {
    started.fire();
    release.wait();
  });
  ASSERT_TRUE(started.wait());
  auto queued = pool.submit([] {});
  auto here = pool.submit([] { return std::this_thread::get_id(); });
  EXPECT_TRUE(here.done());
  EXPECT_EQ(here.get(), std::this_thread::get_id());
  release.fire();
  busy.get();
  queued.get();
}

TEST(Flow, StatsCountFailuresAndCancellations) {
  cfut::ThreadPool pool(1);
  Event started, release;
  auto busy = pool.submit([&] {
    started.fire();
    release.wait();
  });
  ASSERT_TRUE(started.wait());
  auto bad = pool.submit([]() -> int { throw std::runtime_error("no"); });
  auto gone = pool.submit([] {});
  EXPECT_TRUE(gone.cancel());
  release.fire();
  EXPECT_THROW(bad.get(), std::runtime_error);
  pool.shutdown();
  auto s = pool.stats();
  EXPECT_EQ(s.submitted, 3u);
  EXPECT_EQ(s.completed, 1u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.cancelled, 1u);
  EXPECT_EQ(s.queued + s.running, 0u);
}

TEST(Flow, UnobservedErrorHookOncePerUnreadFailure) {
  std::atomic<int> lost{0};
  std::mutex m;
  std::condition_variable cv;
  cfut::set_unobserved_error_hook([&](const cfut::error &e) {
    if (std::string(e.what()) != "lost in C++") return;
    EXPECT_EQ(e.status(), CFUT_TASK_FAILED);
    std::lock_guard<std::mutex> l(m);
    lost++;
    cv.notify_all();
  });
  {
    cfut::ThreadPool pool(2);
    (void)pool.submit([]() -> int { throw std::runtime_error("lost in C++"); });  // dropped unread
    auto read = pool.submit([]() -> int { throw std::runtime_error("lost in C++"); });
    EXPECT_THROW(read.get(), std::runtime_error);
    std::unique_lock<std::mutex> l(m);
    EXPECT_TRUE(cv.wait_for(l, 20s, [&] { return lost.load() >= 1; }));
  }
  auto prev = cfut::set_unobserved_error_hook({});
  EXPECT_TRUE(static_cast<bool>(prev));
  EXPECT_EQ(lost.load(), 1);
}

TEST(Flow, IdleWorkersRetireRunExitHookAndRestart) {
  std::atomic<int> exits{0};
  cfut::ThreadPoolOptions o;
  o.max_workers = 2;
  o.idle_timeout = 20ms;
  o.on_worker_exit = [&] { exits++; };
  {
    cfut::ThreadPool pool(std::move(o));
    EXPECT_EQ(pool.submit([] { return 7; }).get(), 7);
    auto until = std::chrono::steady_clock::now() + 20s;
    while (pool.stats().workers > 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(2ms);
    EXPECT_EQ(pool.stats().workers, 0u);
    EXPECT_EQ(exits.load(), 1);
    EXPECT_EQ(pool.submit([] { return 8; }).get(), 8);
    EXPECT_EQ(pool.stats().worker_restarts, 1u);
  }
  EXPECT_EQ(exits.load(), 2);
}

}  // namespace
