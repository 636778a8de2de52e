// as_completed_urls.cpp: handle results in the order they finish, not the order submitted.
//
// Python:
//     futures = {executor.submit(get_request, url): url for url in urls}
//     for fut in as_completed(futures):
//         url = futures[fut]
//         try:    print(f"Url: {url}, result: {fut.result()}")
//         except Exception as e: print(f"Url: {url} failed: {e}")
//
// The loads are simulated with sleeps of different lengths, and one URL fails by throwing.
// cfut::as_completed takes any range of futures; we keep them in a std::map from the future's
// handle to its URL, which plays the part of Python's dict.
#include <chrono>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cfutures.hpp"

using namespace std::chrono_literals;

static std::string get_request(const std::string &url, std::chrono::milliseconds latency) {
  std::this_thread::sleep_for(latency);  // a thread waiting on the network
  if (url.find("broken") != std::string::npos) throw std::runtime_error("connection reset by peer");
  return std::to_string(url.size() * 100) + " bytes";
}

int main() {
  const std::vector<std::pair<std::string, std::chrono::milliseconds>> urls = {
      {"http://www.foxnews.com/", 300ms}, {"http://www.cnn.com/", 100ms},
      {"http://europe.wsj.com/", 400ms},  {"http://www.bbc.co.uk/", 50ms},
      {"http://broken.example/", 200ms},
  };
  cfut::ThreadPool executor(5);
  std::vector<cfut::Future<std::string>> futures;
  std::map<cfut_future *, std::string> url_of;
  for (const auto &[url, latency] : urls) {
    futures.push_back(executor.submit(get_request, url, latency));
    url_of[futures.back().capi()] = url;
  }

  int ok = 0, failed = 0;
  for (auto &fut : cfut::as_completed(futures, 5s)) {
    const std::string &url = url_of.at(fut.capi());
    try {
      const std::string &result = fut.get();  // rethrows the task's exception
      std::cout << "Url: " << url << ", result: " << result << "\n";
      ++ok;
    } catch (const std::exception &e) {
      std::cout << "Url: " << url << " failed: " << e.what() << "\n";
      ++failed;
    }
  }
  std::cout << ok << " succeeded, " << failed << " failed\n";
  return ok == 4 && failed == 1 ? 0 : 1;
}
