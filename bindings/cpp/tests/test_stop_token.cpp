// C++20: thread-pool tasks that take a std::stop_token (built with -std=c++20).
#include "cfutures.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

using namespace std::chrono_literals;

#ifndef CFUT_HPP_HAS_STOP_TOKEN
#error "this test needs C++20 <stop_token>"
#endif

namespace {

TEST(StopToken, RequestCancelRequestsStop) {
  cfut::ThreadPool pool(2);
  std::promise<void> started;
  std::atomic<bool> callback_ran{false};
  auto f = pool.submit([&](std::stop_token st, int n) {
    std::stop_callback cb(st, [&] { callback_ran = true; });
    started.set_value();
    while (!st.stop_requested()) {
    }
    return n;
  }, 4);
  started.get_future().wait();
  EXPECT_FALSE(f.request_cancel());
  EXPECT_EQ(f.get(), 4);  // it returned normally after the stop
  EXPECT_TRUE(callback_ran.load());
}

TEST(StopToken, GroupCancelAndTaskCancelled) {
  cfut::ThreadPool pool(2);
  std::promise<void> started;
  cfut::TaskGroup g(pool);
  auto f = g.submit([&](std::stop_token st) {
    started.set_value();
    while (!st.stop_requested()) {
    }
    throw cfut::task_cancelled();
  });
  started.get_future().wait();
  g.cancel();
  EXPECT_THROW(g.wait(), cfut::cancelled_error);
  EXPECT_TRUE(f.cancelled());
  // Completed before any request: the bridge is dropped, nothing leaks (ASAN).
  auto quick = pool.submit([](std::stop_token) { return 1; });
  EXPECT_EQ(quick.get(), 1);
}

}  // namespace
