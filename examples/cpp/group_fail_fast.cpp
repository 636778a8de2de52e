// group_fail_fast.cpp: a task group that fails fast (errgroup, StructuredTaskScope).
//
// Twenty simulated downloads run in a cancel-on-failure cfut::TaskGroup. One throws; that
// first failure cancels the group: queued downloads never start, running ones see their
// CancelToken and stop. wait() rethrows the first exception with its own type, and the
// group's destructor guarantees that no task outlives it.
#include "cfutures.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

namespace {
struct corrupt_file : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace

int main() {
  cfut::ThreadPool pool(4);
  std::atomic<int> completed{0}, stopped{0};
  bool caught = false;
  {
    cfut::TaskGroup group(pool, /*cancel_on_failure=*/true);
    for (int id = 0; id < 20; id++) {
      try {
        group.submit([&, id](cfut::CancelToken token) {
          for (int chunk = 0; chunk < 20; chunk++) {
            if (token.stop_requested()) {
              stopped++;
              token.acknowledge();
              return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));  // network time
            if (id == 3 && chunk == 2) throw corrupt_file("file 3: checksum mismatch in chunk 2");
          }
          completed++;
        });
      } catch (const cfut::cancelled_error &) {
        std::printf("download %d refused: the group is cancelled\n", id);
      }
    }
    try {
      group.wait();
    } catch (const corrupt_file &e) {
      caught = true;
      std::printf("first failure: %s\n", e.what());
    }
  }
  std::printf("%d downloads completed, %d stopped on request\n", completed.load(), stopped.load());
  return caught && completed < 19 ? 0 : 1;
}
