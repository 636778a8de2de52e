// GoogleTest suite for bindings/cpp/cfutures.hpp. Built with -fsanitize=address,undefined.
#include "cfutures.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <list>
#include <map>
#include <numeric>
#include <set>
#include <thread>

using namespace std::chrono_literals;

int second_tu_square(cfut::ThreadPool &pool, int x);  // tu2.cpp
std::string second_tu_error_name();                   // tu2.cpp

namespace {

/// A one-shot gate: tasks block on wait() until open().
class Gate {
 public:
  void open() {
    std::lock_guard<std::mutex> l(m_);
    open_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return open_; });
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = false;
};

struct my_error : std::runtime_error {
  explicit my_error(int c) : std::runtime_error("my_error " + std::to_string(c)), code(c) {}
  int code;
};
struct not_a_std_exception {
  int value;
};

/// Captures exceptions reported from callbacks/initializers during a test.
struct HandlerGuard {
  std::atomic<int> count{0};
  std::mutex m;
  std::vector<std::string> messages;
  cfut::callback_error_handler_t previous;
  HandlerGuard() {
    previous = cfut::set_callback_error_handler([this](std::exception_ptr e, const char *where) {
      std::lock_guard<std::mutex> l(m);
      try {
        std::rethrow_exception(e);
      } catch (const std::exception &x) {
        messages.push_back(std::string(where) + ": " + x.what());
      } catch (...) {
        messages.push_back(std::string(where) + ": ?");
      }
      ++count;
    });
  }
  ~HandlerGuard() { cfut::set_callback_error_handler(previous); }
};

int add(int a, int b) { return a + b; }

struct Counter {
  int base = 10;
  int plus(int x) const { return base + x; }
};

/// Counts live instances, and the threads destructors ran on.
struct Tracked {
  static std::atomic<int> live;
  static std::atomic<int> destroyed_off_main;
  static std::thread::id main_id;
  int v;
  explicit Tracked(int x) : v(x) { ++live; }
  Tracked(const Tracked &o) : v(o.v) { ++live; }
  Tracked(Tracked &&o) noexcept : v(o.v) { ++live; }
  ~Tracked() {
    --live;
    if (std::this_thread::get_id() != main_id) ++destroyed_off_main;
  }
};
std::atomic<int> Tracked::live{0};
std::atomic<int> Tracked::destroyed_off_main{0};
std::thread::id Tracked::main_id;

}  // namespace

// ----------------------------------------------------------------------------------------
// Values and exceptions

TEST(Values, Int) {
  cfut::ThreadPool pool(2);
  cfut::Future<int> f = pool.submit([] { return 42; });
  EXPECT_EQ(f.get(), 42);
  EXPECT_EQ(f.get(), 42);  // shared: get() twice
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_FALSE(f.running());
}

TEST(Values, PowLikePython) {
  cfut::ThreadPool pool(1);
  auto f = pool.submit([](double b, int e) { return std::pow(b, e); }, 323.0, 1235 % 5);
  EXPECT_DOUBLE_EQ(f.get(), std::pow(323.0, 0));
}

TEST(Values, String) {
  cfut::ThreadPool pool(2);
  std::string suffix = " world";
  cfut::Future<std::string> f = pool.submit([suffix](std::string s) { return s + suffix; }, std::string("hello"));
  const std::string &r = f.get();
  EXPECT_EQ(r, "hello world");
  cfut::Future<std::string> copy = f;  // retain
  EXPECT_EQ(&copy.get(), &r);          // the same shared value
}

TEST(Values, MoveOnlyResultAndArgument) {
  cfut::ThreadPool pool(2);
  auto arg = std::make_unique<int>(20);
  cfut::Future<std::unique_ptr<int>> f =
      pool.submit([](std::unique_ptr<int> p) { return std::make_unique<int>(*p + 22); }, std::move(arg));
  EXPECT_EQ(*f.get(), 42);
  std::unique_ptr<int> mine = f.take();
  ASSERT_TRUE(mine);
  EXPECT_EQ(*mine, 42);
  EXPECT_EQ(f.get(), nullptr);  // moved out of the shared state
}

TEST(Values, Void) {
  cfut::ThreadPool pool(2);
  std::atomic<int> hits{0};
  cfut::Future<void> f = pool.submit([&] { ++hits; });
  f.get();
  EXPECT_EQ(hits.load(), 1);
  EXPECT_EQ(f.exception(), nullptr);
}

TEST(Values, Struct) {
  struct P {
    int x;
    std::vector<int> v;
  };
  cfut::ThreadPool pool(2);
  auto f = pool.submit([] { return P{3, {1, 2, 3}}; });
  EXPECT_EQ(f.get().x, 3);
  EXPECT_EQ(f.get().v.size(), 3u);
}

TEST(Values, ReferenceResultIsCopied) {
  static std::string global = "global";
  cfut::ThreadPool pool(1);
  auto f = pool.submit([]() -> const std::string & { return global; });
  static_assert(std::is_same_v<decltype(f), cfut::Future<std::string>>);
  EXPECT_EQ(f.get(), "global");
}

TEST(Callables, FunctionPointerMemberFunctionAndCaptures) {
  cfut::ThreadPool pool(2);
  EXPECT_EQ(pool.submit(add, 2, 3).get(), 5);
  EXPECT_EQ(pool.submit(&add, 4, 5).get(), 9);
  Counter c;
  EXPECT_EQ(pool.submit(&Counter::plus, &c, 5).get(), 15);
  EXPECT_EQ(pool.submit(&Counter::plus, std::cref(c), 6).get(), 16);
  EXPECT_EQ(pool.submit(&Counter::plus, c, 7).get(), 17);
  EXPECT_EQ(pool.submit(&Counter::base, c).get(), 10);  // pointer to data member
  int k = 7;
  EXPECT_EQ(pool.submit([&k](int x) { return k * x; }, 6).get(), 42);
  std::function<int(int)> fn = [](int x) { return -x; };
  EXPECT_EQ(pool.submit(fn, 3).get(), -3);
  auto counter = [n = 0]() mutable { return ++n; };  // mutable lambdas run once per submit
  EXPECT_EQ(pool.submit(counter).get(), 1);
}

TEST(Exceptions, StdExceptionKeepsItsType) {
  cfut::ThreadPool pool(2);
  auto f = pool.submit([]() -> int { throw std::out_of_range("oor"); });
  EXPECT_THROW(f.get(), std::out_of_range);
  try {
    f.get();
    FAIL();
  } catch (const std::out_of_range &e) {
    EXPECT_STREQ(e.what(), "oor");
  }
  // The C view: TASK_FAILED with the what() as message.
  cfut_error e{};
  ASSERT_EQ(cfut_future_error(f.capi(), 0, &e), CFUT_OK);
  EXPECT_EQ(e.status, CFUT_TASK_FAILED);
  EXPECT_EQ(e.code, cfut::exception_code);
  EXPECT_STREQ(e.message, "oor");
}

TEST(Exceptions, CustomTypeWithData) {
  cfut::ThreadPool pool(2);
  auto f = pool.submit([](int c) -> std::string { throw my_error(c); }, 7);
  try {
    f.get();
    FAIL() << "no exception";
  } catch (const my_error &e) {
    EXPECT_EQ(e.code, 7);
    EXPECT_STREQ(e.what(), "my_error 7");
  }
  EXPECT_NE(f.exception(), nullptr);
}

TEST(Exceptions, NonStdException) {
  cfut::ThreadPool pool(2);
  auto f = pool.submit([] { throw not_a_std_exception{5}; });  // Future<void>
  try {
    f.get();
    FAIL();
  } catch (const not_a_std_exception &e) {
    EXPECT_EQ(e.value, 5);
  }
  auto g = pool.submit([]() -> std::unique_ptr<int> { throw 17; });
  EXPECT_THROW(g.get(), int);
}

TEST(Exceptions, CTaskFailureBecomesTaskFailed) {
  cfut::ThreadPool pool(1);
  cfut_future *raw = nullptr;
  ASSERT_EQ(cfut_executor_submit(
                pool.capi(),
                [](void *, cfut_result *out) -> int32_t {
                  cfut_result_set_error(out, 9, "c failure");
                  return 9;
                },
                nullptr, nullptr, &raw),
            CFUT_OK);
  auto f = cfut::Future<int>::adopt(raw);
  try {
    f.get();
    FAIL();
  } catch (const cfut::task_failed &e) {
    EXPECT_EQ(e.status(), CFUT_TASK_FAILED);
    EXPECT_EQ(e.code(), 9);
    EXPECT_STREQ(e.what(), "c failure");
  }
}

TEST(TypeTag, MismatchThrowsLogicError) {
  cfut::ThreadPool pool(1);
  cfut::Future<long> f = pool.submit([] { return 5L; });
  f.wait();
  auto wrong = cfut::Future<int>::borrow(f.capi());
  EXPECT_THROW(wrong.get(), std::logic_error);
  auto wrong2 = cfut::Future<std::string>::borrow(f.capi());
  EXPECT_THROW(wrong2.get(), std::logic_error);
  EXPECT_EQ(f.get(), 5L);
  // A C task that set nothing: a typed read is refused, a void read is fine.
  cfut_future *raw = nullptr;
  ASSERT_EQ(cfut_executor_submit(pool.capi(), [](void *, cfut_result *) -> int32_t { return 0; }, nullptr,
                                 nullptr, &raw),
            CFUT_OK);
  auto none = cfut::Future<int>::adopt(raw);
  EXPECT_THROW(none.get(), std::logic_error);
  cfut::Future<void>::borrow(raw).get();
}

// ----------------------------------------------------------------------------------------
// Timeouts, waits, cancel

TEST(Timeouts, GetForWaitForWaitUntil) {
  cfut::ThreadPool pool(1);
  Gate gate;
  auto f = pool.submit([&] {
    gate.wait();
    return 1;
  });
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(f.get_for(50ms), cfut::timeout_error);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 45ms);
  EXPECT_EQ(f.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(f.wait_for(-5s), std::future_status::timeout);  // negative polls
  EXPECT_EQ(f.wait_until(std::chrono::steady_clock::now() + 10ms), std::future_status::timeout);
  EXPECT_EQ(f.wait_until(std::chrono::system_clock::now() + 10ms), std::future_status::timeout);
  EXPECT_THROW(f.get_until(std::chrono::steady_clock::now() + 10ms), cfut::timeout_error);
  EXPECT_THROW(f.exception(10ms), cfut::timeout_error);
  try {
    f.get_for(1ms);
  } catch (const cfut::error &e) {  // the base class catches every typed error
    EXPECT_EQ(e.status(), CFUT_TIMEOUT);
    EXPECT_STREQ(e.status_name(), "CFUT_TIMEOUT");
  }
  gate.open();
  EXPECT_EQ(f.wait_for(std::chrono::hours::max()), std::future_status::ready);  // saturates
  EXPECT_EQ(f.get_for(5s), 1);
}

TEST(Cancel, PendingRunningDone) {
  cfut::ThreadPool pool(1);
  Gate gate, started;
  auto running = pool.submit([&] {
    started.open();
    gate.wait();
    return 1;
  });
  auto pending = pool.submit([] { return 2; });
  started.wait();
  EXPECT_TRUE(running.running());
  EXPECT_FALSE(running.cancel());  // running: cannot
  EXPECT_TRUE(pending.cancel());
  EXPECT_TRUE(pending.cancel());  // idempotent
  EXPECT_TRUE(pending.cancelled());
  EXPECT_TRUE(pending.done());
  EXPECT_THROW(pending.get(), cfut::cancelled_error);
  EXPECT_THROW(pending.exception(), cfut::cancelled_error);
  gate.open();
  EXPECT_EQ(running.get(), 1);
  EXPECT_FALSE(running.cancel());  // done: cannot
}

TEST(Cancel, ArgumentsOfCancelledTaskAreDestroyed) {
  Tracked::main_id = std::this_thread::get_id();
  {
    cfut::ThreadPool pool(1);
    Gate gate;
    auto blocker = pool.submit([&] { gate.wait(); });
    auto f = pool.submit([](Tracked t) { return t.v; }, Tracked(3));
    EXPECT_GE(Tracked::live.load(), 1);
    EXPECT_TRUE(f.cancel());
    gate.open();
    blocker.get();
  }
  EXPECT_EQ(Tracked::live.load(), 0);
}

// ----------------------------------------------------------------------------------------
// Callbacks

TEST(Callbacks, OrderAndThread) {
  cfut::ThreadPool pool(1);
  Gate gate;
  auto f = pool.submit([&] {
    gate.wait();
    return 5;
  });
  std::mutex m;
  std::vector<int> order;
  std::atomic<int> seen_value{0};
  for (int i = 0; i < 5; ++i)
    f.add_done_callback([&, i](cfut::Future<int> g) {
      std::lock_guard<std::mutex> l(m);
      order.push_back(i);
      seen_value = g.get();
    });
  gate.open();
  f.wait();
  // The callbacks ran on the worker, before or after wait() returned: wait for them.
  for (int k = 0; k < 200; ++k) {
    {
      std::lock_guard<std::mutex> l(m);
      if (order.size() == 5) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  std::lock_guard<std::mutex> l(m);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(seen_value.load(), 5);
}

TEST(Callbacks, AlreadyDoneRunsNowOnThisThread) {
  cfut::ThreadPool pool(1);
  auto f = pool.submit([] { return std::string("x"); });
  f.wait();
  std::thread::id ran_on;
  std::string got;
  f.add_done_callback([&](cfut::Future<std::string> g) {
    ran_on = std::this_thread::get_id();
    got = g.get();
  });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(got, "x");
}

TEST(Callbacks, ExceptionInCallbackIsCaughtAndReported) {
  HandlerGuard h;
  cfut::ThreadPool pool(1);
  auto f = pool.submit([] {});
  f.wait();
  bool second_ran = false;
  f.add_done_callback([](cfut::Future<void>) { throw std::runtime_error("callback boom"); });
  f.add_done_callback([&](cfut::Future<void>) { second_ran = true; });
  EXPECT_TRUE(second_ran);
  EXPECT_EQ(h.count.load(), 1);
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0], "done-callback: callback boom");

  // On a worker thread too; a non-std exception as well.
  Gate gate;
  auto g = pool.submit([&] { gate.wait(); });
  g.add_done_callback([](cfut::Future<void>) { throw 3; });
  gate.open();
  g.wait();
  for (int k = 0; k < 200 && h.count.load() < 2; ++k) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(h.count.load(), 2);
}

TEST(Callbacks, DefaultReporterWritesStderr) {
  cfut::ThreadPool pool(1);
  auto f = pool.submit([] { return 1; });
  f.wait();
  testing::internal::CaptureStderr();
  f.add_done_callback([](cfut::Future<int>) { throw std::runtime_error("to stderr"); });
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("to stderr"), std::string::npos) << err;
}

TEST(Callbacks, RunOnCancelAndCallbackCanReadCancelled) {
  cfut::ThreadPool pool(1);
  Gate gate;
  auto blocker = pool.submit([&] { gate.wait(); });
  auto f = pool.submit([] { return 1; });
  bool saw_cancelled = false;
  f.add_done_callback([&](cfut::Future<int> g) {
    saw_cancelled = g.cancelled();
    EXPECT_THROW(g.get(), cfut::cancelled_error);
  });
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(saw_cancelled);
  gate.open();
}

TEST(Callbacks, NeverRunCallbackIsFreed) {
  // A callback on a standalone future that never completes is freed with the future.
  cfut_future *raw = nullptr;
  ASSERT_EQ(cfut_future_new(&raw), CFUT_OK);
  auto f = cfut::Future<int>::adopt(raw);
  auto shared = std::make_shared<int>(1);
  f.add_done_callback([shared](cfut::Future<int>) {});
  EXPECT_EQ(shared.use_count(), 2);
  f = cfut::Future<int>();
  EXPECT_EQ(shared.use_count(), 1);
}

// ----------------------------------------------------------------------------------------
// Futures across threads: destructors anywhere

TEST(Lifetime, CopiesDestroyedOnOtherThreads) {
  Tracked::main_id = std::this_thread::get_id();
  Tracked::destroyed_off_main = 0;
  {
    cfut::ThreadPool pool(4);
    std::vector<std::thread> threads;
    for (int round = 0; round < 20; ++round) {
      auto f = pool.submit([round] { return Tracked(round); });
      for (int t = 0; t < 4; ++t)
        threads.emplace_back([copy = f, round]() mutable {
          EXPECT_EQ(copy.get().v, round);
          cfut::Future<Tracked> moved = std::move(copy);
          cfut::Future<Tracked> again = moved;
        });
    }  // the main copy goes first: the last reference is released on another thread
    for (auto &t : threads) t.join();
  }
  EXPECT_EQ(Tracked::live.load(), 0);
  EXPECT_GT(Tracked::destroyed_off_main.load(), 0);
}

TEST(Lifetime, FutureDroppedBeforeTaskEnds) {
  Tracked::main_id = std::this_thread::get_id();
  Gate gate;
  {
    cfut::ThreadPool pool(1);
    {
      auto f = pool.submit([&] {
        gate.wait();
        return Tracked(1);
      });
    }  // released early: the task keeps running, its value dies on the worker
    gate.open();
  }
  EXPECT_EQ(Tracked::live.load(), 0);
}

TEST(Lifetime, FutureOutlivesPool) {
  cfut::Future<std::string> f;
  {
    cfut::ThreadPool pool(2);
    f = pool.submit([] { return std::string(100, 'a'); });
  }
  EXPECT_EQ(f.get().size(), 100u);
}

TEST(Lifetime, EmptyAndMovedFrom) {
  cfut::Future<int> e;
  EXPECT_FALSE(e.valid());
  EXPECT_FALSE(e.done());
  EXPECT_FALSE(e.cancel());
  EXPECT_THROW(e.get(), cfut::error);
  cfut::ThreadPool pool(1);
  auto f = pool.submit([] { return 1; });
  auto g = std::move(f);
  EXPECT_FALSE(f.valid());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(g.get(), 1);
  cfut::Future<int> &self = g;
  g = self;  // self-assignment keeps the reference
  EXPECT_EQ(g.get(), 1);
}

TEST(Lifetime, ManySubmitsFromManyThreads) {
  cfut::ThreadPool pool(4);
  std::atomic<long> sum{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      std::vector<cfut::Future<int>> fs;
      for (int i = 0; i < 2000; ++i) fs.push_back(pool.submit([i] { return i; }));
      for (auto &f : fs) sum += f.get();
    });
  for (auto &t : ts) t.join();
  EXPECT_EQ(sum.load(), 4L * (1999L * 2000L / 2));
}

TEST(Lifetime, StressCancelsCallbacksAndShutdownRacingSubmits) {
  // Every callback runs exactly once, every argument and value is destroyed exactly once,
  // whatever mix of completion, cancellation and refusal (after shutdown) each task meets.
  Tracked::main_id = std::this_thread::get_id();
  std::atomic<int> callbacks{0}, submitted{0}, refused{0};
  {
    cfut::ThreadPool pool(3);
    std::vector<std::thread> ts;
    for (int t = 0; t < 3; ++t)
      ts.emplace_back([&, t] {
        for (int i = 0; i < 3000; ++i) {
          try {
            auto f = pool.submit([](Tracked a) { return Tracked(a.v + 1); }, Tracked(i));
            ++submitted;
            f.add_done_callback([&](cfut::Future<Tracked>) { ++callbacks; });
            if ((i + t) % 3 == 0) f.cancel();
          } catch (const cfut::shutdown_error &) {
            ++refused;
          }
        }
      });
    std::this_thread::sleep_for(5ms);
    pool.shutdown(false, true);  // races the submitting threads
    for (auto &th : ts) th.join();
  }
  EXPECT_EQ(callbacks.load(), submitted.load());
  EXPECT_EQ(submitted.load() + refused.load(), 9000);
  EXPECT_EQ(Tracked::live.load(), 0);
}

// ----------------------------------------------------------------------------------------
// Executor

TEST(Executor, ShutdownThenSubmitThrows) {
  cfut::ThreadPool pool(2);
  auto f = pool.submit([] { return 1; });
  pool.shutdown();
  pool.shutdown();  // idempotent
  EXPECT_EQ(f.get(), 1);
  EXPECT_THROW(pool.submit([] { return 2; }), cfut::shutdown_error);
  EXPECT_THROW(pool.map([](int x) { return x; }, std::vector<int>{1}), cfut::shutdown_error);
}

TEST(Executor, ShutdownCancelFutures) {
  cfut::ThreadPool pool(1);
  Gate gate, started;
  auto a = pool.submit([&] {
    started.open();
    gate.wait();
  });
  std::vector<cfut::Future<int>> rest;
  for (int i = 0; i < 10; ++i) rest.push_back(pool.submit([i] { return i; }));
  started.wait();
  std::thread opener([&] {
    std::this_thread::sleep_for(20ms);
    gate.open();
  });
  pool.shutdown(true, true);
  opener.join();
  a.get();
  for (auto &f : rest) EXPECT_TRUE(f.cancelled());
}

TEST(Executor, ShutdownWaitFromOwnWorkerThrowsWouldDeadlock) {
  auto pool = std::make_unique<cfut::ThreadPool>(1);
  cfut::ThreadPool *p = pool.get();
  auto f = pool->submit([p] {
    try {
      p->shutdown(true);
    } catch (const cfut::error &e) {
      return e.status();
    }
    return static_cast<cfut_status>(CFUT_OK);
  });
  EXPECT_EQ(f.get(), static_cast<cfut_status>(CFUT_WOULD_DEADLOCK));
}

TEST(Executor, MoveOnlyPool) {
  static_assert(!std::is_copy_constructible_v<cfut::ThreadPool>);
  static_assert(std::is_nothrow_move_constructible_v<cfut::ThreadPool>);
  cfut::ThreadPool a(3);
  EXPECT_EQ(a.max_workers(), 3u);
  cfut::ThreadPool b = std::move(a);
  EXPECT_EQ(b.max_workers(), 3u);
  EXPECT_EQ(a.capi(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.submit([] { return 7; }).get(), 7);
  cfut::ThreadPool c(1);
  c = std::move(b);
  EXPECT_EQ(c.max_workers(), 3u);
  cfut::ThreadPool d;
  EXPECT_GE(d.max_workers(), 5u);  // min(32, CPUs + 4)
}

TEST(Executor, OptionsNamesAndInitializer) {
  std::atomic<int> inits{0};
  cfut::ThreadPoolOptions o;
  o.max_workers = 2;
  o.thread_name_prefix = "cxxpool";
  o.initializer = [&] { ++inits; };
  cfut::ThreadPool pool(std::move(o));
  auto name = pool.submit([] {
    char buf[32] = {0};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    return std::string(buf);
  });
  EXPECT_EQ(name.get().rfind("cxxpool_", 0), 0u) << name.get();
  EXPECT_GE(inits.load(), 1);
}

TEST(Executor, ThrowingInitializerBreaksThePool) {
  HandlerGuard h;
  cfut::ThreadPoolOptions o;
  o.max_workers = 1;
  o.initializer = [] { throw std::runtime_error("init failed"); };
  cfut::ThreadPool pool(std::move(o));
  auto f = pool.submit([] { return 1; });
  EXPECT_THROW(f.get(), cfut::broken_executor);
  EXPECT_THROW(
      {
        for (int i = 0; i < 100; ++i) {  // the pool breaks asynchronously
          pool.submit([] { return 1; });
          std::this_thread::sleep_for(1ms);
        }
      },
      cfut::broken_executor);
  EXPECT_GE(h.count.load(), 1);
  EXPECT_EQ(h.messages.at(0), "initializer: init failed");
}

// ----------------------------------------------------------------------------------------
// Map

TEST(Map, ResultsInOrder) {
  cfut::ThreadPool pool(4);
  std::vector<int> in(1000);
  std::iota(in.begin(), in.end(), 0);
  std::vector<long> out = pool.map([](int x) { return static_cast<long>(x) * x; }, in);
  ASSERT_EQ(out.size(), in.size());
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(out[i], static_cast<long>(i) * i);

  cfut::MapOptions o;
  o.chunksize = 7;
  o.max_in_flight = 3;
  auto out2 = pool.map([](int x) { return std::to_string(x); }, in, o);
  EXPECT_EQ(out2[999], "999");
  EXPECT_TRUE(pool.map([](int x) { return x; }, std::vector<int>{}).empty());
}

TEST(Map, AnyContainerAndMoveOnlyResults) {
  cfut::ThreadPool pool(2);
  std::list<std::string> words{"a", "bb", "ccc"};
  auto lens = pool.map([](const std::string &s) { return s.size(); }, words);
  EXPECT_EQ(lens, (std::vector<std::size_t>{1, 2, 3}));
  std::set<int> s{3, 1, 2};
  auto ptrs = pool.map([](int x) { return std::make_unique<int>(x); }, s);
  ASSERT_EQ(ptrs.size(), 3u);
  EXPECT_EQ(*ptrs[0], 1);
  EXPECT_EQ(*ptrs[2], 3);
  int arr[] = {5, 6};
  EXPECT_EQ(pool.map([](int x) { return x + 1; }, arr), (std::vector<int>{6, 7}));
}

TEST(Map, ProxyRangesLikeVectorOfBool) {
  cfut::ThreadPool pool(2);
  std::vector<bool> flags{true, false, true};
  EXPECT_EQ(pool.map([](bool b) { return b ? 1 : 0; }, flags), (std::vector<int>{1, 0, 1}));
  EXPECT_EQ(pool.map([](bool b) { return !b; }, flags), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(pool.map_bytes([](bool b) { return b ? 2 : 3; }, flags), (std::vector<int>{2, 3, 2}));
}

TEST(Map, LazyRangeFor) {
  cfut::ThreadPool pool(3);
  std::vector<int> in{1, 2, 3, 4, 5};
  std::vector<int> seen;
  for (int v : pool.map_lazy([](int x) { return x * 10; }, in)) seen.push_back(v);
  EXPECT_EQ(seen, (std::vector<int>{10, 20, 30, 40, 50}));
  seen.clear();
  // An rvalue container is owned by the range (a temporary in range-for stays valid).
  for (int v : pool.map_lazy([](int x) { return x + 1; }, std::vector<int>{7, 8})) seen.push_back(v);
  EXPECT_EQ(seen, (std::vector<int>{8, 9}));
  auto r = pool.map_lazy([](int x) { return x; }, std::vector<int>(100, 1), cfut::MapOptions{10, {}, 0});
  EXPECT_EQ(r.size(), 100u);
  EXPECT_EQ(r.chunksize(), 10u);
  EXPECT_EQ(r.next().value(), 1);
}

TEST(Map, ItemExceptionKeepsTypeAndOthersStillRun) {
  cfut::ThreadPool pool(2);
  std::vector<int> in{0, 1, 2, 3, 4, 5};
  cfut::MapOptions o;
  o.chunksize = 1;
  try {
    pool.map([](int x) { if (x == 3) throw my_error(x); return x; }, in, o);
    FAIL();
  } catch (const my_error &e) {
    EXPECT_EQ(e.code, 3);
  }
  // The lazy form yields the items before the failure, throws at it, and can go on.
  auto r = pool.map_lazy([](int x) { if (x == 3) throw my_error(x); return x; }, in, o);
  std::vector<int> got;
  for (int i = 0; i < 6; ++i) {
    try {
      got.push_back(r.next().value());
    } catch (const my_error &) {
      got.push_back(-1);
    }
  }
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, -1, 4, 5}));
  EXPECT_FALSE(r.next().has_value());
}

TEST(Map, TimeoutFires) {
  cfut::ThreadPool pool(2);
  std::vector<int> in(20, 0);
  cfut::MapOptions o;
  o.chunksize = 1;
  o.timeout = 50ms;
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.map([&](int) { ++ran; std::this_thread::sleep_for(30ms); return 1; }, in, o), cfut::timeout_error);
  EXPECT_LT(ran.load(), 20);  // the rest was cancelled, never ran
}

TEST(Map, VoidCallable) {
  cfut::ThreadPool pool(2);
  std::atomic<int> sum{0};
  std::vector<int> in{1, 2, 3};
  pool.map([&](int x) { sum += x; }, in);
  EXPECT_EQ(sum.load(), 6);
  auto r = pool.map_lazy([&](int x) { sum += x; }, in);
  while (r.next()) {
  }
  EXPECT_EQ(sum.load(), 12);
}

TEST(Map, DroppingARangeWaitsForRunningChunks) {
  cfut::ThreadPool pool(2);
  std::atomic<int> ran{0};
  {
    auto r = pool.map_lazy([&](int) { std::this_thread::sleep_for(2ms); ++ran; return 0; }, std::vector<int>(50, 0),
                           cfut::MapOptions{1, {}, 0});
  }  // destroyed unread: cancels what has not started, waits for the rest; no use-after-free
  EXPECT_LE(ran.load(), 50);
}

// ----------------------------------------------------------------------------------------
// The bytes path (what a process pool runs), tested on a thread pool

struct Vec3 {
  double x, y, z;
};
static Vec3 scale(Vec3 v, double k) { return {v.x * k, v.y * k, v.z * k}; }

TEST(Bytes, SubmitLambdaAndStaticFunction) {
  cfut::ThreadPool pool(2);
  const int offset = 100;  // trivially copyable capture travels as bytes
  cfut::Future<int> f = pool.submit_bytes([offset](int a, int b) { return a + b + offset; }, 1, 2);
  EXPECT_EQ(f.get(), 103);
  auto g = pool.submit_bytes<&scale>(Vec3{1, 2, 3}, 2.0);
  EXPECT_DOUBLE_EQ(g.get().z, 6.0);
  auto v = pool.submit_bytes([] {});
  v.get();
  // The C view: [type hash][value] bytes.
  const void *data = nullptr;
  size_t len = 0;
  ASSERT_EQ(cfut_future_result_bytes(f.capi(), 0, &data, &len), CFUT_OK);
  EXPECT_EQ(len, sizeof(std::uint64_t) + sizeof(int));
}

TEST(Bytes, ExceptionBecomesTaskFailedWithMessage) {
  cfut::ThreadPool pool(1);
  auto f = pool.submit_bytes([](int x) -> int { throw my_error(x); }, 4);
  try {
    f.get();
    FAIL();
  } catch (const cfut::task_failed &e) {
    EXPECT_STREQ(e.what(), "my_error 4");
    EXPECT_EQ(e.code(), cfut::exception_code);
  }
}

TEST(Bytes, TypeMismatchIsRefused) {
  cfut::ThreadPool pool(1);
  auto f = pool.submit_bytes([] { return 1.5f; });
  f.wait();
  EXPECT_THROW(cfut::Future<int>::borrow(f.capi()).get(), std::logic_error);      // same size
  EXPECT_THROW(cfut::Future<double>::borrow(f.capi()).get(), std::logic_error);   // other size
  EXPECT_THROW(cfut::Future<std::string>::borrow(f.capi()).get(), std::logic_error);
  EXPECT_FLOAT_EQ(f.get(), 1.5f);
}

TEST(Bytes, MapInOrderAndItemFailure) {
  cfut::ThreadPool pool(3);
  std::vector<Vec3> in;
  for (int i = 0; i < 500; ++i) in.push_back({double(i), 0, 0});
  auto out = pool.map_bytes([](Vec3 v) { return v.x * 2; }, in);
  ASSERT_EQ(out.size(), 500u);
  for (int i = 0; i < 500; ++i) EXPECT_DOUBLE_EQ(out[i], 2.0 * i);
  std::vector<int> small{1, 2, 3};
  EXPECT_THROW(pool.map_bytes([](int x) { if (x == 2) throw 1; return x; }, small), cfut::task_failed);
  std::vector<int> got;
  for (int v : pool.map_bytes_lazy([](int x) { return -x; }, small)) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{-1, -2, -3}));
  pool.map_bytes([](int) {}, small);  // void
  EXPECT_TRUE(pool.map_bytes([](int x) { return x; }, std::vector<int>{}).empty());
}

// ----------------------------------------------------------------------------------------
// wait / as_completed

TEST(Wait, AllFirstCompletedFirstExceptionTimeout) {
  cfut::ThreadPool pool(4);
  Gate gate;
  std::vector<cfut::Future<int>> fs;
  fs.push_back(pool.submit([] { return 1; }));
  fs.push_back(pool.submit([&] {
    gate.wait();
    return 2;
  }));
  fs.push_back(fs[0]);  // a duplicate
  fs[0].wait();

  auto r = cfut::wait(fs, cfut::FIRST_COMPLETED);
  EXPECT_TRUE(r.condition_met);
  EXPECT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.not_done.size(), 1u);

  auto t = cfut::wait(fs, cfut::ALL_COMPLETED, 30ms);
  EXPECT_FALSE(t.condition_met);
  EXPECT_EQ(t.done.size(), 1u);
  ASSERT_EQ(t.not_done.size(), 1u);
  EXPECT_EQ(t.not_done[0].capi(), fs[1].capi());

  auto bad = pool.submit([]() -> int { throw std::runtime_error("x"); });
  fs.push_back(bad);
  auto e = cfut::wait(fs, cfut::FIRST_EXCEPTION);
  EXPECT_TRUE(e.condition_met);
  EXPECT_EQ(e.done.size(), 2u);

  gate.open();
  auto all = cfut::wait(fs);
  EXPECT_TRUE(all.condition_met);
  EXPECT_EQ(all.done.size(), 3u);
  EXPECT_TRUE(all.not_done.empty());
  EXPECT_TRUE(cfut::wait(std::vector<cfut::Future<int>>{}).condition_met);
}

TEST(Wait, MixedTypesThroughFutureBase) {
  cfut::ThreadPool pool(2);
  std::vector<cfut::FutureBase> fs{pool.submit([] { return 1; }), pool.submit([] { return std::string("s"); }),
                                   pool.submit([] {})};
  auto r = cfut::wait(fs, cfut::ALL_COMPLETED, 5s);
  EXPECT_EQ(r.done.size(), 3u);
}

TEST(AsCompleted, YieldsEachOnceInCompletionOrder) {
  cfut::ThreadPool pool(4);
  std::map<int, cfut::Future<int>> by_id;  // Python's {executor.submit(...): url} idiom
  std::vector<cfut::Future<int>> fs;
  for (int i = 0; i < 4; ++i) {
    fs.push_back(pool.submit([i] {
      std::this_thread::sleep_for(std::chrono::milliseconds(60 * (4 - i)));
      return i;
    }));
  }
  fs.push_back(fs[0]);  // duplicate yields once
  std::vector<int> order;
  for (cfut::Future<int> &f : cfut::as_completed(fs)) order.push_back(f.get());
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order, (std::vector<int>{3, 2, 1, 0}));
}

TEST(AsCompleted, TimeoutThrows) {
  cfut::ThreadPool pool(2);
  Gate gate;
  std::vector<cfut::Future<int>> fs{pool.submit([] { return 1; }), pool.submit([&] {
                                      gate.wait();
                                      return 2;
                                    })};
  fs[0].wait();
  int yielded = 0;
  try {
    for (auto &f : cfut::as_completed(fs, 30ms)) {
      (void)f;
      ++yielded;
    }
    FAIL();
  } catch (const cfut::timeout_error &) {
  }
  EXPECT_EQ(yielded, 1);
  gate.open();
  auto it = cfut::as_completed(fs, std::chrono::seconds(5));
  EXPECT_TRUE(it.next().has_value());
  EXPECT_TRUE(it.next().has_value());
  EXPECT_FALSE(it.next().has_value());
}

// ----------------------------------------------------------------------------------------
// Misc

TEST(Misc, TwoTranslationUnitsAndVersion) {
  cfut::ThreadPool pool(1);
  EXPECT_EQ(second_tu_square(pool, 9), 81);
  EXPECT_EQ(second_tu_error_name(), "CFUT_TIMEOUT");
  EXPECT_STREQ(cfut::version(), CFUT_VERSION_STRING);
}

TEST(Misc, ErrorHierarchy) {
  static_assert(std::is_base_of_v<cfut::error, cfut::timeout_error>);
  static_assert(std::is_base_of_v<cfut::error, cfut::cancelled_error>);
  static_assert(std::is_base_of_v<cfut::error, cfut::broken_executor>);
  static_assert(std::is_base_of_v<cfut::error, cfut::worker_died>);
  static_assert(std::is_base_of_v<std::runtime_error, cfut::error>);
  EXPECT_THROW(cfut::throw_status(CFUT_WORKER_DIED, "sig", -9), cfut::worker_died);
  try {
    cfut::throw_status(CFUT_WORKER_DIED, "killed", -9);
  } catch (const cfut::worker_died &e) {
    EXPECT_EQ(e.code(), -9);
    EXPECT_STREQ(e.what(), "killed");
  }
  try {
    cfut::throw_status(CFUT_INVALID_STATE);
  } catch (const cfut::error &e) {
    EXPECT_EQ(e.status(), CFUT_INVALID_STATE);
    EXPECT_STREQ(e.what(), cfut_status_str(CFUT_INVALID_STATE));
  }
}
