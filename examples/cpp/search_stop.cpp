// search_stop.cpp: many workers search; the first that finds the answer stops the rest.
//
// Each task scans a slice of a key space; a task takes a cfut::CancelToken as its first
// parameter and polls it. The finder calls group.cancel(): slices not started never run,
// running ones see stop_requested() and leave through throw_if_stop_requested(), which
// ends them CANCELLED. wait() then throws cancelled_error (the group was cancelled, nothing
// failed), and the answer is already in hand.
#include "cfutures.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>

namespace {
constexpr std::uint64_t kSlices = 256, kSliceSize = 1u << 20;
constexpr std::uint64_t kSecret = 91 * kSliceSize + 4242;

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}
}  // namespace

int main() {
  cfut::ThreadPool pool;
  const std::uint64_t target = mix(kSecret);
  std::atomic<std::uint64_t> found{UINT64_MAX};
  std::atomic<int> stopped{0}, submitted{0};
  cfut::TaskGroup group(pool);
  try {
    for (std::uint64_t i = 0; i < kSlices; i++) {
      group.submit([&, begin = i * kSliceSize](cfut::CancelToken token) {
        for (std::uint64_t k = begin; k < begin + kSliceSize; k++) {
          if ((k & 4095) == 0 && token.stop_requested()) {
            stopped++;
            token.throw_if_stop_requested();
          }
          if (mix(k) == target) {
            found = k;
            group.cancel();  // stop everyone else
            return;
          }
        }
      });
      submitted++;
    }
  } catch (const cfut::cancelled_error &) {
    // found before every slice was submitted: the group takes no more work
  }
  try {
    group.wait();
  } catch (const cfut::cancelled_error &) {
    std::printf("group cancelled by the finder\n");
  }
  std::printf("found key %llu; %d slices submitted, %d stopped on request\n",
              static_cast<unsigned long long>(found.load()), submitted.load(), stopped.load());
  return found == kSecret ? 0 : 1;
}
