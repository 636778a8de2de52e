// cfutures.hpp: the C++17 face of cfutures (Python's concurrent.futures for native code).
//
// Header-only; needs nothing but cfutures.h and the standard library. Link with -lcfutures.
// See bindings/cpp/README.md for the design in one page.
//
//     cfut::ThreadPool pool;                                  // min(32, CPUs + 4) workers
//     cfut::Future<int> f = pool.submit([](int a, int b) { return a + b; }, 2, 3);
//     int five = f.get();                                     // or rethrows the task's exception
//
// The types mirror the C handles one to one:
//
//   C handle                 C++ type                  ownership
//   cfut_executor (thread)   cfut::ThreadPool          move-only; destructor = shutdown(wait) + free
//   cfut_executor (process)  cfut::ProcessPool         same (when the library has process pools)
//   cfut_executor (MPI)      cfut::MpiPool             same; empty on the ranks that served
//   cfut_future              cfut::Future<T>           copy = retain, move = steal, dtor = release
//   cfut_map                 cfut::MapRange<R>         move-only; destructor = cancel rest + wait
//   cfut_as_completed        cfut::AsCompleted<T>      move-only range, usable in range-for
//   cfut_cq                  cfut::CompletionQueue     move-only; destructor = free
//
// Rules worth knowing:
//  - Every function pointer this header hands to the library (task, callback, initializer,
//    map item, drop) is a noexcept trampoline with catch (...): no C++ exception ever unwinds
//    into the library. A task's exception is captured as a std::exception_ptr (through
//    cfut_result_set_error_payload) and rethrown, with its own type, by Future<T>::get().
//    Exceptions from done-callbacks and initializers are caught and reported through
//    cfut::set_callback_error_handler() (default: a line on stderr), never propagated.
//  - Values travel through void * inside a box that carries a type tag (its std::type_info);
//    reading a value as another type throws std::logic_error instead of being undefined
//    behaviour. Bytes results carry a type hash likewise. (So: exceptions and RTTI on.)
//  - A task's value is destroyed on whichever thread drops the future's last reference, so
//    T's destructor must not care which thread it runs on.
//  - A Future<T> may only adopt (Future<T>::adopt) a C future whose value was set by this
//    header or through cfut_result_set_bytes; a foreign pointer value cannot be checked.
//  - Thread-pool submit/map take any callable. The *_bytes forms (and every ProcessPool call)
//    move only bytes: the callable, the arguments and the result must be trivially copyable
//    (checked by static_assert), so the same code runs on a thread pool or a process pool.

#ifndef CFUTURES_HPP
#define CFUTURES_HPP

#include "cfutures.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <ios>
#include <iterator>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>
#if __cplusplus >= 202002L && __has_include(<stop_token>)
#include <stop_token>
#if defined(__cpp_lib_jthread)
#define CFUT_HPP_HAS_STOP_TOKEN 1
#endif
#endif

namespace cfut {

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Base of every error this header throws: a cfut_status, the task's code, and a message.
class error : public std::runtime_error {
 public:
  error(cfut_status status, const char *message, std::int32_t code = 0)
      : std::runtime_error(message && *message ? message : cfut_status_str(status)),
        status_(status),
        code_(code) {}
  /// The C status (CFUT_TIMEOUT, CFUT_CANCELLED, ...).
  cfut_status status() const noexcept { return status_; }
  /// The status's constant name, e.g. "CFUT_TIMEOUT".
  const char *status_name() const noexcept { return cfut_status_name(status_); }
  /// The task's code (CFUT_TASK_FAILED), the signal (negative) or exit code
  /// (CFUT_WORKER_DIED), the initializer's code (CFUT_BROKEN); 0 otherwise.
  std::int32_t code() const noexcept { return code_; }

 private:
  cfut_status status_;
  std::int32_t code_;
};

/// The deadline passed first (Python's TimeoutError).
class timeout_error : public error {
 public:
  explicit timeout_error(const char *message = nullptr) : error(CFUT_TIMEOUT, message) {}
};
/// The future was cancelled (Python's CancelledError).
class cancelled_error : public error {
 public:
  explicit cancelled_error(const char *message = nullptr) : error(CFUT_CANCELLED, message) {}
};
/// Thrown by CancelToken::throw_if_stop_requested: a task that lets it escape ends
/// CANCELLED (its future's get() then throws cancelled_error).
class task_cancelled : public cancelled_error {
 public:
  explicit task_cancelled(const char *message = "the task was asked to stop") : cancelled_error(message) {}
};

/// Cooperative cancellation, seen from inside a task. A task callable whose first
/// parameter is a CancelToken (pool.submit([](cfut::CancelToken t, int n) { ... }, 5)) gets
/// one; it polls stop_requested() (cfut_result_cancel_requested: a load on thread pools,
/// a rate-limited look at the channel in process workers), then returns early after
/// acknowledge() or throws through throw_if_stop_requested(): either way its future ends
/// CANCELLED. Requests come from Future::request_cancel(), TaskGroup::cancel() (or its
/// first failure), or a map's timeout. Valid only during the task call, on its thread.
///
/// C++20: a thread-pool task (ThreadPool::submit, TaskGroup::submit) may take a
/// std::stop_token first instead; its stop is requested when cancellation is (the library
/// forwards the request through cfut_future_on_cancel_request), so std::stop_callback works
/// too. Such a task leaves by throwing task_cancelled (or returns normally). Process pools
/// and the bytes path take only CancelToken.
class CancelToken {
 public:
  explicit CancelToken(cfut_result *out) noexcept : out_(out) {}
  /// True once cancellation of this task was requested.
  bool stop_requested() const noexcept { return cfut_result_cancel_requested(out_); }
  /// Throws task_cancelled if a stop was requested (the task then ends CANCELLED).
  void throw_if_stop_requested() const {
    if (stop_requested()) throw task_cancelled();
  }
  /// The task ends CANCELLED whatever it returns (its value is discarded).
  void acknowledge() const noexcept { cfut_result_set_cancelled(out_); }
  /// The C sink, borrowed.
  cfut_result *capi() const noexcept { return out_; }

 private:
  cfut_result *out_;
};

/// The executor is broken: an initializer failed or workers could not start.
class broken_executor : public error {
 public:
  explicit broken_executor(const char *message = nullptr, std::int32_t code = 0)
      : error(CFUT_BROKEN, message, code) {}
};
/// Process pools: the worker process running the task died; code() is the negative signal
/// number or the exit code.
class worker_died : public error {
 public:
  explicit worker_died(const char *message = nullptr, std::int32_t code = 0)
      : error(CFUT_WORKER_DIED, message, code) {}
};
/// The executor was shut down and accepts no new work (Python's RuntimeError).
class shutdown_error : public error {
 public:
  explicit shutdown_error(const char *message = nullptr) : error(CFUT_SHUTDOWN, message) {}
};
/// A task failed without a C++ exception to rethrow: a C task's non-zero code, or a task of
/// a process pool / bytes path, whose exception could not cross (message = its what()).
class task_failed : public error {
 public:
  explicit task_failed(const char *message = nullptr, std::int32_t code = 0)
      : error(CFUT_TASK_FAILED, message, code) {}
};

/// A blocking wait that could never end: it would close a cycle of tasks waiting on each
/// other (a waits for b, b waits for a), or was made in a process-pool done-callback.
/// Thrown by get(), wait(), wait_for() and the collective waits instead of hanging.
class would_deadlock : public error {
 public:
  explicit would_deadlock(const char *message = nullptr) : error(CFUT_WOULD_DEADLOCK, message) {}
};

/// A bounded queue (max_queued) is full and the submit may not wait (WhenFull::reject).
class queue_full : public error {
 public:
  explicit queue_full(const char *message = nullptr) : error(CFUT_QUEUE_FULL, message) {}
};

/// Throws the typed error for a non-OK status.
[[noreturn]] inline void throw_status(cfut_status status, const char *message = nullptr,
                                      std::int32_t code = 0) {
  switch (status) {
    case CFUT_TIMEOUT: throw timeout_error(message);
    case CFUT_CANCELLED: throw cancelled_error(message);
    case CFUT_BROKEN: throw broken_executor(message, code);
    case CFUT_WORKER_DIED: throw worker_died(message, code);
    case CFUT_SHUTDOWN: throw shutdown_error(message);
    case CFUT_TASK_FAILED: throw task_failed(message, code);
    case CFUT_WOULD_DEADLOCK: throw would_deadlock(message);
    case CFUT_QUEUE_FULL: throw queue_full(message);
    case CFUT_NO_MEMORY: throw std::bad_alloc();
    default: throw error(status, message, code);
  }
}

/// The code a C++ task's future carries when the task threw (Python has no codes; the
/// exception itself is what get() rethrows).
inline constexpr std::int32_t exception_code = 1;

/// Receives exceptions thrown by done-callbacks and thread-pool initializers, which are
/// never propagated into the library. `where` says which ("done-callback", "initializer").
using callback_error_handler_t = std::function<void(std::exception_ptr, const char *where)>;

namespace detail {
inline std::mutex &handler_mutex() {
  static std::mutex m;
  return m;
}
inline callback_error_handler_t &handler_slot() {
  static callback_error_handler_t h;
  return h;
}
inline std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception &x) {
    return x.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}
}  // namespace detail

/// Installs a handler for exceptions escaping done-callbacks and initializers; returns the
/// previous one. An empty handler restores the default (one line on stderr). The handler
/// runs on the thread that ran the callback; an exception from the handler itself is dropped.
inline callback_error_handler_t set_callback_error_handler(callback_error_handler_t h) {
  std::lock_guard<std::mutex> lock(detail::handler_mutex());
  std::swap(detail::handler_slot(), h);
  return h;
}

namespace detail {
/// Reports an exception caught at the boundary. noexcept: it must never throw itself.
inline void report(std::exception_ptr e, const char *where) noexcept {
  try {
    callback_error_handler_t h;
    {
      std::lock_guard<std::mutex> lock(handler_mutex());
      h = handler_slot();
    }
    if (h) {
      h(e, where);
    } else {
      std::fprintf(stderr, "cfut: exception in %s ignored: %s\n", where, describe(e).c_str());
    }
  } catch (...) {
    std::fputs("cfut: exception in the callback error handler ignored\n", stderr);
  }
}

// ---------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------

/// A std::chrono duration as the library's nanoseconds: negative polls, huge waits forever.
template <class Rep, class Period>
inline std::uint64_t to_ns(const std::chrono::duration<Rep, Period> &d) noexcept {
  if (d <= d.zero()) return 0;
  // Compare in floating point first so that e.g. hours::max() cannot overflow the cast.
  const std::chrono::duration<long double, std::nano> f = d;
  if (f.count() >= 9.0e18L) return CFUT_FOREVER;
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}
inline std::uint64_t to_ns(const std::optional<std::chrono::nanoseconds> &d) noexcept {
  return d ? to_ns(*d) : CFUT_FOREVER;
}

// ---------------------------------------------------------------------------------------
// Type tags: every void * this header creates starts with a header naming its type.
// ---------------------------------------------------------------------------------------

inline constexpr std::uint64_t box_magic = 0x6366757462786f31ULL;  // "cfutbxo1"

/// The start of every box: the void * handed to the library is always a box_header *.
/// The tag is the std::type_info of the box type: its address usually decides, and
/// std::type_info's operator== also matches the same type seen from another shared object.
struct box_header {
  std::uint64_t magic;
  const std::type_info *tag;
  template <class Box>
  bool is() const noexcept {
    return magic == box_magic && (tag == &typeid(Box) || *tag == typeid(Box));
  }
};

template <class T>
struct value_box : box_header {
  T value;
  template <class... A>
  explicit value_box(std::in_place_t, A &&...a)
      : box_header{box_magic, &typeid(value_box)}, value(std::forward<A>(a)...) {}
  void *to_void() noexcept { return static_cast<box_header *>(this); }
  static void destroy(void *p) noexcept {
    delete static_cast<value_box *>(static_cast<box_header *>(p));
  }
};

struct error_box : box_header {
  std::exception_ptr error;
  explicit error_box(std::exception_ptr e)
      : box_header{box_magic, &typeid(error_box)}, error(std::move(e)) {}
  void *to_void() noexcept { return static_cast<box_header *>(this); }
  static void destroy(void *p) noexcept {
    delete static_cast<error_box *>(static_cast<box_header *>(p));
  }
};

/// The value box behind `p` if it is one of ours for T, else throws std::logic_error.
template <class T>
inline value_box<T> *checked_box(void *p) {
  if (p == nullptr) throw std::logic_error("cfut::Future::get: the task set no value");
  box_header *h = static_cast<box_header *>(p);
  if (h->magic != box_magic)
    throw std::logic_error("cfut::Future::get: the value was not set by cfutures.hpp");
  if (!h->is<value_box<T>>())
    throw std::logic_error("cfut::Future::get: the value was set as another type");
  return static_cast<value_box<T> *>(h);
}

/// A stable fingerprint of a type for the bytes path, the same in every process running the
/// same program (FNV-1a of the mangled name).
template <class T>
inline std::uint64_t type_hash() noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char *s = typeid(T).name(); *s; ++s) {
    h ^= static_cast<unsigned char>(*s);
    h *= 0x100000001b3ULL;
  }
  return h;
}

/// Records the in-flight exception on `out`: its what() as the message, and the
/// exception_ptr itself as the payload (thread pools; a process pool drops the payload).
inline void set_exception(cfut_result *out, std::exception_ptr e, bool with_payload) noexcept {
  try {
    const std::string what = describe(e);
    cfut_result_set_error(out, exception_code, what.c_str());
  } catch (...) {
    cfut_result_set_error(out, exception_code, "C++ exception (message unavailable)");
  }
  if (!with_payload) return;
  error_box *box = new (std::nothrow) error_box(std::move(e));
  if (box) cfut_result_set_error_payload(out, box->to_void(), &error_box::destroy);
}

/// The exception_ptr behind a payload if it is ours, else nullptr.
inline const std::exception_ptr *our_exception(void *payload) noexcept {
  if (!payload) return nullptr;
  box_header *h = static_cast<box_header *>(payload);
  if (!h->is<error_box>()) return nullptr;
  return &static_cast<error_box *>(h)->error;
}

template <class T>
using decay_result_t = std::remove_cv_t<std::remove_reference_t<T>>;

/// True when a task callable takes a CancelToken before its arguments.
template <class F, class... Args>
inline constexpr bool takes_token_v = std::is_invocable_v<F, CancelToken, Args...>;

#ifdef CFUT_HPP_HAS_STOP_TOKEN
/// C++20: true when a task callable takes a std::stop_token (and no CancelToken) first.
template <class F, class... Args>
inline constexpr bool takes_stop_token_v =
    !takes_token_v<F, Args...> && std::is_invocable_v<F, std::stop_token, Args...>;
#else
template <class F, class... Args>
inline constexpr bool takes_stop_token_v = false;
#endif

/// 0: plain arguments; 1: a CancelToken first; 2: a std::stop_token first.
template <class F, class... Args>
inline constexpr int token_kind_v = takes_token_v<F, Args...> ? 1 : takes_stop_token_v<F, Args...> ? 2 : 0;

template <int Kind, class F, class... Args>
struct call_result {
  using type = std::invoke_result_t<F, Args...>;
};
template <class F, class... Args>
struct call_result<1, F, Args...> {
  using type = std::invoke_result_t<F, CancelToken, Args...>;
};
#ifdef CFUT_HPP_HAS_STOP_TOKEN
template <class F, class... Args>
struct call_result<2, F, Args...> {
  using type = std::invoke_result_t<F, std::stop_token, Args...>;
};
#endif
/// What a task returns, decayed, whatever token it takes.
template <class F, class... Args>
using call_result_t = decay_result_t<typename call_result<token_kind_v<F, Args...>, F, Args...>::type>;

/// A thread-pool task's std::stop_source (C++20), requested when the library forwards a
/// cancellation request (cfut_future_on_cancel_request). Empty before C++20.
struct stop_holder {
#ifdef CFUT_HPP_HAS_STOP_TOKEN
  std::shared_ptr<std::stop_source> source;
#endif
};

/// Calls a task, handing it a CancelToken or std::stop_token first if it takes one
/// (`stop` is NULL on the bytes path, which refuses stop_token tasks).
template <class F, class... Args>
decltype(auto) call_task(cfut_result *out, const stop_holder *stop, F &&f, Args &&...a) {
  (void)stop;
  if constexpr (token_kind_v<F, Args...> == 1) {
    return std::invoke(std::forward<F>(f), CancelToken(out), std::forward<Args>(a)...);
#ifdef CFUT_HPP_HAS_STOP_TOKEN
  } else if constexpr (token_kind_v<F, Args...> == 2) {
    return std::invoke(std::forward<F>(f), stop->source->get_token(), std::forward<Args>(a)...);
#endif
  } else {
    (void)out;
    return std::invoke(std::forward<F>(f), std::forward<Args>(a)...);
  }
}

#ifdef CFUT_HPP_HAS_STOP_TOKEN
/// Forwards cancellation requests of `f`'s running task to `source`.
inline void bridge_stop(cfut_future *f, std::shared_ptr<std::stop_source> source) {
  using holder = std::shared_ptr<std::stop_source>;
  auto *arg = new holder(std::move(source));
  cfut_future_on_cancel_request(
      f, [](void *a) noexcept { (*static_cast<holder *>(a))->request_stop(); }, arg,
      [](void *a) noexcept { delete static_cast<holder *>(a); });
}
#endif

/// Before a thread-pool submit: gives a stop_token task its stop_source; returns a copy to
/// bridge once the future exists (after_submit).
template <class T>
stop_holder before_submit(T *t) {
  stop_holder keep;
#ifdef CFUT_HPP_HAS_STOP_TOKEN
  if constexpr (T::kind == 2) {
    t->stop.source = std::make_shared<std::stop_source>();
    keep.source = t->stop.source;
  }
#else
  (void)t;
#endif
  return keep;
}

inline void after_submit(cfut_future *f, stop_holder &keep) {
#ifdef CFUT_HPP_HAS_STOP_TOKEN
  if (keep.source) bridge_stop(f, std::move(keep.source));
#else
  (void)f;
  (void)keep;
#endif
}

/// Reads a trivially copyable T from bytes that may not be aligned.
template <class T>
inline T load(const void *p) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  alignas(T) unsigned char buf[sizeof(T)];
  std::memcpy(buf, p, sizeof(T));
  return *std::launder(reinterpret_cast<T *>(buf));
}

/// sizeof(T), 0 for void.
template <class T>
inline constexpr std::size_t size_of_v = sizeof(T);
template <>
inline constexpr std::size_t size_of_v<void> = 0;

/// A duration as an optional nanoseconds (empty = forever), saturating.
template <class Rep, class Period>
inline std::optional<std::chrono::nanoseconds> to_opt_ns(const std::chrono::duration<Rep, Period> &d) noexcept {
  const std::uint64_t ns = to_ns(d);
  if (ns == CFUT_FOREVER) return std::nullopt;
  return std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(ns));
}
}  // namespace detail

// ---------------------------------------------------------------------------------------
// Future
// ---------------------------------------------------------------------------------------

template <class T>
class Future;

/// What every Future<T> shares, whatever T: the handle, state queries and waits.
class FutureBase {
 public:
  /// An empty future (valid() is false). Most calls on it throw cfut::error(INVALID_ARGUMENT).
  FutureBase() noexcept = default;
  FutureBase(const FutureBase &o) noexcept : f_(cfut_future_retain(o.f_)) {}
  FutureBase(FutureBase &&o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  FutureBase &operator=(const FutureBase &o) noexcept {
    if (this != &o) {
      cfut_future *n = cfut_future_retain(o.f_);
      cfut_future_release(std::exchange(f_, n));
    }
    return *this;
  }
  FutureBase &operator=(FutureBase &&o) noexcept {
    if (this != &o) cfut_future_release(std::exchange(f_, std::exchange(o.f_, nullptr)));
    return *this;
  }
  ~FutureBase() { cfut_future_release(f_); }

  bool valid() const noexcept { return f_ != nullptr; }
  explicit operator bool() const noexcept { return valid(); }
  /// The C handle, borrowed.
  cfut_future *capi() const noexcept { return f_; }
  /// Gives up the reference: the caller must cfut_future_release it.
  cfut_future *capi_release() noexcept { return std::exchange(f_, nullptr); }

  /// Python's cancel(): true if the future is now cancelled (or already was); false if it
  /// runs or finished. Runs the done-callbacks on this thread.
  bool cancel() noexcept { return cfut_future_cancel(f_); }
  /// Cooperative cancellation (cfut_future_request_cancel): a pending task is cancelled
  /// (true); a running one is asked to stop through its CancelToken (false; it ends
  /// CANCELLED if it acknowledges); a done one is left alone (returns cancelled()).
  bool request_cancel() noexcept { return cfut_future_request_cancel(f_); }
  bool cancelled() const noexcept { return cfut_future_cancelled(f_); }
  bool running() const noexcept { return cfut_future_running(f_); }
  bool done() const noexcept { return cfut_future_done(f_); }

  /// Blocks until done (a result, an error or cancellation).
  void wait() const { check(cfut_future_wait(f_, CFUT_FOREVER)); }
  /// std::future_status::ready once done, or ::timeout.
  template <class Rep, class Period>
  std::future_status wait_for(const std::chrono::duration<Rep, Period> &d) const {
    const cfut_status s = cfut_future_wait(f_, detail::to_ns(d));
    if (s == CFUT_TIMEOUT) return std::future_status::timeout;
    check(s);
    return std::future_status::ready;
  }
  template <class Clock, class Duration>
  std::future_status wait_until(const std::chrono::time_point<Clock, Duration> &t) const {
    return wait_for(t - Clock::now());
  }

  /// Python's exception(timeout): nullptr if the task succeeded, else the exception get()
  /// would throw. Throws cancelled_error / timeout_error like Python.
  template <class Rep = std::int64_t, class Period = std::nano>
  std::exception_ptr exception(const std::chrono::duration<Rep, Period> &d =
                                   std::chrono::duration<Rep, Period>::max()) const {
    cfut_error e{};
    check(cfut_future_error(f_, detail::to_ns(d), &e));
    if (e.status == CFUT_OK) return nullptr;
    try {
      rethrow(e);
    } catch (...) {
      return std::current_exception();
    }
  }

 protected:
  explicit FutureBase(cfut_future *adopt) noexcept : f_(adopt) {}

  static void check(cfut_status s) {
    if (s != CFUT_OK) throw_status(s);
  }
  [[noreturn]] static void rethrow(const cfut_error &e) {
    if (const std::exception_ptr *x = detail::our_exception(e.payload)) std::rethrow_exception(*x);
    throw_status(e.status, e.message, e.code);
  }
  /// Waits up to `ns`; returns the outcome's (pointer, length) or throws its error.
  std::pair<const void *, std::size_t> outcome(std::uint64_t ns) const {
    const void *data = nullptr;
    std::size_t len = 0;
    const cfut_status s = cfut_future_result_bytes(f_, ns, &data, &len);
    if (s == CFUT_OK) return {data, len};
    // A failed task has details (and maybe our exception_ptr); so has a process-pool task
    // that hit its own time limit (CFUT_TIMEOUT on a future that is done).
    if (s == CFUT_TASK_FAILED || s == CFUT_WORKER_DIED || s == CFUT_BROKEN ||
        (s == CFUT_TIMEOUT && cfut_future_done(f_))) {
      cfut_error e{};
      if (cfut_future_error(f_, 0, &e) == CFUT_OK && e.status != CFUT_OK) rethrow(e);
    }
    throw_status(s);
  }

  cfut_future *f_ = nullptr;
};

/// A typed, shared handle to one C future (like std::shared_future): copies share the task.
/// get() returns T by value when T is trivially copyable, else a const T& that lives as long
/// as any copy of this future.
template <class T>
class Future : public FutureBase {
  static_assert(!std::is_reference_v<T>, "Future<T&> is not supported: return a value");

 public:
  using value_type = T;
  using get_type = std::conditional_t<std::is_trivially_copyable_v<T>, T, const T &>;

  Future() noexcept = default;
  /// Takes over one reference to `f` (e.g. from a C call's future_out).
  static Future adopt(cfut_future *f) noexcept { return Future(f); }
  /// Adds a reference to `f` (e.g. the borrowed future in a C callback).
  static Future borrow(cfut_future *f) noexcept { return Future(cfut_future_retain(f)); }

  /// Waits, then returns the value or rethrows the task's exception with its own type
  /// (cancelled_error, broken_executor, worker_died, task_failed for non-C++ failures).
  get_type get() const { return read(outcome(CFUT_FOREVER)); }
  /// get() with a deadline: throws timeout_error when it passes first.
  template <class Rep, class Period>
  get_type get_for(const std::chrono::duration<Rep, Period> &d) const {
    return read(outcome(detail::to_ns(d)));
  }
  template <class Clock, class Duration>
  get_type get_until(const std::chrono::time_point<Clock, Duration> &t) const {
    return get_for(t - Clock::now());
  }
  /// Waits, then moves the value out of the shared state (for move-only T such as
  /// std::unique_ptr). Other copies of this future then see a moved-from value.
  T take() {
    if constexpr (std::is_trivially_copyable_v<T>) {
      return get();
    } else {
      auto [data, len] = outcome(CFUT_FOREVER);
      if (len != 0) throw std::logic_error("cfut::Future::take: the task set bytes, not a value");
      return std::move(detail::checked_box<T>(const_cast<void *>(data))->value);
    }
  }

  /// Python's add_done_callback: `cb(future)` runs once the future is done, on the thread
  /// that completes (or cancels) it, or now on this thread if it is already done. Callbacks
  /// run in the order added. An exception from `cb` is reported, never propagated.
  void add_done_callback(std::function<void(Future)> cb) {
    auto *box = new std::function<void(Future)>(std::move(cb));
    check(cfut_future_add_done_callback(f_, &callback_trampoline, box, &callback_drop));
  }

 private:
  explicit Future(cfut_future *adopt) noexcept : FutureBase(adopt) {}

  static get_type read(std::pair<const void *, std::size_t> o) {
    if (o.second != 0) {
      if constexpr (std::is_trivially_copyable_v<T>) {
        // A bytes result: [type hash][T], written by a bytes task (thread or process pool).
        if (o.second != sizeof(std::uint64_t) + sizeof(T) ||
            detail::load<std::uint64_t>(o.first) != detail::type_hash<T>())
          throw std::logic_error("cfut::Future::get: the bytes result is of another type");
        return detail::load<T>(static_cast<const unsigned char *>(o.first) + sizeof(std::uint64_t));
      } else {
        throw std::logic_error("cfut::Future::get: the task set bytes, not a value");
      }
    }
    return detail::checked_box<T>(const_cast<void *>(o.first))->value;
  }

  static void callback_trampoline(cfut_future *f, void *arg) noexcept {
    try {
      (*static_cast<std::function<void(Future)> *>(arg))(Future::borrow(f));
    } catch (...) {
      detail::report(std::current_exception(), "done-callback");
    }
  }
  static void callback_drop(void *arg) noexcept {
    delete static_cast<std::function<void(Future)> *>(arg);
  }
};

/// A future with no value: get() waits and rethrows the task's exception.
template <>
class Future<void> : public FutureBase {
 public:
  using value_type = void;
  using get_type = void;

  Future() noexcept = default;
  static Future adopt(cfut_future *f) noexcept { return Future(f); }
  static Future borrow(cfut_future *f) noexcept { return Future(cfut_future_retain(f)); }

  void get() const { (void)outcome(CFUT_FOREVER); }
  template <class Rep, class Period>
  void get_for(const std::chrono::duration<Rep, Period> &d) const {
    (void)outcome(detail::to_ns(d));
  }
  template <class Clock, class Duration>
  void get_until(const std::chrono::time_point<Clock, Duration> &t) const {
    get_for(t - Clock::now());
  }
  void take() { get(); }

  void add_done_callback(std::function<void(Future)> cb) {
    auto *box = new std::function<void(Future)>(std::move(cb));
    check(cfut_future_add_done_callback(f_, &callback_trampoline, box, &callback_drop));
  }

 private:
  explicit Future(cfut_future *adopt) noexcept : FutureBase(adopt) {}
  static void callback_trampoline(cfut_future *f, void *arg) noexcept {
    try {
      (*static_cast<std::function<void(Future)> *>(arg))(Future::borrow(f));
    } catch (...) {
      detail::report(std::current_exception(), "done-callback");
    }
  }
  static void callback_drop(void *arg) noexcept {
    delete static_cast<std::function<void(Future)> *>(arg);
  }
};

// ---------------------------------------------------------------------------------------
// Tasks: the trampolines the library calls
// ---------------------------------------------------------------------------------------

namespace detail {

/// A thread-pool task: the decayed callable and arguments, run once on a worker.
template <class F, class... Args>
struct task {
  using R = call_result_t<F, Args...>;
  static constexpr int kind = token_kind_v<F, Args...>;
  F fn;
  std::tuple<Args...> args;
  stop_holder stop;

  static std::int32_t run(void *self, cfut_result *out) noexcept {
    task *t = static_cast<task *>(self);
    try {
      if constexpr (std::is_void_v<R>) {
        std::apply([&](Args &...a) { call_task(out, &t->stop, std::move(t->fn), std::move(a)...); }, t->args);
      } else {
        auto *box = new value_box<R>(
            std::in_place,
            std::apply([&](Args &...a) -> decltype(auto) { return call_task(out, &t->stop, std::move(t->fn), std::move(a)...); },
                       t->args));
        cfut_result_set_value(out, box->to_void(), &value_box<R>::destroy);
      }
      return 0;
    } catch (const task_cancelled &) {
      cfut_result_set_cancelled(out);
      return 0;
    } catch (...) {
      set_exception(out, std::current_exception(), true);
      return exception_code;
    }
  }
  static void destroy(void *self) noexcept { delete static_cast<task *>(self); }
};

// ----- the bytes path: trivially copyable callables, arguments and results -------------

template <class T>
inline constexpr bool is_bytes_safe_v =
    std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> && !std::is_member_pointer_v<T>;

template <class F, class... Args>
constexpr void check_bytes_signature() {
  static_assert(std::is_trivially_copyable_v<F>,
                "cfut bytes/process-pool task: the callable must be trivially copyable (a "
                "captureless lambda, or one capturing trivially copyable values by copy); for a "
                "plain function write submit<&fn>(args...)");
  static_assert(!std::is_pointer_v<F> && !std::is_member_pointer_v<F>,
                "cfut bytes/process-pool task: a function pointer means nothing in another "
                "process; write submit<&fn>(args...) instead");
  static_assert((std::is_trivially_copyable_v<Args> && ...),
                "cfut bytes/process-pool task: every argument must be trivially copyable "
                "(no std::string, std::vector, ...; pass fixed-size structs or arrays)");
  static_assert((!std::is_pointer_v<Args> && ...),
                "cfut bytes/process-pool task: a pointer argument means nothing in another process");
  static_assert(!takes_stop_token_v<const F &, Args &...>,
                "cfut bytes/process-pool task: a std::stop_token cannot reach another process; "
                "take a cfut::CancelToken instead");
  using R = call_result_t<const F &, Args &...>;
  static_assert(std::is_void_v<R> || std::is_trivially_copyable_v<R>,
                "cfut bytes/process-pool task: the result must be trivially copyable (or void)");
  static_assert(std::is_void_v<R> || !std::is_pointer_v<R>,
                "cfut bytes/process-pool task: a pointer result means nothing in another process");
}

/// Offsets of the callable and each argument in a packed input buffer.
template <class F, class... Args>
struct bytes_layout {
  static constexpr std::size_t sizes[] = {sizeof(F), sizeof(Args)...};
  static constexpr std::size_t total() {
    std::size_t n = 0;
    for (std::size_t s : sizes) n += s;
    return n;
  }
  static constexpr std::size_t offset(std::size_t i) {
    std::size_t n = 0;
    for (std::size_t k = 0; k < i; ++k) n += sizes[k];
    return n;
  }
};

/// Process-pool workers (SPAWN, FORKSERVER) run tasks before the host program's static
/// constructors, so std::cout and friends may not be constructed yet: every bytes task,
/// initializer and map item calls this first (after the first call, one guard check).
inline void ensure_iostreams() { static const std::ios_base::Init init; }

/// A task that runs on bytes only: input = [F][Args...], output = [type hash][R].
template <class F, class... Args>
struct bytes_task {
  using R = call_result_t<const F &, Args &...>;
  using layout = bytes_layout<F, Args...>;

  static std::vector<unsigned char> pack(const F &f, const Args &...args) {
    std::vector<unsigned char> buf(layout::total());
    std::memcpy(buf.data(), &f, sizeof(F));
    std::size_t i = 1;
    ((std::memcpy(buf.data() + layout::offset(i), &args, sizeof(Args)), ++i), ...);
    return buf;
  }

  template <std::size_t... I>
  static R call(const unsigned char *in, cfut_result *out, std::index_sequence<I...>) {
    const F f = load<F>(in);
    std::tuple<Args...> args{load<Args>(in + layout::offset(I + 1))...};
    return call_task(out, nullptr, f, std::get<I>(args)...);
  }

  static std::int32_t run(const void *input, std::size_t len, cfut_result *out) noexcept {
    if (len != layout::total()) {
      cfut_result_set_error(out, exception_code, "cfut bytes task: input of unexpected size");
      return exception_code;
    }
    try {
      ensure_iostreams();
      const unsigned char *in = static_cast<const unsigned char *>(input);
      if constexpr (std::is_void_v<R>) {
        call(in, out, std::index_sequence_for<Args...>{});
      } else {
        const R r = call(in, out, std::index_sequence_for<Args...>{});
        unsigned char buf[sizeof(std::uint64_t) + sizeof(R)];
        const std::uint64_t h = type_hash<R>();
        std::memcpy(buf, &h, sizeof h);
        std::memcpy(buf + sizeof h, &r, sizeof(R));
        const cfut_status s = cfut_result_set_bytes(out, buf, sizeof buf);
        if (s != CFUT_OK) {
          cfut_result_set_error(out, static_cast<std::int32_t>(s), "cfut_result_set_bytes failed");
          return static_cast<std::int32_t>(s);
        }
      }
      return 0;
    } catch (const task_cancelled &) {
      cfut_result_set_cancelled(out);
      return 0;
    } catch (...) {
      set_exception(out, std::current_exception(), false);
      return exception_code;
    }
  }
};

/// Adapts a function known at compile time (submit<&fn>) into an empty callable.
template <auto Fn>
struct static_fn {
  // SFINAE-friendly (trailing return type), so takes_token_v can ask about a CancelToken.
  template <class... A>
  auto operator()(A &&...a) const -> decltype(std::invoke(Fn, std::forward<A>(a)...)) {
    return std::invoke(Fn, std::forward<A>(a)...);
  }
};

}  // namespace detail

// ---------------------------------------------------------------------------------------
// Map
// ---------------------------------------------------------------------------------------

/// Options for map, mirroring cfut_map_options.
struct MapOptions {
  /// Items per task; 0 = chosen from the item count and the executor's workers.
  std::size_t chunksize = 0;
  /// Whole-map deadline counted from the map call; none by default.
  std::optional<std::chrono::nanoseconds> timeout;
  /// 0 = submit every chunk at once; else at most this many chunks ahead of the consumer.
  std::size_t max_in_flight = 0;

  cfut_map_options capi() const noexcept {
    cfut_map_options o;
    cfut_map_options_init(&o);
    o.chunksize = chunksize;
    o.timeout_ns = detail::to_ns(timeout);
    o.max_in_flight = max_in_flight;
    return o;
  }
};

namespace detail {

/// What a running map owns: everything the chunks read or write, kept at a stable address
/// until cfut_map_free has returned.
template <class R>
struct map_state_base {
  virtual ~map_state_base() = default;
  /// Rethrows item i's failure (status from cfut_map_next) in the most precise form.
  [[noreturn]] virtual void fail(std::size_t i, cfut_status s, const cfut_error &e) = 0;
  /// Moves item i's result out.
  virtual R take(std::size_t i) = 0;
};

template <class T>
struct result_slot {  // a thread-pool map's per-item outcome
  std::optional<T> value;
  std::exception_ptr error;
};
template <>
struct result_slot<void> {
  std::exception_ptr error;
};

/// Whether ThreadPool::map can run as a loop over a C: random access to lvalue items, and
/// a result that is void or can be default-built and then assigned from another thread
/// (not bool: std::vector<bool> packs bits, so neighbouring writes would race).
template <class Fn, class C, class = void>
struct loop_mappable : std::false_type {};
template <class Fn, class C>
struct loop_mappable<Fn, C, std::void_t<decltype(std::begin(std::declval<C &>())), decltype(std::end(std::declval<C &>()))>> {
  using It = decltype(std::begin(std::declval<C &>()));
  static constexpr bool items_ok =
      std::is_base_of_v<std::random_access_iterator_tag, typename std::iterator_traits<It>::iterator_category> &&
      std::is_lvalue_reference_v<decltype(*std::declval<It>())>;
  template <class E, class = void>
  struct result : std::false_type {};
  template <class E>
  struct result<E, std::enable_if_t<std::is_invocable_v<const Fn &, const E &>>> {
    using R = decay_result_t<std::invoke_result_t<const Fn &, const E &>>;
    static constexpr bool value = std::is_void_v<R> || (std::is_default_constructible_v<R> &&
                                                        std::is_move_assignable_v<R> && !std::is_same_v<R, bool>);
  };
  static constexpr bool value =
      items_ok && result<std::remove_cv_t<std::remove_reference_t<decltype(*std::declval<It>())>>>::value;
};
template <class Fn, class C>
inline constexpr bool loop_mappable_v = loop_mappable<Fn, C>::value;

/// The first failure of a map run as a loop: the lowest failing index wins, and ranges
/// starting after it are skipped.
struct loop_map_failure {
  std::atomic<std::size_t> stop{SIZE_MAX};
  std::mutex m;
  std::size_t index = SIZE_MAX;
  std::exception_ptr error;

  void record(std::size_t i, std::exception_ptr e) {
    std::lock_guard<std::mutex> g(m);
    if (i < index) {
      index = i;
      error = std::move(e);
      stop.store(i, std::memory_order_relaxed);
    }
  }
  void rethrow() {
    if (error) std::rethrow_exception(error);
  }
};

/// Thread-pool map: items are pointers into the (borrowed or owned) container, results
/// are result_slots, the callable is passed as a pointer (ctx_len == 0).
template <class F, class Holder, class Elem, class R>
struct pointer_map_state final : map_state_base<R> {
  F fn;
  Holder holder;  // owns the container for rvalue inputs (a no-op for lvalues)
  std::vector<const Elem *> items;
  std::vector<result_slot<R>> results;

  pointer_map_state(F f, Holder h) : fn(std::move(f)), holder(std::move(h)) {}

  static std::int32_t run(const void *ctx, const void *item, void *slot) noexcept {
    const auto *self = static_cast<const pointer_map_state *>(ctx);
    auto *out = static_cast<result_slot<R> *>(slot);
    const Elem &e = **static_cast<const Elem *const *>(item);
    try {
      if constexpr (std::is_void_v<R>) {
        std::invoke(self->fn, e);
      } else {
        out->value.emplace(std::invoke(self->fn, e));
      }
      return 0;
    } catch (...) {
      out->error = std::current_exception();
      return exception_code;
    }
  }
  [[noreturn]] void fail(std::size_t i, cfut_status s, const cfut_error &e) override {
    if (s == CFUT_TASK_FAILED && results[i].error) std::rethrow_exception(results[i].error);
    throw_status(s, e.message, e.code);
  }
  R take(std::size_t i) override {
    if constexpr (!std::is_void_v<R>) return std::move(*results[i].value);
  }
};

/// Bytes map (thread or process pool): the callable's bytes are the context (ctx_len > 0),
/// items and results are packed arrays of trivially copyable values.
template <class F, class Elem, class R>
struct bytes_map_state final : map_state_base<R> {
  std::vector<unsigned char> items;    // count * sizeof(Elem), packed
  std::vector<unsigned char> results;  // count * sizeof(R), unaligned reads via load<R>

  static std::int32_t run(const void *ctx, const void *item, void *slot) noexcept {
    try {
      ensure_iostreams();
      const F f = load<F>(ctx);
      const Elem e = load<Elem>(item);
      if constexpr (std::is_void_v<R>) {
        std::invoke(f, e);
      } else {
        const R r = std::invoke(f, e);
        std::memcpy(slot, &r, sizeof(R));
      }
      return 0;
    } catch (...) {
      return exception_code;  // a map item has no message channel: only the code crosses
    }
  }
  [[noreturn]] void fail(std::size_t, cfut_status s, const cfut_error &e) override {
    if (s == CFUT_TASK_FAILED && (!e.message || !*e.message))
      throw_status(s, "a map item threw a C++ exception (bytes map: only its code crosses)", e.code);
    throw_status(s, e.message, e.code);
  }
  R take(std::size_t i) override {
    if constexpr (!std::is_void_v<R>) return load<R>(results.data() + i * sizeof(R));
  }
};

}  // namespace detail

namespace detail {
/// An input iterator over a range whose next() returns a std::optional<T>, empty at the end.
/// Advancing it may throw whatever next() throws.
template <class Range, class T>
class next_iterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using pointer = T *;
  using reference = T &;
  next_iterator() = default;
  explicit next_iterator(Range *r) : r_(r) { ++*this; }
  T &operator*() { return *cur_; }
  T *operator->() { return &*cur_; }
  next_iterator &operator++() {
    cur_ = r_->next();
    if (!cur_) r_ = nullptr;
    return *this;
  }
  void operator++(int) { ++*this; }
  friend bool operator==(const next_iterator &a, const next_iterator &b) { return a.r_ == b.r_; }
  friend bool operator!=(const next_iterator &a, const next_iterator &b) { return a.r_ != b.r_; }

 private:
  Range *r_ = nullptr;
  std::optional<T> cur_;
};
}  // namespace detail

/// A running map, consumed in input order (Python's map iterator). Move-only; its
/// destructor cancels the chunks not started and waits for running ones.
template <class R>
class MapRange {
 public:
  MapRange(MapRange &&o) noexcept
      : state_(std::move(o.state_)), m_(std::exchange(o.m_, nullptr)), count_(o.count_),
        next_(o.next_), finished_(o.finished_) {}
  MapRange &operator=(MapRange &&o) noexcept {
    if (this != &o) {
      cfut_map_free(m_);
      state_ = std::move(o.state_);
      m_ = std::exchange(o.m_, nullptr);
      count_ = o.count_;
      next_ = o.next_;
      finished_ = o.finished_;
    }
    return *this;
  }
  MapRange(const MapRange &) = delete;
  MapRange &operator=(const MapRange &) = delete;
  ~MapRange() { cfut_map_free(m_); }  // before state_ goes: running chunks write into it

  std::size_t size() const noexcept { return count_; }
  /// The chunk size the map uses after automatic sizing.
  std::size_t chunksize() const noexcept { return cfut_map_chunksize(m_); }
  cfut_map *capi() const noexcept { return m_; }

  /// The next result in input order, or nullopt at the end (void maps: true / false).
  /// Throws the item's exception (its own type on thread pools), or timeout_error once the
  /// whole-map deadline passed (the rest is then cancelled).
  std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> next() {
    if (finished_) return {};
    std::size_t i = 0;
    cfut_error e{};
    const cfut_status s = cfut_map_next(m_, &i, &e);
    if (s == CFUT_EXHAUSTED) {
      finished_ = true;
      return {};
    }
    if (s == CFUT_TIMEOUT) {
      finished_ = true;
      throw timeout_error();
    }
    if (s == CFUT_INVALID_ARGUMENT) throw_status(s);
    next_ = i + 1;
    if (s != CFUT_OK) state_->fail(i, s, e);
    if constexpr (std::is_void_v<R>) {
      return true;
    } else {
      return state_->take(i);
    }
  }

  /// An input iterator; advancing it may throw (see next()).
  using iterator = detail::next_iterator<MapRange, R>;
  iterator begin() {
    static_assert(!std::is_void_v<R>, "iterate a void map with next()");
    return iterator(this);
  }
  iterator end() { return iterator(); }

  /// Collects every remaining result (stops at the first failure, which it throws).
  auto collect() {
    if constexpr (std::is_void_v<R>) {
      while (next()) {
      }
    } else {
      std::vector<R> out;
      out.reserve(count_ - next_);
      while (auto r = next()) out.push_back(std::move(*r));
      return out;
    }
  }

 private:
  friend class Executor;
  MapRange(std::unique_ptr<detail::map_state_base<R>> st, cfut_map *m, std::size_t count) noexcept
      : state_(std::move(st)), m_(m), count_(count) {}

  std::unique_ptr<detail::map_state_base<R>> state_;
  cfut_map *m_ = nullptr;
  std::size_t count_ = 0;
  std::size_t next_ = 0;
  bool finished_ = false;
};

// ---------------------------------------------------------------------------------------
// Executors
// ---------------------------------------------------------------------------------------

/// What a submit does when a bounded queue (max_queued) is full (cfut's `when_full`).
enum class WhenFull : std::uint32_t {
  /// Wait for room (the default).
  block = CFUT_WHEN_FULL_BLOCK,
  /// Throw cfut::queue_full (submit) / return an empty optional (try_submit).
  reject = CFUT_WHEN_FULL_REJECT,
  /// Thread pools: run the task on the submitting thread (a process pool refuses it).
  caller_runs = CFUT_WHEN_FULL_CALLER_RUNS,
};

/// An executor's counters (cfut_executor_stats): exact once the pool is quiet.
struct ExecutorStats {
  std::uint32_t workers = 0, idle_workers = 0;  ///< alive now, and of those idle
  std::uint64_t queued = 0, running = 0;        ///< now
  std::uint64_t submitted = 0, completed = 0, failed = 0, cancelled = 0, rejected = 0;  ///< since creation
  std::uint64_t peak_queued = 0, worker_restarts = 0;
};

/// Told about each failure nobody read (cfut_set_unobserved_error_hook): the error get()
/// would have thrown, as a cfut::error (status(), code(), what()). Runs on the thread that
/// drops the future's last reference (often a worker); it must not block or wait on futures.
using unobserved_error_hook_t = std::function<void(const error &)>;

namespace detail {
inline std::mutex &unobserved_mutex() {
  static std::mutex m;
  return m;
}
inline std::shared_ptr<const unobserved_error_hook_t> &unobserved_slot() {
  static std::shared_ptr<const unobserved_error_hook_t> h;
  return h;
}
inline void unobserved_trampoline(void *, const cfut_error *e) noexcept {
  try {
    std::shared_ptr<const unobserved_error_hook_t> h;
    {
      std::lock_guard<std::mutex> lock(unobserved_mutex());
      h = unobserved_slot();
    }
    if (h && *h && e) (*h)(error(e->status, e->message, e->code));
  } catch (...) {
    report(std::current_exception(), "unobserved-error hook");
  }
}
}  // namespace detail

/// Installs the process-wide hook for failures nobody read (an empty function removes it);
/// returns the previous one. An exception from the hook goes to the callback error handler.
inline unobserved_error_hook_t set_unobserved_error_hook(unobserved_error_hook_t h) {
  auto next = h ? std::make_shared<const unobserved_error_hook_t>(std::move(h)) : nullptr;
  std::shared_ptr<const unobserved_error_hook_t> prev;
  {
    std::lock_guard<std::mutex> lock(detail::unobserved_mutex());
    prev = std::exchange(detail::unobserved_slot(), next);
  }
  cfut_set_unobserved_error_hook(next ? &detail::unobserved_trampoline : nullptr, nullptr);
  return prev ? *prev : unobserved_error_hook_t{};
}

/// What thread and process pools share: ownership of one cfut_executor, shutdown, and the
/// bytes-only submit/map that run unchanged on both kinds.
class Executor {
 public:
  Executor(const Executor &) = delete;
  Executor &operator=(const Executor &) = delete;
  Executor(Executor &&o) noexcept : ex_(std::exchange(o.ex_, nullptr)) {}
  Executor &operator=(Executor &&o) noexcept {
    if (this != &o) {
      cfut_executor_free(ex_);
      ex_ = std::exchange(o.ex_, nullptr);
    }
    return *this;
  }
  /// shutdown(wait = true), then frees the executor. Futures handed out stay valid.
  ~Executor() { cfut_executor_free(ex_); }

  /// Python's shutdown(wait, cancel_futures). Idempotent. From one of the pool's own
  /// workers, wait = true throws cfut::error(CFUT_WOULD_DEADLOCK) after shutting down.
  void shutdown(bool wait = true, bool cancel_futures = false) {
    const cfut_status s = cfut_executor_shutdown(ex_, wait, cancel_futures);
    if (s != CFUT_OK) throw_status(s);
  }
  std::uint32_t max_workers() const noexcept { return cfut_executor_max_workers(ex_); }
  /// The executor's counters (cfut_executor_stats_get).
  ExecutorStats stats() const {
    cfut_executor_stats s;
    std::memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    check(cfut_executor_stats_get(ex_, &s));
    ExecutorStats r;
    r.workers = s.workers;
    r.idle_workers = s.idle_workers;
    r.queued = s.queued;
    r.running = s.running;
    r.submitted = s.submitted;
    r.completed = s.completed;
    r.failed = s.failed;
    r.cancelled = s.cancelled;
    r.rejected = s.rejected;
    r.peak_queued = s.peak_queued;
    r.worker_restarts = s.worker_restarts;
    return r;
  }
  cfut_executor *capi() const noexcept { return ex_; }
  /// Gives up ownership: the caller must cfut_executor_free the handle.
  cfut_executor *capi_release() noexcept { return std::exchange(ex_, nullptr); }

  /// Runs `f(args...)` where only bytes may travel (any executor kind, e.g. a process
  /// pool): `f`, `args` and the result must be trivially copyable. An exception from `f`
  /// comes back as cfut::task_failed carrying its what().
  template <class F, class... Args>
  auto submit_bytes(F f, Args... args) -> Future<typename detail::bytes_task<F, Args...>::R> {
    detail::check_bytes_signature<F, Args...>();
    using T = detail::bytes_task<F, Args...>;
    using R = typename T::R;
    const std::vector<unsigned char> in = T::pack(f, args...);
    cfut_future *out = nullptr;
    check_with_reason(cfut_executor_submit_bytes(ex_, &T::run, in.data(), in.size(), &out));
    return Future<R>::adopt(out);
  }
  /// submit_bytes for a function known at compile time: pool.submit_bytes<&fn>(args...).
  template <auto Fn, class... Args>
  auto submit_bytes(Args... args) {
    return submit_bytes(detail::static_fn<Fn>{}, args...);
  }

  /// submit_bytes that waits at most `timeout` for room in a bounded queue (max_queued),
  /// whatever when_full says, then returns an empty optional (nothing was queued).
  template <class Rep, class Period, class F, class... Args>
  auto try_submit_bytes(std::chrono::duration<Rep, Period> timeout, F f, Args... args)
      -> std::optional<Future<typename detail::bytes_task<F, Args...>::R>> {
    detail::check_bytes_signature<F, Args...>();
    using T = detail::bytes_task<F, Args...>;
    using R = typename T::R;
    const std::vector<unsigned char> in = T::pack(f, args...);
    cfut_future *out = nullptr;
    const cfut_status s = cfut_executor_try_submit_bytes(ex_, &T::run, in.data(), in.size(), detail::to_ns(timeout), &out);
    if (s == CFUT_QUEUE_FULL) return std::nullopt;
    check_with_reason(s);
    return Future<R>::adopt(out);
  }

  /// A lazy map where only bytes travel: `f(item)` over the container's items, chunked,
  /// results in input order. Items and results are copied into packed arrays.
  template <class F, class Container>
  auto map_bytes_lazy(F f, const Container &items, const MapOptions &opts = {}) {
    // The element type by value (std::vector<bool> and other proxy ranges included).
    using Elem = std::remove_cv_t<typename std::iterator_traits<decltype(std::begin(items))>::value_type>;
    detail::check_bytes_signature<F, Elem>();
    using R = detail::decay_result_t<std::invoke_result_t<const F &, Elem &>>;
    auto st = std::make_unique<detail::bytes_map_state<F, Elem, R>>();
    std::size_t n = 0;
    for (auto it = std::begin(items); it != std::end(items); ++it, ++n) {
      const Elem e = *it;
      st->items.resize((n + 1) * sizeof(Elem));
      std::memcpy(st->items.data() + n * sizeof(Elem), &e, sizeof(Elem));
    }
    constexpr std::size_t rsize = detail::size_of_v<R>;
    st->results.resize(n * rsize);
    const cfut_map_options o = opts.capi();
    cfut_map *m = nullptr;
    check_with_reason(cfut_executor_map(ex_, &detail::bytes_map_state<F, Elem, R>::run, &f, sizeof(F),
                            st->items.data(), n, sizeof(Elem), n && rsize ? st->results.data() : nullptr,
                            n ? rsize : 0, &o, &m));
    return MapRange<R>(std::move(st), m, n);
  }
  /// The eager form: every result in input order (void for a void callable).
  template <class F, class Container>
  auto map_bytes(F f, const Container &items, const MapOptions &opts = {}) {
    return map_bytes_lazy(f, items, opts).collect();
  }

 protected:
  Executor() noexcept = default;
  explicit Executor(cfut_executor *ex) noexcept : ex_(ex) {}
  static void check(cfut_status s) {
    if (s != CFUT_OK) throw_status(s);
  }
  /// check(), with the library's recorded reason for the statuses that come with one
  /// (a task function a worker process cannot locate, a broken process pool).
  static void check_with_reason(cfut_status s) {
    if (s == CFUT_OK) return;
    throw_status(s, s == CFUT_UNSUPPORTED || s == CFUT_BROKEN ? last_error_message() : nullptr);
  }
  /// The library's reason for the last failure on this thread, where it records one.
  static const char *last_error_message() noexcept {
#if defined(CFUT_START_SPAWN)
    return cfut_last_error_message();
#else
    return nullptr;
#endif
  }
  template <class T>
  static Future<T> adopt(cfut_future *f) noexcept {
    return Future<T>::adopt(f);
  }
  template <class R>
  static MapRange<R> make_range(std::unique_ptr<detail::map_state_base<R>> st, cfut_map *m,
                                std::size_t n) noexcept {
    return MapRange<R>(std::move(st), m, n);
  }

  cfut_executor *ex_ = nullptr;
};

/// Options for ThreadPool, mirroring cfut_thread_pool_options.
struct ThreadPoolOptions {
  /// 0 = min(32, available CPUs + 4), Python's default.
  std::uint32_t max_workers = 0;
  /// Workers are named "<prefix>_<i>"; empty = "cfut-N".
  std::string thread_name_prefix;
  /// Runs on each new worker before its first task; throwing breaks the pool (queued and
  /// later futures fail with broken_executor). The exception is reported, not propagated.
  std::function<void()> initializer;
  /// Deadlock-proof waits: a task's get() / wait on a pending future of its own pool runs
  /// that task inline on the waiting worker (a one-worker pool whose task submits and waits
  /// then completes at once). A timeout does not interrupt a task run inline. false waits as
  /// CPython does. Either way a wait that would close a cycle of waiting tasks throws
  /// would_deadlock.
  bool inline_waits = true;
  /// Tasks accepted but not started, at most (map chunks count); 0 = unbounded.
  std::uint32_t max_queued = 0;
  /// What submit does when max_queued tasks wait: block (wait for room), reject (throw
  /// cfut::queue_full), caller_runs (run it on the submitting thread). A worker's own
  /// submit never waits (the task runs inline there).
  WhenFull when_full = WhenFull::block;
  /// An idle worker exits after this long; empty = never. Workers start again on demand.
  std::optional<std::chrono::nanoseconds> idle_timeout{};
  /// Runs on each worker thread as it exits, after its last task, once per thread (idle
  /// retirement, shutdown): detach the thread from runtimes here. An exception is reported
  /// to the callback error handler, never propagated.
  std::function<void()> on_worker_exit{};
  /// Waiting threads help: a get() / wait from any thread that is not one of this pool's
  /// workers, on a task of this pool that has not started, runs it on the waiting thread
  /// (the worker that dequeues it later skips it). A caller that submits and then waits
  /// gets its result without two cross-core hand-offs. Tasks may then run on any waiting
  /// thread, not only on workers (no initializer state there), and a timeout does not
  /// interrupt a task a wait started. Off by default, as in CPython.
  bool inline_waits_any_thread = false;
};

/// Python's ThreadPoolExecutor. Move-only; the destructor shuts down and waits.
class ThreadPool : public Executor {
 public:
  /// The default pool: min(32, CPUs + 4) workers.
  ThreadPool() : ThreadPool(ThreadPoolOptions{}) {}
  /// A pool of `max_workers` workers (0 = the default).
  explicit ThreadPool(std::uint32_t max_workers) : ThreadPool(ThreadPoolOptions{max_workers, {}, {}}) {}
  explicit ThreadPool(ThreadPoolOptions opts) {
    cfut_thread_pool_options o;
    cfut_thread_pool_options_init(&o);
    o.max_workers = opts.max_workers;
    o.inline_waits = opts.inline_waits;
    o.inline_waits_any_thread = opts.inline_waits_any_thread;
    if (!opts.thread_name_prefix.empty()) o.thread_name_prefix = opts.thread_name_prefix.c_str();
    if (opts.initializer) {
      // Must outlive the pool's workers: owned here, freed after cfut_executor_free.
      init_ = std::make_unique<std::function<void()>>(std::move(opts.initializer));
      o.initializer = &initializer_trampoline;
      o.initializer_arg = init_.get();
    }
    o.max_queued = opts.max_queued;
    o.when_full = static_cast<std::uint32_t>(opts.when_full);
    if (opts.idle_timeout) o.idle_timeout_ns = std::max<std::uint64_t>(1, detail::to_ns(*opts.idle_timeout));
    if (opts.on_worker_exit) {
      exit_ = std::make_unique<std::function<void()>>(std::move(opts.on_worker_exit));
      o.on_worker_exit = &exit_trampoline;
      o.on_worker_exit_arg = exit_.get();
    }
    check(cfut_thread_pool_new(&o, &ex_));
  }
  ThreadPool(ThreadPool &&) noexcept = default;
  ThreadPool &operator=(ThreadPool &&o) noexcept {
    if (this != &o) {
      Executor::operator=(std::move(o));  // frees our executor first
      init_ = std::move(o.init_);
      exit_ = std::move(o.exit_);
    }
    return *this;
  }
  ~ThreadPool() {
    cfut_executor_free(std::exchange(ex_, nullptr));  // workers gone before init_ is freed
  }

  /// Python's submit: runs std::invoke(f, args...) on a worker. Any callable: lambdas with
  /// captures, function pointers, member function pointers with an object (pointer,
  /// reference_wrapper or copy). `f` and `args` are decay-copied (moved for rvalues);
  /// move-only results work. Throws shutdown_error / broken_executor if refused, and
  /// queue_full for a full bounded queue with WhenFull::reject.
  template <class F, class... Args>
  auto submit(F &&f, Args &&...args) -> Future<typename detail::task<std::decay_t<F>, std::decay_t<Args>...>::R> {
    using T = detail::task<std::decay_t<F>, std::decay_t<Args>...>;
    using R = typename T::R;
    auto *t = new T{std::forward<F>(f), std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...), {}};
    detail::stop_holder keep = detail::before_submit(t);
    cfut_future *out = nullptr;
    const cfut_status s = cfut_executor_submit(ex_, &T::run, t, &T::destroy, &out);
    if (s == CFUT_QUEUE_FULL) T::destroy(t);  // refused by a full bounded queue: still ours
    check(s);  // t is the library's now (an error other than QUEUE_FULL destroyed it)
    detail::after_submit(out, keep);
    return adopt<R>(out);
  }

  /// submit that waits at most `timeout` for room in a bounded queue (max_queued),
  /// whatever when_full says; a full queue then gives an empty optional. `f` and `args`
  /// are copied into the task, so on an empty result the caller still owns them untouched
  /// (answer "busy", retry later). From one of the pool's own workers it never waits.
  template <class Rep, class Period, class F, class... Args>
  auto try_submit(std::chrono::duration<Rep, Period> timeout, const F &f, const Args &...args)
      -> std::optional<Future<typename detail::task<F, Args...>::R>> {
    static_assert(std::is_copy_constructible_v<F> && (std::is_copy_constructible_v<Args> && ...),
                  "cfut::ThreadPool::try_submit copies the callable and arguments (the caller keeps "
                  "them when the queue is full): they must be copyable");
    using T = detail::task<F, Args...>;
    using R = typename T::R;
    auto *t = new T{f, std::tuple<Args...>(args...), {}};
    detail::stop_holder keep = detail::before_submit(t);
    cfut_future *out = nullptr;
    const cfut_status s = cfut_executor_try_submit(ex_, &T::run, t, &T::destroy, detail::to_ns(timeout), &out);
    if (s == CFUT_QUEUE_FULL) {
      T::destroy(t);  // still ours: the library never took it
      return std::nullopt;
    }
    check(s);  // any other failure: the library already destroyed t
    detail::after_submit(out, keep);
    return adopt<R>(out);
  }

  /// A lazy map: `f(item)` for each item of `items`, chunked, yielding results in input
  /// order (Python's executor.map). `f` is called concurrently from several workers (as
  /// const). An rvalue container is moved into the range; an lvalue one must outlive it.
  template <class F, class Container>
  auto map_lazy(F &&f, Container &&items, const MapOptions &opts = {}) {
    using C = std::remove_reference_t<Container>;
    if constexpr (!std::is_lvalue_reference_v<decltype(*std::begin(std::declval<C &>()))>) {
      // A proxy range (std::vector<bool>, a generator): items have no address to hand to
      // the workers, so they are copied into a deque (stable, and a real container of bool).
      using V = std::remove_cv_t<typename std::iterator_traits<decltype(std::begin(items))>::value_type>;
      return map_lazy(std::forward<F>(f), std::deque<V>(std::begin(items), std::end(items)), opts);
    } else {
      return map_lvalues(std::forward<F>(f), std::forward<Container>(items), opts);
    }
  }
  /// The eager map: a std::vector of every result in input order (void for a void
  /// callable). Throws the first failing item's exception (the lowest index), with its own
  /// type, or timeout_error; the rest of the map is then cancelled. Every item before the
  /// failing one ran; items after it may or may not have.
  ///
  /// On a random-access container of non-void-or-default-constructible results (not bool),
  /// without a timeout or max_in_flight, on a pool without an initializer whose max_workers
  /// is at least the machine's CPUs (the default pool), the map runs as a parallel_for over
  /// the indices: `f` is inlined into the loop over each range, results are written straight
  /// into the vector, and the calling thread works too (it never runs more items at once
  /// than max_workers). chunksize is then the loop's grain. Otherwise it is
  /// map_lazy(...).collect().
  template <class F, class Container>
  auto map(F &&f, Container &&items, const MapOptions &opts = {}) {
    using Fn = std::decay_t<F>;
    using C = std::remove_reference_t<Container>;
    if constexpr (detail::loop_mappable_v<Fn, C>) {
      if (std::begin(items) != std::end(items) && loop_map_fits(opts)) {
        return map_loop(static_cast<const Fn &>(f), items, opts.chunksize);
      }
    }
    return map_lazy(std::forward<F>(f), std::forward<Container>(items), opts).collect();
  }

  /// A parallel loop over [begin, end) (cfut_parallel_for; defined below, "Parallel loops").
  template <class F>
  void parallel_for(std::size_t begin, std::size_t end, F &&f, std::size_t grain = 0);

 private:
  template <class F, class Container>
  auto map_lvalues(F &&f, Container &&items, const MapOptions &opts) {
    using C = std::remove_reference_t<Container>;
    using Elem = std::remove_cv_t<std::remove_reference_t<decltype(*std::begin(std::declval<C &>()))>>;
    using Fn = std::decay_t<F>;
    using R = detail::decay_result_t<std::invoke_result_t<const Fn &, const Elem &>>;
    using Holder = std::conditional_t<std::is_lvalue_reference_v<Container>, C *, std::unique_ptr<C>>;
    Holder h;
    if constexpr (std::is_lvalue_reference_v<Container>) {
      h = &items;
    } else {
      h = std::make_unique<C>(std::move(items));
    }
    using State = detail::pointer_map_state<Fn, Holder, Elem, R>;
    auto st = std::make_unique<State>(std::forward<F>(f), std::move(h));
    for (const auto &e : *st->holder) st->items.push_back(&e);
    const std::size_t n = st->items.size();
    st->results.resize(n);
    const cfut_map_options o = opts.capi();
    cfut_map *m = nullptr;
    // (An empty map passes no results array: the C API refuses NULL results with a size.)
    check(cfut_executor_map(ex_, &State::run, st.get(), 0, st->items.data(), n,
                            sizeof(const Elem *), n ? st->results.data() : nullptr,
                            n ? sizeof(detail::result_slot<R>) : 0, &o, &m));
    return make_range<R>(std::move(st), m, n);
  }

  // The eager map as a loop keeps map's guarantees only where the caller joining the
  // workers changes nothing a task can see: no initializer (per-thread state the caller
  // lacks), and at least as many workers as CPUs (parallel_for runs at most min(CPUs,
  // max_workers + 1) threads, so never more items at once than max_workers).
  bool loop_map_fits(const MapOptions &opts) const noexcept {
    const unsigned cpus = std::thread::hardware_concurrency();
    return !opts.timeout && opts.max_in_flight == 0 && !init_ && cpus != 0 && max_workers() >= cpus;
  }

  template <class Fn, class C>
  auto map_loop(const Fn &f, C &items, std::size_t grain) {
    using Elem = std::remove_cv_t<std::remove_reference_t<decltype(*std::begin(items))>>;
    using R = detail::decay_result_t<std::invoke_result_t<const Fn &, const Elem &>>;
    using Diff = typename std::iterator_traits<decltype(std::begin(items))>::difference_type;
    const auto first = std::begin(items);
    const auto n = static_cast<std::size_t>(std::distance(first, std::end(items)));
    detail::loop_map_failure fail;
    // Results go straight into the vector (none for a void callable).
    std::vector<std::conditional_t<std::is_void_v<R>, char, R>> out(std::is_void_v<R> ? 0 : n);
    auto *o = out.data();
    parallel_for(0, n, [&](std::size_t b, std::size_t e) {
      if (b >= fail.stop.load(std::memory_order_relaxed)) return;  // after a failure: skip
      std::size_t i = b;
      try {
        for (; i < e; ++i) {
          const Elem &x = first[static_cast<Diff>(i)];
          if constexpr (std::is_void_v<R>) {
            std::invoke(f, x);
          } else {
            o[i] = std::invoke(f, x);
          }
        }
      } catch (...) {
        fail.record(i, std::current_exception());
      }
    }, grain);
    fail.rethrow();
    if constexpr (!std::is_void_v<R>) return out;
  }

  static std::int32_t initializer_trampoline(void *arg) noexcept {
    try {
      (*static_cast<std::function<void()> *>(arg))();
      return 0;
    } catch (...) {
      detail::report(std::current_exception(), "initializer");
      return exception_code;
    }
  }
  static void exit_trampoline(void *arg) noexcept {
    try {
      (*static_cast<std::function<void()> *>(arg))();
    } catch (...) {
      detail::report(std::current_exception(), "on_worker_exit");
    }
  }
  std::unique_ptr<std::function<void()>> init_;
  std::unique_ptr<std::function<void()>> exit_;
};

#if defined(CFUT_REPLACE_WORKER) && defined(CFUT_START_SPAWN)
#define CFUT_HPP_HAS_PROCESS_POOL 1
/// Options for ProcessPool, mirroring cfut_process_pool_options.
struct ProcessPoolOptions {
  /// Worker processes at most; 0 = the number of available CPUs.
  std::uint32_t max_workers = 0;
  /// 0 = unlimited; else a worker is replaced after this many tasks (map chunks count one).
  std::uint32_t max_tasks_per_child = 0;
  /// Per task, from the moment a worker takes it: the worker is killed and replaced and
  /// the future fails with timeout_error. Empty = no limit.
  std::optional<std::chrono::nanoseconds> task_timeout;
  /// CFUT_REPLACE_WORKER (default: only the dead worker's future fails, as worker_died)
  /// or CFUT_BREAK_POOL (CPython: the pool breaks).
  std::uint32_t on_worker_death = CFUT_REPLACE_WORKER;
  /// CFUT_START_SPAWN (default: a fresh re-executed process), CFUT_START_FORKSERVER (a
  /// fresh fork server forks the workers: faster starts and replacements) or
  /// CFUT_START_FORK (workers forked from the host; see the hazards in cfutures.h).
  /// Under SPAWN and FORKSERVER tasks run before this program's static constructors: the
  /// wrapper constructs the standard streams (std::cout works), but other globals with
  /// dynamic initialisation are still unset; construct what tasks need in the initializer.
  std::uint32_t start_method = CFUT_START_SPAWN;
  /// SPAWN only: the program workers run; empty = this executable (what lets functions of
  /// the main executable run in workers).
  std::string worker_exe;
  /// Runs once in each new worker before its first task (see set_initializer); a failure
  /// (exception, crash) breaks the pool.
  cfut_bytes_fn initializer = nullptr;
  std::vector<unsigned char> initializer_input;
  /// Tasks accepted but not yet sent to a worker, at most; 0 = unbounded.
  std::uint32_t max_queued = 0;
  /// block (default) or reject; caller_runs is refused (throws cfut::error,
  /// CFUT_INVALID_ARGUMENT).
  WhenFull when_full = WhenFull::block;

  /// The initializer as a bytes task: `f(args...)` in each new worker; `f` and `args`
  /// trivially copyable (as for ProcessPool::submit).
  template <class F, class... Args>
  ProcessPoolOptions &set_initializer(F f, Args... args) {
    detail::check_bytes_signature<F, Args...>();
    initializer = &detail::bytes_task<F, Args...>::run;
    initializer_input = detail::bytes_task<F, Args...>::pack(f, args...);
    return *this;
  }
  template <auto Fn, class... Args>
  ProcessPoolOptions &set_initializer(Args... args) {
    return set_initializer(detail::static_fn<Fn>{}, args...);
  }
};

/// Python's ProcessPoolExecutor: tasks run in worker processes, and a crashing task fails
/// only its own future (worker_died). Only bytes cross: submit/map accept trivially
/// copyable callables (captureless lambdas, lambdas capturing values, submit<&fn>),
/// arguments and results, and a static_assert says so otherwise. An exception thrown by a
/// task comes back as cfut::task_failed carrying its what(). Move-only; the destructor
/// shuts down and waits.
class ProcessPool : public Executor {
 public:
  ProcessPool() : ProcessPool(ProcessPoolOptions{}) {}
  explicit ProcessPool(std::uint32_t max_workers) : ProcessPool(with_workers(max_workers)) {}
  explicit ProcessPool(const ProcessPoolOptions &opts) {
    cfut_process_pool_options o;
    cfut_process_pool_options_init(&o);
    o.max_workers = opts.max_workers;
    o.max_tasks_per_child = opts.max_tasks_per_child;
    o.task_timeout_ns = detail::to_ns(opts.task_timeout);
    o.on_worker_death = opts.on_worker_death;
    o.start_method = opts.start_method;
    o.max_queued = opts.max_queued;
    o.when_full = static_cast<std::uint32_t>(opts.when_full);
    if (!opts.worker_exe.empty()) o.worker_exe = opts.worker_exe.c_str();
    if (opts.initializer) {
      o.initializer = opts.initializer;
      o.initializer_input = opts.initializer_input.data();
      o.initializer_len = opts.initializer_input.size();
    }
    const cfut_status s = cfut_process_pool_new(&o, &ex_);
    if (s != CFUT_OK) throw_status(s, cfut_last_error_message());
  }

  /// Runs `f(args...)` in a worker process; see the class comment for what may cross.
  template <class F, class... Args>
  auto submit(F f, Args... args) {
    return submit_bytes(f, args...);
  }
  /// submit for a function known at compile time: pool.submit<&fn>(args...).
  template <auto Fn, class... Args>
  auto submit(Args... args) {
    return submit_bytes<Fn>(args...);
  }
  /// submit that waits at most `timeout` for room in a bounded queue, then gives an empty
  /// optional (see Executor::try_submit_bytes).
  template <class Rep, class Period, class F, class... Args>
  auto try_submit(std::chrono::duration<Rep, Period> timeout, F f, Args... args) {
    return try_submit_bytes(timeout, f, args...);
  }
  /// A lazy map in worker processes (items and results trivially copyable).
  template <class F, class Container>
  auto map_lazy(F f, const Container &items, const MapOptions &opts = {}) {
    return map_bytes_lazy(f, items, opts);
  }
  /// Every result in input order; a failing item throws task_failed (only its code
  /// crosses), a dead worker worker_died, the deadline timeout_error.
  template <class F, class Container>
  auto map(F f, const Container &items, const MapOptions &opts = {}) {
    return map_bytes(f, items, opts);
  }

  /// CPython's terminate_workers() (SIGTERM) / kill_workers() (SIGKILL, or 0): shuts down
  /// without waiting, cancels pending work, signals every worker.
  void terminate(int signal = 15) {
    const cfut_status s = cfut_process_pool_terminate(ex_, signal);
    if (s != CFUT_OK) throw_status(s);
  }
  /// The pids of the live workers (for tests and monitoring).
  std::vector<int> worker_pids() const {
    std::size_t n = 0;
    std::vector<std::int32_t> pids;
    for (;;) {
      const cfut_status s = cfut_process_pool_worker_pids(ex_, pids.data(), pids.size(), &n);
      if (s != CFUT_OK) throw_status(s);
      if (n <= pids.size()) break;
      pids.resize(n);
    }
    return std::vector<int>(pids.begin(), pids.begin() + static_cast<std::ptrdiff_t>(n));
  }
  /// Worker processes started so far, replacements included.
  std::uint64_t workers_started() const noexcept { return cfut_process_pool_workers_started(ex_); }

 private:
  static ProcessPoolOptions with_workers(std::uint32_t n) {
    ProcessPoolOptions o;
    o.max_workers = n;
    return o;
  }
};
#endif

// ---------------------------------------------------------------------------------------
// MPI pools
// ---------------------------------------------------------------------------------------

#if defined(CFUT_MPI_ISOLATION_PROCESS)
/// Options for MpiPool, mirroring cfut_mpi_pool_options.
struct MpiPoolOptions {
  /// The rank that gets the executor.
  int root = 0;
  /// CFUT_MPI_ISOLATION_PROCESS (default: each rank runs tasks in a local process pool, a
  /// crash fails one future) or CFUT_MPI_ISOLATION_NONE (on the rank's own threads).
  std::uint32_t isolation = CFUT_MPI_ISOLATION_PROCESS;
  /// Tasks each worker rank runs at once; 0 = its CPUs.
  std::uint32_t workers_per_rank = 0;
  /// libcfutures_mpi.so; empty = next to libcfutures, then the loader's path.
  std::string plugin_path;
  /// Isolation PROCESS: a cancellation request kills the task's worker process.
  bool cancel_kills = false;
};

/// One executor over every rank of an MPI job (cfut_mpi_pool_new), like mpi4py's
/// MPICommExecutor. The constructor is collective: on the root it returns a pool that takes
/// the same bytes-only calls as ProcessPool; on every other rank it serves tasks and returns
/// once the root's pool is gone, with an empty pool (is_root() false, operator bool false):
///
///     cfut::MpiPool pool;                 // every rank; run as mpirun -np N program
///     if (!pool) return 0;                // a worker rank: done serving
///     auto f = pool.submit([](int x) { return x * x; }, 7);
///
/// MPI is initialised and finalised for the program if it does not do so itself. Throws
/// cfut::error (CFUT_UNSUPPORTED without the plugin or outside mpirun, with the reason).
class MpiPool : public Executor {
 public:
  MpiPool() : MpiPool(MpiPoolOptions{}) {}
  explicit MpiPool(const MpiPoolOptions &opts) {
    cfut_mpi_pool_options o;
    cfut_mpi_pool_options_init(&o);
    o.root = opts.root;
    o.isolation = opts.isolation;
    o.workers_per_rank = opts.workers_per_rank;
    if (!opts.plugin_path.empty()) o.plugin_path = opts.plugin_path.c_str();
    o.cancel_kills = opts.cancel_kills;
    const cfut_status s = cfut_mpi_pool_new(&o, &ex_);
    if (s != CFUT_OK) throw_status(s, cfut_last_error_message());
  }

  /// True on the root (the rank that submits); false on the ranks that served.
  bool is_root() const noexcept { return ex_ != nullptr; }
  explicit operator bool() const noexcept { return is_root(); }
  /// A dead rank fails only its tasks (worker_died) and the pool goes on (ULFM).
  bool survives_rank_death() const noexcept { return cfut_mpi_pool_survives_rank_death(ex_); }

  /// Runs `f(args...)` on a worker rank; what may cross is as for ProcessPool.
  template <class F, class... Args>
  auto submit(F f, Args... args) {
    return submit_bytes(f, args...);
  }
  template <auto Fn, class... Args>
  auto submit(Args... args) {
    return submit_bytes<Fn>(args...);
  }
  template <class F, class Container>
  auto map_lazy(F f, const Container &items, const MapOptions &opts = {}) {
    return map_bytes_lazy(f, items, opts);
  }
  template <class F, class Container>
  auto map(F f, const Container &items, const MapOptions &opts = {}) {
    return map_bytes(f, items, opts);
  }
};
#endif

// ---------------------------------------------------------------------------------------
// Task groups
// ---------------------------------------------------------------------------------------

/// A task group (cfut_group): tasks submitted through it are waited for and cancelled
/// together; no task outlives it (the destructor cancels what has not started, asks the
/// running tasks to stop and waits for them). With cancel_on_failure the first failure
/// cancels the rest. Tasks may submit into their own group (capture it by reference) while
/// the owner waits. Not copyable or movable: tasks refer to it.
///
///     cfut::TaskGroup g(pool, /*cancel_on_failure=*/true);
///     for (auto &part : parts) g.submit([&](cfut::CancelToken t) { scan(part, t); });
///     g.wait();  // rethrows the first failure
class TaskGroup {
 public:
  explicit TaskGroup(Executor &ex, bool cancel_on_failure = false) {
    const cfut_status s = cfut_group_new(ex.capi(), cancel_on_failure ? CFUT_GROUP_CANCEL_ON_FAILURE : 0u, &g_);
    if (s != CFUT_OK) throw_status(s);
  }
  TaskGroup(const TaskGroup &) = delete;
  TaskGroup &operator=(const TaskGroup &) = delete;
  /// cfut_group_free: cancel, ask running tasks to stop, wait for them. From one of the
  /// group's own tasks it returns at once (the group goes with its last task).
  ~TaskGroup() { cfut_group_free(g_); }

  /// Thread pools: runs std::invoke(f, [CancelToken,] args...) on a worker, as
  /// ThreadPool::submit. Throws cancelled_error once the group was cancelled.
  template <class F, class... Args>
  auto submit(F &&f, Args &&...args) -> Future<typename detail::task<std::decay_t<F>, std::decay_t<Args>...>::R> {
    using T = detail::task<std::decay_t<F>, std::decay_t<Args>...>;
    using R = typename T::R;
    auto *t = new T{std::forward<F>(f), std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...), {}};
    detail::stop_holder keep = detail::before_submit(t);
    cfut_future *out = nullptr;
    check(cfut_group_submit(g_, &T::run, t, &T::destroy, &out));  // t is the library's now
    detail::after_submit(out, keep);
    return Future<R>::adopt(out);
  }

  /// Any executor (process pools too): as Executor::submit_bytes, through the group.
  template <class F, class... Args>
  auto submit_bytes(F f, Args... args) -> Future<typename detail::bytes_task<F, Args...>::R> {
    detail::check_bytes_signature<F, Args...>();
    using T = detail::bytes_task<F, Args...>;
    const std::vector<unsigned char> in = T::pack(f, args...);
    cfut_future *out = nullptr;
    check(cfut_group_submit_bytes(g_, &T::run, in.data(), in.size(), &out));
    return Future<typename T::R>::adopt(out);
  }
  template <auto Fn, class... Args>
  auto submit_bytes(Args... args) {
    return submit_bytes(detail::static_fn<Fn>{}, args...);
  }

  /// Waits for every task (and the tasks they submitted). Rethrows the first failure in
  /// completion order with its own type (a C++ exception from a thread-pool task, else
  /// task_failed / worker_died / ...); throws cancelled_error if the group was cancelled
  /// (or a task was) and nothing failed; cfut::error(CFUT_WOULD_DEADLOCK) from a task of
  /// the group.
  void wait() {
    err_ = cfut_error{};
    (void)finish(cfut_group_wait(g_, CFUT_FOREVER, &err_));
  }
  /// wait() with a limit: false if it passed first (tasks still run).
  template <class Rep, class Period>
  bool wait_for(const std::chrono::duration<Rep, Period> &d) {
    err_ = cfut_error{};
    return finish(cfut_group_wait(g_, detail::to_ns(d), &err_));
  }
  /// Cancels what has not started and asks running tasks to stop; later submits throw
  /// cancelled_error. Never blocks.
  void cancel() noexcept { cfut_group_cancel(g_); }
  cfut_group *capi() const noexcept { return g_; }

 private:
  static void check(cfut_status s) {
    if (s == CFUT_OK) return;
    const char *m = cfut_last_error_message();
    throw_status(s, s == CFUT_UNSUPPORTED ? m : nullptr);
  }
  bool finish(cfut_status s) {
    if (s == CFUT_OK) return true;
    if (s == CFUT_TIMEOUT && err_.status == CFUT_OK) return false;  // the wait's own limit
    if (err_.status != CFUT_OK) {
      if (const std::exception_ptr *x = detail::our_exception(err_.payload)) std::rethrow_exception(*x);
      throw_status(err_.status, err_.message, err_.code);
    }
    throw_status(s);
  }

  cfut_group *g_ = nullptr;
  cfut_error err_{};
};

// ---------------------------------------------------------------------------------------
// Waiting on many futures
// ---------------------------------------------------------------------------------------

/// cfut::wait's condition (Python's FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED).
enum class ReturnWhen : std::uint32_t {
  first_completed = CFUT_FIRST_COMPLETED,
  first_exception = CFUT_FIRST_EXCEPTION,
  all_completed = CFUT_ALL_COMPLETED,
};
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::first_completed;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::first_exception;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::all_completed;

/// Python's (done, not_done) pair: each distinct future once, in input order.
template <class Fut>
struct WaitResult {
  std::vector<Fut> done;
  std::vector<Fut> not_done;
  /// false when the timeout passed before the condition held.
  bool condition_met = true;
};

namespace detail {
template <class Range>
using future_of_t = std::decay_t<decltype(*std::begin(std::declval<const Range &>()))>;

template <class Range>
std::vector<cfut_future *> handles(const Range &fs) {
  std::vector<cfut_future *> h;
  for (const auto &f : fs) {
    if (!f.valid()) throw error(CFUT_INVALID_ARGUMENT, "cfut: an empty future in the list");
    h.push_back(f.capi());
  }
  return h;
}
}  // namespace detail

/// Python's wait(fs, timeout, return_when) over any range of futures (duplicates allowed).
/// Never throws timeout_error: a timeout shows as condition_met == false and a not_done part.
template <class Range>
WaitResult<detail::future_of_t<Range>> wait(const Range &fs, ReturnWhen return_when = ALL_COMPLETED,
                                            std::optional<std::chrono::nanoseconds> timeout = {}) {
  using Fut = detail::future_of_t<Range>;
  const std::vector<cfut_future *> h = detail::handles(fs);
  std::unique_ptr<bool[]> flags(new bool[h.size() ? h.size() : 1]());
  const cfut_status s = cfut_wait(h.data(), h.size(), detail::to_ns(timeout),
                                  static_cast<std::uint32_t>(return_when), flags.get(), nullptr);
  if (s != CFUT_OK && s != CFUT_TIMEOUT) throw_status(s);
  WaitResult<Fut> r;
  r.condition_met = s == CFUT_OK;
  std::size_t i = 0;
  std::vector<cfut_future *> seen;
  for (const auto &f : fs) {
    const bool dup = std::find(seen.begin(), seen.end(), h[i]) != seen.end();
    if (!dup) {
      seen.push_back(h[i]);
      (flags[i] ? r.done : r.not_done).push_back(f);
    }
    ++i;
  }
  return r;
}
template <class Range, class Rep, class Period>
WaitResult<detail::future_of_t<Range>> wait(const Range &fs, ReturnWhen return_when,
                                            const std::chrono::duration<Rep, Period> &timeout) {
  return wait(fs, return_when, detail::to_opt_ns(timeout));
}

/// Python's as_completed(fs, timeout): a move-only range yielding each distinct future
/// once, those already done first, then in completion order. Advancing past the deadline
/// (counted from the as_completed call) throws timeout_error.
template <class Fut>
class AsCompleted {
 public:
  AsCompleted(AsCompleted &&o) noexcept : futures_(std::move(o.futures_)), it_(std::exchange(o.it_, nullptr)) {}
  AsCompleted &operator=(AsCompleted &&o) noexcept {
    if (this != &o) {
      cfut_as_completed_free(it_);
      futures_ = std::move(o.futures_);
      it_ = std::exchange(o.it_, nullptr);
    }
    return *this;
  }
  AsCompleted(const AsCompleted &) = delete;
  AsCompleted &operator=(const AsCompleted &) = delete;
  ~AsCompleted() { cfut_as_completed_free(it_); }

  /// The next completed future, or nullopt when all were yielded; throws timeout_error.
  std::optional<Fut> next() {
    std::size_t i = 0;
    const cfut_status s = cfut_as_completed_next(it_, &i);
    if (s == CFUT_EXHAUSTED) return std::nullopt;
    if (s != CFUT_OK) throw_status(s);
    return futures_[i];
  }

  using iterator = detail::next_iterator<AsCompleted, Fut>;
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }
  cfut_as_completed *capi() const noexcept { return it_; }

  /// Takes over `it`, created over exactly `fs` (use cfut::as_completed).
  AsCompleted(std::vector<Fut> fs, cfut_as_completed *it) noexcept : futures_(std::move(fs)), it_(it) {}

 private:
  std::vector<Fut> futures_;
  cfut_as_completed *it_ = nullptr;
};

/// See AsCompleted. `timeout` empty = none.
template <class Range>
AsCompleted<detail::future_of_t<Range>> as_completed(const Range &fs,
                                                     std::optional<std::chrono::nanoseconds> timeout = {}) {
  using Fut = detail::future_of_t<Range>;
  std::vector<Fut> copy(std::begin(fs), std::end(fs));
  const std::vector<cfut_future *> h = detail::handles(copy);
  cfut_as_completed *it = nullptr;
  const cfut_status s = cfut_as_completed_new(h.data(), h.size(), detail::to_ns(timeout), &it);
  if (s != CFUT_OK) throw_status(s);
  return AsCompleted<Fut>(std::move(copy), it);
}

template <class Range, class Rep, class Period>
AsCompleted<detail::future_of_t<Range>> as_completed(const Range &fs,
                                                     const std::chrono::duration<Rep, Period> &timeout) {
  return as_completed(fs, detail::to_opt_ns(timeout));
}

// ---------------------------------------------------------------------------------------
// Completion queues
// ---------------------------------------------------------------------------------------

/// An event loop's view of finished futures: one file descriptor, readable while at least
/// one watched future's tag waits (level-triggered). Move-only; the destructor frees the
/// queue (waiting tags are discarded, watches still pending are disarmed; remove fd() from
/// your loop first). watch() may be called from any thread; drain() and wait_for() from one
/// thread at a time (the loop's).
///
///     cfut::CompletionQueue cq;
///     cq.watch(pool.submit(work, i), i);           // the future may be dropped right away
///     // epoll / poll on cq.fd(), or asio::posix::stream_descriptor(io, ::dup(cq.fd()))
///     for (std::uint64_t tag : cq.drain()) ...
class CompletionQueue {
 public:
  /// Throws std::bad_alloc when no eventfd can be created (out of descriptors or memory).
  CompletionQueue() {
    const cfut_status s = cfut_cq_new(&q_);
    if (s != CFUT_OK) throw_status(s, cfut_last_error_message());
  }
  CompletionQueue(const CompletionQueue &) = delete;
  CompletionQueue &operator=(const CompletionQueue &) = delete;
  CompletionQueue(CompletionQueue &&o) noexcept : q_(std::exchange(o.q_, nullptr)) {}
  CompletionQueue &operator=(CompletionQueue &&o) noexcept {
    if (this != &o) cfut_cq_free(std::exchange(q_, std::exchange(o.q_, nullptr)));
    return *this;
  }
  ~CompletionQueue() { cfut_cq_free(q_); }

  /// The queue's fd: wait on it for readability, never read, write or close it. Valid until
  /// the queue is destroyed (Asio's stream_descriptor closes what it holds: give it a dup()).
  int fd() const noexcept { return cfut_cq_fd(q_); }

  /// Delivers `tag` once `f` is done (finished, failed, cancelled; at once if it already
  /// is), exactly once per call. `f` may be destroyed right after. Any thread.
  /// Throws cfut::error(CFUT_INVALID_ARGUMENT) for an empty future.
  void watch(const FutureBase &f, std::uint64_t tag) {
    const cfut_status s = cfut_cq_watch(q_, f.capi(), tag);
    if (s != CFUT_OK) throw_status(s);
  }

  /// Moves up to `max` waiting tags into `out`; returns how many (0: none waits).
  std::size_t drain(std::uint64_t *out, std::size_t max) noexcept { return cfut_cq_drain(q_, out, max); }
  template <std::size_t N>
  std::size_t drain(std::uint64_t (&out)[N]) noexcept {
    return cfut_cq_drain(q_, out, N);
  }

  /// Every tag waiting now, oldest completion first (empty: none). Afterwards the fd is not
  /// readable until the next completion.
  std::vector<std::uint64_t> drain() {
    std::vector<std::uint64_t> tags;
    drain_into(tags);
    return tags;
  }

  /// Appends every waiting tag to `tags` (reuse one vector to avoid allocating per wake-up);
  /// returns how many it appended.
  std::size_t drain_into(std::vector<std::uint64_t> &tags) {
    constexpr std::size_t chunk = 256;
    const std::size_t start = tags.size();
    for (;;) {
      const std::size_t at = tags.size();
      tags.resize(at + chunk);
      const std::size_t n = cfut_cq_drain(q_, tags.data() + at, chunk);
      tags.resize(at + n);
      if (n < chunk) return tags.size() - start;
    }
  }

  /// For loops without an fd: true once a tag waits, false when `d` passed first. Takes
  /// nothing (call drain()).
  template <class Rep, class Period>
  bool wait_for(const std::chrono::duration<Rep, Period> &d) {
    const cfut_status s = cfut_cq_wait(q_, detail::to_ns(d));
    if (s == CFUT_TIMEOUT) return false;
    if (s != CFUT_OK) throw_status(s);
    return true;
  }
  /// Blocks until a tag waits.
  void wait() { wait_for(std::chrono::nanoseconds::max()); }

  cfut_cq *capi() const noexcept { return q_; }
  /// Gives up ownership: the caller must cfut_cq_free it.
  cfut_cq *capi_release() noexcept { return std::exchange(q_, nullptr); }

 private:
  cfut_cq *q_ = nullptr;
};

// ---- Parallel loops ----------------------------------------------------------------------

namespace detail {
/// The cfut_range_fn of a parallel_for: `f` is known here, so the compiler inlines it into
/// the per-range loop (and can vectorise it). The first exception is kept for the caller.
template <class F>
struct parallel_for_state {
  explicit parallel_for_state(F *fn) noexcept : f(fn) {}
  F *f;
  std::atomic<bool> threw{false};
  std::exception_ptr error;

  static std::int32_t run(void *ctx, std::size_t b, std::size_t e) noexcept {
    auto *s = static_cast<parallel_for_state *>(ctx);
    try {
      if constexpr (std::is_invocable_v<F &, std::size_t, std::size_t>) {
        (*s->f)(b, e);
      } else {
        for (std::size_t i = b; i < e; ++i) (*s->f)(i);
      }
      return 0;
    } catch (...) {
      if (!s->threw.exchange(true, std::memory_order_acq_rel)) s->error = std::current_exception();
      return exception_code;
    }
  }
};
}  // namespace detail

/// Runs `f` over [begin, end) on the pool's workers and on this thread, which works too
/// (OpenMP's parallel for, TBB's parallel_for). `f` is either per index, `f(std::size_t i)`,
/// or per range, `f(std::size_t b, std::size_t e)` for disjoint subranges covering
/// [begin, end) once; it is called concurrently (from several threads at once) and inlined
/// into the loop over each range. `grain` is the smallest range; 0 adapts (ranges shrink
/// towards the end, so uneven work balances). Nested calls from inside `f` work.
///
/// The first exception `f` throws stops new ranges from starting and is rethrown here, with
/// its own type, once the ranges already running are done. Throws shutdown_error /
/// broken_executor if the pool refuses; std::invalid_argument if end < begin.
template <class F>
void ThreadPool::parallel_for(std::size_t begin, std::size_t end, F &&f, std::size_t grain) {
  using Fn = std::remove_reference_t<F>;
  static_assert(std::is_invocable_v<Fn &, std::size_t, std::size_t> || std::is_invocable_v<Fn &, std::size_t>,
                "parallel_for takes f(std::size_t i) or f(std::size_t begin, std::size_t end)");
  if (end < begin) throw std::invalid_argument("cfut::ThreadPool::parallel_for: end < begin");
  detail::parallel_for_state<Fn> st(&f);
  const cfut_status s = cfut_parallel_for(ex_, begin, end, grain, &detail::parallel_for_state<Fn>::run, &st, nullptr);
  if (s == CFUT_TASK_FAILED && st.threw.load(std::memory_order_acquire) && st.error) std::rethrow_exception(st.error);
  check_with_reason(s);
}

/// The library's version string, e.g. "0.1.0" (compare with CFUT_VERSION_STRING).
inline const char *version() noexcept { return cfut_version_string(); }

}  // namespace cfut

#endif  // CFUTURES_HPP
