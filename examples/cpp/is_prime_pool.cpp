// is_prime_pool.cpp: when a pool does NOT pay, and how chunking makes it pay.
//
// Python:
//     PRIMES = [num for num in range(19000, 20000)]
//     for number in PRIMES:                                    # serial
//         print(f"{number} is prime: {is_prime(number)}")
//     with ThreadPoolExecutor(max_workers=13) as executor:     # threads: slower!
//         for number, prime in zip(PRIMES, executor.map(is_prime, PRIMES)):
//             print(f"{number} is prime: {prime}")
//
// Testing whether 19xxx is prime takes a few dozen divisions: nanoseconds. Handing a task to a
// worker (queue it, wake a thread, publish the result, wake the waiter) costs far more, so one
// submit per number makes the pool slower than a plain loop. map runs items in chunks, so the
// hand-off is paid once per chunk instead of once per number; the cost then nearly vanishes,
// and the pool only wins once the total work is large against a few hand-offs.
//
// Timings vary (and on a busy machine); each is the best of a few runs.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <numeric>
#include <vector>

#include "cfutures.hpp"

using clock_type = std::chrono::steady_clock;

static bool is_prime(std::uint32_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (std::uint32_t i = 3; static_cast<std::uint64_t>(i) * i <= n; i += 2)
    if (n % i == 0) return false;
  return true;
}

static double best_ms(const std::function<std::vector<bool>()> &run, std::vector<bool> &out) {
  double best = 1e300;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = clock_type::now();
    out = run();
    best = std::min(best, std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
  }
  return best;
}

int main() {
  std::vector<std::uint32_t> primes(1000);
  std::iota(primes.begin(), primes.end(), 19000u);
  cfut::ThreadPool executor(13);

  std::vector<bool> serial, per_task, chunked, bytes;
  const double t_serial = best_ms(
      [&] {
        std::vector<bool> r;
        for (auto n : primes) r.push_back(is_prime(n));
        return r;
      },
      serial);
  const double t_submit = best_ms(
      [&] {
        std::vector<cfut::Future<bool>> fs;
        fs.reserve(primes.size());
        for (auto n : primes) fs.push_back(executor.submit(is_prime, n));
        std::vector<bool> r;
        for (auto &f : fs) r.push_back(f.get());
        return r;
      },
      per_task);
  const double t_map = best_ms(
      [&] {
        auto v = executor.map(is_prime, primes);  // automatic chunk size
        return std::vector<bool>(v.begin(), v.end());
      },
      chunked);
  const double t_bytes = best_ms(
      [&] {  // the process-pool-ready form: only bytes travel
        auto v = executor.map_bytes([](std::uint32_t n) { return is_prime(n); }, primes);
        return std::vector<bool>(v.begin(), v.end());
      },
      bytes);

#ifdef CFUT_HPP_HAS_PROCESS_POOL
  // Python's classic version uses ProcessPoolExecutor: the same map, one constructor changed.
  // Only bytes cross a process boundary, hence map (trivially copyable items and results).
  std::vector<bool> in_processes;
  double t_proc = 0;
  {
    cfut::ProcessPool processes(2);
    (void)processes.submit([] { return 0; }).get();  // start a worker before timing
    t_proc = best_ms(
        [&] {
          auto v = processes.map([](std::uint32_t n) { return is_prime(n); }, primes);
          return std::vector<bool>(v.begin(), v.end());
        },
        in_processes);
  }
#endif
  for (std::size_t i = 0; i < 5; ++i) std::cout << primes[i] << " is prime: " << std::boolalpha << serial[i] << "\n";
  std::cout << "... " << std::count(serial.begin(), serial.end(), true) << " primes in 19000..19999\n\n";
  std::cout << "plain loop:                 " << t_serial << " ms\n";
  std::cout << "one submit per number:      " << t_submit << " ms  (" << t_submit / t_serial
            << "x the loop: the hand-offs cost more than the work)\n";
  std::cout << "map, chunked:               " << t_map << " ms\n";
  std::cout << "map_bytes, chunked:         " << t_bytes << " ms\n";
#ifdef CFUT_HPP_HAS_PROCESS_POOL
  std::cout << "ProcessPool(2) map, chunked: " << t_proc << " ms  (a round trip to another process per chunk)\n";
  if (in_processes != serial) return 1;
#endif
  return serial == per_task && serial == chunked && serial == bytes ? 0 : 1;
}
