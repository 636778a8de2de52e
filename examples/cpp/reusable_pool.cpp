// reusable_pool.cpp: create one pool, use it for several batches, shut it down at the end.
//
// Python:
//     def do_work(sleep_secs, i):
//         time.sleep(sleep_secs)
//         return f"foo-{i}"
//
//     executor = ThreadPoolExecutor()
//     print("some map results:", list(executor.map(partial(do_work, 3.0), range(1, 10))))
//     print("more map results:", list(executor.map(partial(do_work, 1.0), range(10, 20))))
//     executor.shutdown()
//
// Threads start lazily and are reused across batches; the initializer (which runs once on each
// new worker) counts them. shutdown() ends the pool explicitly; after it, submit throws
// cfut::shutdown_error (Python's RuntimeError).
#include <atomic>
#include <chrono>
#include <iostream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "cfutures.hpp"

using namespace std::chrono_literals;

static std::string do_work(std::chrono::milliseconds sleep, int i) {
  std::this_thread::sleep_for(sleep);
  return "foo-" + std::to_string(i);
}

static void print(const char *what, const std::vector<std::string> &v) {
  std::cout << what;
  for (const auto &s : v) std::cout << " " << s;
  std::cout << "\n";
}

int main() {
  std::atomic<int> threads_started{0};
  cfut::ThreadPoolOptions options;
  options.max_workers = 4;
  options.thread_name_prefix = "reuse";
  options.initializer = [&] { ++threads_started; };
  cfut::ThreadPool executor(std::move(options));

  std::vector<int> first(9), second(10);
  std::iota(first.begin(), first.end(), 1);
  std::iota(second.begin(), second.end(), 10);
  print("some map results:", executor.map([](int i) { return do_work(60ms, i); }, first));
  print("more map results:", executor.map([](int i) { return do_work(20ms, i); }, second));
  auto single = executor.submit(do_work, 0ms, 99);
  std::cout << "and a submit: " << single.get() << "\n";
  std::cout << threads_started << " worker threads served " << first.size() + second.size() + 1
            << " tasks (max_workers = " << executor.max_workers() << ")\n";

  executor.shutdown();
  try {
    executor.submit(do_work, 0ms, 0);
    return 1;
  } catch (const cfut::shutdown_error &e) {
    std::cout << "after shutdown, submit throws: " << e.what() << "\n";
  }
  return threads_started >= 1 && threads_started <= 4 ? 0 : 1;
}
