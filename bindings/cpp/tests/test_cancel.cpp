// Cooperative cancellation (CancelToken, Future::request_cancel) and TaskGroup.
#include "cfutures.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>

using namespace std::chrono_literals;

namespace {

/// A one-shot event for tests (no sleeps as synchronisation).
struct Event {
  std::promise<void> p;
  std::shared_future<void> f = p.get_future().share();
  void set() { p.set_value(); }
  bool wait() const { return f.wait_for(20s) == std::future_status::ready; }
};

TEST(Cancel, TokenSeesRequestAndAcknowledges) {
  cfut::ThreadPool pool(2);
  Event started;
  auto f = pool.submit([&](cfut::CancelToken t, int n) {
    started.set();
    auto give_up = std::chrono::steady_clock::now() + 20s;
    while (!t.stop_requested() && std::chrono::steady_clock::now() < give_up) {
    }
    t.throw_if_stop_requested();
    return n;
  }, 5);
  ASSERT_TRUE(started.wait());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(f.request_cancel());
  f.wait();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(f.get(), cfut::cancelled_error);
}

TEST(Cancel, AcknowledgeDiscardsTheValueAndPlainTasksStillWork) {
  cfut::ThreadPool pool(1);
  auto value = std::make_shared<int>(7);
  std::weak_ptr<int> watch = value;
  auto f = pool.submit([v = std::move(value)](cfut::CancelToken t) {
    t.acknowledge();
    return v;
  });
  f.wait();
  EXPECT_TRUE(f.cancelled());
  f = {};
  EXPECT_TRUE(watch.expired()) << "the discarded value is destroyed once";
  auto g = pool.submit([](int a) { return a * 2; }, 21);
  EXPECT_EQ(g.get(), 42);
  EXPECT_FALSE(g.request_cancel());  // done: left alone
}

TEST(Cancel, PendingIsCancelledAtOnce) {
  cfut::ThreadPool pool(1);
  Event release;
  auto busy = pool.submit([&] { release.wait(); });
  auto queued = pool.submit([] { return 1; });
  EXPECT_TRUE(queued.request_cancel());
  EXPECT_TRUE(queued.cancelled());
  release.set();
  busy.get();
}

TEST(Cancel, BytesTasksTakeATokenToo) {
  cfut::ThreadPool pool(1);
  auto f = pool.submit_bytes([](cfut::CancelToken t, int n) {
    t.acknowledge();
    return n;
  }, 3);
  f.wait();
  EXPECT_TRUE(f.cancelled());
}

TEST(Group, WaitRethrowsFirstFailureAndCancelsTheRest) {
  cfut::ThreadPool pool(4);
  std::atomic<int> ran{0}, stopped{0};
  {
    cfut::TaskGroup g(pool, /*cancel_on_failure=*/true);
    g.submit([] { throw std::runtime_error("first"); });
    for (int i = 0; i < 2000; i++) {
      try {
        g.submit([&](cfut::CancelToken t) {
          ran++;
          auto end = std::chrono::steady_clock::now() + 50us;
          while (std::chrono::steady_clock::now() < end) {
            if (t.stop_requested()) {
              stopped++;
              t.throw_if_stop_requested();
            }
          }
        });
      } catch (const cfut::cancelled_error &) {
        break;  // the group was cancelled by the failure: later submits are refused
      }
    }
    try {
      g.wait();
      ADD_FAILURE() << "wait() did not throw";
    } catch (const std::runtime_error &e) {
      EXPECT_STREQ(e.what(), "first");
    }
  }
  EXPECT_LT(ran.load(), 2000);
}

TEST(Group, ChildrenSubmittedFromTasksAndCancel) {
  cfut::ThreadPool pool(3);
  std::atomic<int> count{0};
  cfut::TaskGroup g(pool);
  for (int i = 0; i < 10; i++) {
    g.submit([&] {
      for (int k = 0; k < 10; k++) g.submit([&] { count++; });
    });
  }
  g.wait();
  EXPECT_EQ(count.load(), 100);

  Event started;
  auto f = g.submit([&](cfut::CancelToken t) {
    started.set();
    while (!t.stop_requested()) {
    }
    return 1;  // ignores the request: finishes normally
  });
  ASSERT_TRUE(started.wait());
  EXPECT_FALSE(g.wait_for(10ms));
  g.cancel();
  EXPECT_THROW(g.wait(), cfut::cancelled_error);
  EXPECT_EQ(f.get(), 1);
  EXPECT_THROW(g.submit([] {}), cfut::cancelled_error);
}

TEST(Group, DestructorStopsRunningTasks) {
  cfut::ThreadPool pool(2);
  std::atomic<int> ended{0};
  Event started;
  {
    cfut::TaskGroup g(pool);
    g.submit([&](cfut::CancelToken t) {
      started.set();
      while (!t.stop_requested()) {
      }
      ended++;
    });
    ASSERT_TRUE(started.wait());
  }
  EXPECT_EQ(ended.load(), 1);  // no task outlives its group
}

#ifdef CFUT_HPP_HAS_PROCESS_POOL
int poll_in_worker(cfut::CancelToken t, int n) {
  while (!t.stop_requested()) {
  }
  return n;
}

TEST(Group, ProcessPoolBytesTasks) {
  cfut::ProcessPool pool(2);
  cfut::TaskGroup g(pool, true);
  auto f = g.submit_bytes([](int a) { return a + 1; }, 1);
  g.wait();
  EXPECT_EQ(f.get(), 2);
  auto running = pool.submit<&poll_in_worker>(9);
  while (!running.running()) std::this_thread::yield();
  running.request_cancel();
  EXPECT_EQ(running.get(), 9);  // the worker saw the request and returned
}
#endif

}  // namespace
