// errors_submit_vs_map.cpp: how a failing task reaches you through submit and through map.
//
// Python:
//     def get_request(url, sleep_time):
//         time.sleep(sleep_time)
//         if url == 5:
//             raise Exception(f"Some exception in processing url {url}")
//         return url
//
//     for future in [executor.submit(get_request, url, 0.1) for url in urls]:
//         try:    print(future.result())
//         except Exception as e: print(e)          # 1 2 3 4 <error> 6 7 8 9
//
//     for result in executor.map(partial(get_request, sleep_time=0.1), urls):
//         print(result)                            # 1 2 3 4, then it raises
//
// In C++ a task raises a real exception, and Future<T>::get() rethrows it with its own type
// (here url_error, with its url field intact). Through submit each future carries its own
// outcome. Through map the eager form throws at the first failing item, as Python's map does;
// the lazy form lets you catch the failure and keep iterating.
#include <chrono>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cfutures.hpp"

using namespace std::chrono_literals;

struct url_error : std::runtime_error {
  explicit url_error(int u) : std::runtime_error("Some exception in processing url " + std::to_string(u)), url(u) {}
  int url;
};

static int get_request(int url, std::chrono::milliseconds sleep_time) {
  std::this_thread::sleep_for(sleep_time);
  if (url == 5) throw url_error(url);
  return url;
}

int main() {
  cfut::ThreadPool executor(4);
  const std::vector<int> urls{1, 2, 3, 4, 5, 6, 7, 8, 9};

  std::cout << "-- submit: each future has its own outcome\n";
  std::vector<cfut::Future<int>> futures;
  for (int url : urls) futures.push_back(executor.submit(get_request, url, 20ms));
  int ok = 0;
  for (auto &f : futures) {
    try {
      std::cout << f.get() << "\n";
      ++ok;
    } catch (const url_error &e) {
      std::cout << "url_error(url=" << e.url << "): " << e.what() << "\n";
    }
  }

  std::cout << "-- map: the first exception ends it\n";
  int mapped = 0;
  try {
    for (int r : executor.map_lazy([](int url) { return get_request(url, 20ms); }, urls)) {
      std::cout << r << "\n";
      ++mapped;
    }
  } catch (const url_error &e) {
    std::cout << "map raised: " << e.what() << "\n";
  }

  std::cout << "-- map, going on after the failure (next() can be called again)\n";
  auto results = executor.map_lazy([](int url) { return get_request(url, 20ms); }, urls);
  int after = 0;
  for (std::size_t i = 0; i < urls.size(); ++i) {
    try {
      std::cout << results.next().value() << " ";
      ++after;
    } catch (const url_error &e) {
      std::cout << "<url " << e.url << " failed> ";
    }
  }
  std::cout << "\n";
  return ok == 8 && mapped == 4 && after == 8 ? 0 : 1;
}
