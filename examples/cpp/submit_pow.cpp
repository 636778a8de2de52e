// submit_pow.cpp: the "hello world" of concurrent.futures, in C++.
//
// Python:
//     with ThreadPoolExecutor(max_workers=1) as executor:
//         future = executor.submit(pow, 323, 1235)
//         print(future.result())
//
// C++ has closures and RAII, so the C version's void * plumbing disappears: submit takes any
// callable and its arguments, the Future<T> is typed, and the pool's destructor is the end
// of the `with` block (shutdown, waiting for the work).
#include <cmath>
#include <cstdint>
#include <iostream>

#include "cfutures.hpp"

// 323 ** 1235 does not fit in 64 bits; like Python's three-argument pow, compute it modulo m.
static std::uint64_t pow_mod(std::uint64_t base, std::uint64_t exp, std::uint64_t m) {
  std::uint64_t r = 1 % m;
  base %= m;
  for (; exp; exp >>= 1) {
    if (exp & 1) r = static_cast<unsigned __int128>(r) * base % m;
    base = static_cast<unsigned __int128>(base) * base % m;
  }
  return r;
}

int main() {
  cfut::ThreadPool executor(1);

  cfut::Future<double> future = executor.submit([](double b, double e) { return std::pow(b, e); }, 2.0, 8.0);
  std::cout << "2 ** 8 = " << future.get() << "\n";

  auto big = executor.submit(pow_mod, 323, 1235, 1000000007);  // a plain function works too
  std::cout << "323 ** 1235 % 1000000007 = " << big.get() << "\n";

  if (future.get() != 256.0 || big.get() != pow_mod(323, 1235, 1000000007)) return 1;
  return 0;
}
