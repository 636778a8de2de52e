// map_timeout.cpp: executor.map with a timeout that fires.
//
// Python:
//     def square(item):
//         if item == 5:
//             time.sleep(10)          # this one hangs
//         return item * item
//
//     for sq in executor.map(square, range(1, 11), chunksize=1, timeout=2):
//         print(sq)                   # 1 4 9 16, then TimeoutError
//
// pool.map_lazy yields results in input order as they come; the timeout covers the whole map
// and counts from the call. When it fires, iterating throws cfut::timeout_error and every item
// not yet started is cancelled. Running items cannot be interrupted (a thread is never killed),
// so the range's destructor waits for them.
//
// Scaled down: items take 50 ms, the "hung" items 5 and 6 take 1 s, the timeout is 500 ms.
#include <chrono>
#include <iostream>
#include <thread>
#include <vector>

#include "cfutures.hpp"

using namespace std::chrono_literals;

int main() {
  cfut::ThreadPool executor(2);
  std::vector<int> items{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  auto square = [](int item) {
    std::this_thread::sleep_for(item == 5 || item == 6 ? 1000ms : 50ms);
    return item * item;
  };
  cfut::MapOptions options;
  options.chunksize = 1;
  options.timeout = 500ms;

  int printed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto results = executor.map_lazy(square, items, options);
  try {
    for (int sq : results) {
      std::cout << sq << "\n";
      ++printed;
    }
    std::cout << "no timeout?!\n";
    return 1;
  } catch (const cfut::timeout_error &e) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    std::cout << "TimeoutError after " << ms.count() << " ms: " << e.what() << "\n";
  }
  std::cout << printed << " results before the timeout; items 7-10 never ran\n";
  // Leaving main destroys `results`, which waits for items 5 and 6 (running, uninterruptible).
  return printed == 4 ? 0 : 1;
}
