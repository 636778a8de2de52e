// downloads_threads.cpp: I/O-bound work on many threads versus one after the other.
//
// Python:
//     def download_all(urls):                           # sequential: ~22.8 s
//         return [download_one(url) for url in urls]
//
//     def download_all(urls):                           # threaded:    ~5.0 s
//         with ThreadPoolExecutor(max_workers=13) as executor:
//             return executor.map(download_one, urls, timeout=60)
//
// A download spends its time waiting for the network, so while one thread waits the others can
// wait too: N threads overlap up to N waits. Each download is simulated with a 30-50 ms sleep
// (a sleeping thread uses no CPU, like one blocked on a socket), so the speed-up does not depend
// on the number of cores.
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "cfutures.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct File {
  std::string name;
  std::chrono::milliseconds transfer;
};

static std::string download_one(const File &f) {
  std::this_thread::sleep_for(f.transfer);
  return "Finished downloading " + f.name;
}

static double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

int main() {
  std::vector<File> files;
  for (int i = 0; i < 30; ++i)
    files.push_back({"image_" + std::to_string(i) + ".jpg", std::chrono::milliseconds(30 + (i * 7) % 21)});

  auto t0 = clock_type::now();
  std::vector<std::string> sequential;
  for (const File &f : files) sequential.push_back(download_one(f));
  const double seq_ms = ms_since(t0);

  t0 = clock_type::now();
  std::vector<std::string> threaded;
  {
    cfut::ThreadPool executor(15);  // I/O-bound: many more threads than cores is fine
    cfut::MapOptions options;
    options.chunksize = 1;  // one download per task: each one waits on its own
    options.timeout = std::chrono::seconds(60);
    threaded = executor.map(download_one, files, options);
  }
  const double thr_ms = ms_since(t0);

  std::cout << threaded.front() << "\n...\n" << threaded.back() << "\n";
  std::cout << "sequential: " << files.size() << " downloads in " << seq_ms << " ms\n";
  std::cout << "15 threads: " << files.size() << " downloads in " << thr_ms << " ms ("
            << seq_ms / thr_ms << "x faster)\n";
  return threaded == sequential && thr_ms < seq_ms ? 0 : 1;
}
