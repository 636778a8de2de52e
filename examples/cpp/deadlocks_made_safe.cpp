// deadlocks_made_safe.cpp: the two deadlocks of the concurrent.futures documentation, which
// hang in Python, end here.
//
// 1. A task on a one-worker pool submits to its own pool and waits: the waiting worker runs
//    the awaited task itself, so the nested get() returns 25 at once.
// 2. Two tasks wait on each other: the get() that would close the cycle throws
//    cfut::would_deadlock instead of hanging.
#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "cfutures.hpp"

int main() {
  {
    cfut::ThreadPool executor(1);  // inline_waits is on by default
    auto wait_on_future = [&executor] {
      auto f = executor.submit([](int a, int b) { return a * b; }, 5, 2 + 3);
      std::cout << "wait_on_future: " << f.get() << "\n";  // 25
    };
    executor.submit(wait_on_future).get_for(std::chrono::seconds(5));
  }

  cfut::ThreadPool executor(2);
  cfut::Future<int> a, b;
  std::atomic<bool> submitted{false};
  auto wait_on = [&submitted](const char *me, const cfut::Future<int> &other, int value) {
    while (!submitted) std::this_thread::yield();  // Python's time.sleep(5)
    try {
      other.wait();
      std::cout << me << ": the other task finished\n";
      return value;
    } catch (const cfut::would_deadlock &e) {
      std::cout << me << ": " << e.status_name() << " (" << e.what() << ")\n";
      throw;
    }
  };
  a = executor.submit([&] { return wait_on("a", b, 5); });
  b = executor.submit([&] { return wait_on("b", a, 6); });
  submitted = true;
  int deadlocks = 0;
  for (auto *f : {&a, &b}) {
    const char *name = f == &a ? "a" : "b";
    try {
      int v = f->get_for(std::chrono::seconds(5));
      std::cout << name << " returned " << v << "\n";
    } catch (const cfut::would_deadlock &) {
      std::cout << name << " failed with would_deadlock\n";
      deadlocks++;
    }
  }
  if (deadlocks < 1) {
    std::cerr << "expected one side to get would_deadlock\n";
    return 1;
  }
  return 0;
}
