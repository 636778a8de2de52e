// Wrapper overhead: submit + get of an empty task through cfutures.hpp, beside the raw C API,
// std::async and oneTBB's task_group, in one run. Two shapes:
//   round trip  submit one task, wait for it, repeat (latency of one hand-off)
//   batch       submit N tasks, then wait for all (throughput; N = 1000)
// Each figure is the median of several runs, in nanoseconds per task. Not part of `make test`.
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include "cfutures.hpp"

using clock_type = std::chrono::steady_clock;

namespace {

constexpr int kWorkers = 2;
constexpr int batch = 1000;

int32_t empty_c_task(void *, cfut_result *) { return 0; }

void check(cfut_status s) {
  if (s != CFUT_OK) {
    std::fprintf(stderr, "bench: %s\n", cfut_status_name(s));
    std::exit(1);
  }
}


struct Contender {
  std::string name;
  int tasks;
  std::function<void(int)> round_trip, batch;
  std::vector<double> rt, b;  // ns per task, one entry per round
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
double best(const std::vector<double> &v) { return *std::min_element(v.begin(), v.end()); }

double ns_per_task(int tasks, const std::function<void(int)> &body) {
  const auto t0 = clock_type::now();
  body(tasks);
  return std::chrono::duration<double, std::nano>(clock_type::now() - t0).count() / tasks;
}

}  // namespace

int main(int argc, char **argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 9;


  cfut_executor *ex = nullptr;
  {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = kWorkers;
    check(cfut_thread_pool_new(&o, &ex));
  }
  cfut::ThreadPool pool(kWorkers);
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, kWorkers + 1);
  tbb::task_group tg;

  // Runs `submit(i)` for k tasks in batches of `batch`, then `collect()` waits for each batch.
  auto batched = [](int k, const std::function<void(int)> &submit, const std::function<void()> &collect) {
    for (int done = 0; done < k; done += batch) {
      const int m = std::min(batch, k - done);
      for (int i = 0; i < m; ++i) submit(i);
      collect();
    }
  };

  std::vector<cfut_future *> cfs;
  std::vector<cfut::Future<void>> vfs;
  std::vector<cfut::Future<int>> ifs;
  std::vector<std::future<void>> afs;
  std::vector<Contender> cs;
  cs.push_back({"C API (cfut_executor_submit)", n,
                [&](int k) {
                  for (int i = 0; i < k; ++i) {
                    cfut_future *f = nullptr;
                    check(cfut_executor_submit(ex, empty_c_task, nullptr, nullptr, &f));
                    check(cfut_future_result(f, CFUT_FOREVER, nullptr));
                    cfut_future_release(f);
                  }
                },
                [&](int k) {
                  batched(
                      k,
                      [&](int) {
                        cfut_future *f = nullptr;
                        check(cfut_executor_submit(ex, empty_c_task, nullptr, nullptr, &f));
                        cfs.push_back(f);
                      },
                      [&] {
                        for (cfut_future *f : cfs) {
                          check(cfut_future_result(f, CFUT_FOREVER, nullptr));
                          cfut_future_release(f);
                        }
                        cfs.clear();
                      });
                },
                {},
                {}});
  cs.push_back({"cfut::ThreadPool::submit, void", n,
                [&](int k) {
                  for (int i = 0; i < k; ++i) pool.submit([] {}).get();
                },
                [&](int k) {
                  batched(
                      k, [&](int) { vfs.push_back(pool.submit([] {})); },
                      [&] {
                        for (auto &f : vfs) f.get();
                        vfs.clear();
                      });
                },
                {},
                {}});
  cs.push_back({"cfut::ThreadPool::submit, int", n,
                [&](int k) {
                  for (int i = 0; i < k; ++i) (void)pool.submit([i] { return i; }).get();
                },
                [&](int k) {
                  batched(
                      k, [&](int i) { ifs.push_back(pool.submit([i] { return i; })); },
                      [&] {
                        for (auto &f : ifs) (void)f.get();
                        ifs.clear();
                      });
                },
                {},
                {}});
  cs.push_back({"cfut::ThreadPool::submit_bytes, int", n,
                [&](int k) {
                  for (int i = 0; i < k; ++i) (void)pool.submit_bytes([](int x) { return x; }, i).get();
                },
                [&](int k) {
                  batched(
                      k, [&](int i) { ifs.push_back(pool.submit_bytes([](int x) { return x; }, i)); },
                      [&] {
                        for (auto &f : ifs) (void)f.get();
                        ifs.clear();
                      });
                },
                {},
                {}});
#ifdef CFUT_HPP_HAS_PROCESS_POOL
  cfut::ProcessPool procs(kWorkers);
  cs.push_back({"cfut::ProcessPool::submit, int", std::max(1, n / 10),
                [&](int k) {
                  for (int i = 0; i < k; ++i) (void)procs.submit([](int x) { return x; }, i).get();
                },
                [&](int k) {
                  batched(
                      k, [&](int i) { ifs.push_back(procs.submit([](int x) { return x; }, i)); },
                      [&] {
                        for (auto &f : ifs) (void)f.get();
                        ifs.clear();
                      });
                },
                {},
                {}});
#endif
  cs.push_back({"std::async(std::launch::async), void", std::max(1, n / 10),
                [&](int k) {
                  for (int i = 0; i < k; ++i) std::async(std::launch::async, [] {}).get();
                },
                [&](int k) {
                  batched(
                      k, [&](int) { afs.push_back(std::async(std::launch::async, [] {})); },
                      [&] {
                        for (auto &f : afs) f.get();
                        afs.clear();
                      });
                },
                {},
                {}});
  cs.push_back({"oneTBB task_group run + wait, void", n,
                [&](int k) {
                  for (int i = 0; i < k; ++i) {
                    tg.run([] {});
                    tg.wait();
                  }
                },
                [&](int k) { batched(k, [&](int) { tg.run([] {}); }, [&] { tg.wait(); }); },
                {},
                {}});

  for (auto &c : cs) {  // warm up: start every pool's threads
    c.round_trip(c.tasks / 20 + 1);
    c.batch(c.tasks / 20 + 1);
  }
  for (int r = 0; r < rounds; ++r)  // interleaved, so that load from elsewhere hits every row alike
    for (auto &c : cs) {
      c.rt.push_back(ns_per_task(c.tasks, c.round_trip));
      c.b.push_back(ns_per_task(c.tasks, c.batch));
    }
  cfut_executor_free(ex);

  const double rt0 = best(cs[0].rt), b0 = best(cs[0].b);
  std::printf("empty task, %d workers, %d tasks per round (std::async, ProcessPool: %d), %d interleaved rounds\n", kWorkers, n,
              std::max(1, n / 10), rounds);
  std::printf("ns per task: best round (median round); ratio = best / best of the C API\n\n");
  std::printf("| %-38s | %-20s | %-7s | %-20s | %-7s |\n", "", "round trip", "vs C", "batches of 1000", "vs C");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(40, '-').c_str(), std::string(22, '-').c_str(),
              std::string(9, '-').c_str(), std::string(22, '-').c_str(), std::string(9, '-').c_str());
  for (const Contender &c : cs) {
    char rt[64], b[64];
    std::snprintf(rt, sizeof rt, "%.0f (%.0f)", best(c.rt), median(c.rt));
    std::snprintf(b, sizeof b, "%.0f (%.0f)", best(c.b), median(c.b));
    std::printf("| %-38s | %20s | %6.2fx | %20s | %6.2fx |\n", c.name.c_str(), rt, best(c.rt) / rt0, b,
                best(c.b) / b0);
  }
  std::printf("\noneTBB's wait() runs queued tasks on the waiting thread, so its round trip has no hand-off.\n");
  return 0;
}
