// cfut::CompletionQueue: RAII, watch/drain, the fd in a plain epoll loop and in Asio.
#include "cfutures.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <asio.hpp>

#include <atomic>
#include <set>
#include <thread>

using namespace std::chrono_literals;

namespace {

bool readable(const cfut::CompletionQueue &cq) {
  pollfd p{cq.fd(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

TEST(CompletionQueue, WatchDrainAndLevelTriggeredFd) {
  cfut::ThreadPool pool(2);
  cfut::CompletionQueue cq;
  EXPECT_GE(cq.fd(), 0);
  EXPECT_FALSE(readable(cq));
  EXPECT_FALSE(cq.wait_for(1ms));
  for (std::uint64_t i = 0; i < 10; i++) cq.watch(pool.submit([i] { return i * 2; }), i);
  std::set<std::uint64_t> seen;
  while (seen.size() < 10) {
    ASSERT_TRUE(cq.wait_for(20s));
    for (std::uint64_t t : cq.drain()) EXPECT_TRUE(seen.insert(t).second) << "tag " << t << " twice";
  }
  EXPECT_FALSE(readable(cq));
  EXPECT_TRUE(cq.drain().empty());
}

TEST(CompletionQueue, FailedCancelledAndEmpty) {
  cfut::ThreadPool pool(1);
  cfut::CompletionQueue cq;
  std::promise<void> go;
  std::shared_future<void> gate = go.get_future().share();
  auto blocker = pool.submit([gate] { gate.wait(); });
  auto queued = pool.submit([] { return 1; });
  auto thrower = pool.submit([]() -> int { throw std::runtime_error("no"); });
  cq.watch(blocker, 1);
  cq.watch(queued, 2);
  cq.watch(thrower, 3);
  EXPECT_TRUE(queued.cancel());
  std::uint64_t tags[4] = {};
  ASSERT_EQ(cq.drain(tags), 1u);
  EXPECT_EQ(tags[0], 2u);
  EXPECT_FALSE(readable(cq));
  go.set_value();
  std::vector<std::uint64_t> all;
  while (all.size() < 2) {
    ASSERT_TRUE(cq.wait_for(20s));
    cq.drain_into(all);
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<std::uint64_t>{1, 3}));
  EXPECT_THROW(cq.watch(cfut::Future<int>(), 9), cfut::error);
}

TEST(CompletionQueue, MoveAndDestroyWithPendingWatches) {
  cfut::ThreadPool pool(1);
  std::promise<void> go;
  std::shared_future<void> gate = go.get_future().share();
  {
    cfut::CompletionQueue a;
    cfut::CompletionQueue b(std::move(a));
    EXPECT_EQ(a.capi(), nullptr);
    for (int i = 0; i < 5; i++) b.watch(pool.submit([gate] { gate.wait(); }), i);
  }  // freed with five watches pending
  go.set_value();
  pool.shutdown();
}

TEST(CompletionQueue, EpollLoop) {
  cfut::ThreadPool pool(4);
  cfut::CompletionQueue cq;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 42;
  ASSERT_EQ(::epoll_ctl(ep, EPOLL_CTL_ADD, cq.fd(), &ev), 0);
  constexpr int n = 1000;
  for (int i = 0; i < n; i++) cq.watch(pool.submit([] {}), static_cast<std::uint64_t>(i));
  std::vector<int> count(n);
  std::vector<std::uint64_t> tags;
  int got = 0;
  while (got < n) {
    epoll_event out{};
    ASSERT_EQ(::epoll_wait(ep, &out, 1, 20000), 1);
    ASSERT_EQ(out.data.u64, 42u);
    tags.clear();
    ASSERT_GT(cq.drain_into(tags), 0u);  // never woken for nothing
    for (auto t : tags) count.at(t)++;
    got += static_cast<int>(tags.size());
  }
  for (int c : count) EXPECT_EQ(c, 1);
  epoll_event out{};
  EXPECT_EQ(::epoll_wait(ep, &out, 1, 0), 0);
  ::close(ep);
}

TEST(CompletionQueue, AsioStreamDescriptor) {
  cfut::ThreadPool pool(4);
  cfut::CompletionQueue cq;
  asio::io_context io;
  asio::posix::stream_descriptor sd(io, ::dup(cq.fd()));  // Asio closes what it holds
  constexpr int n = 500;
  int got = 0, batches = 0;
  std::vector<int> count(n);
  std::function<void(std::error_code)> on_ready = [&](std::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    batches++;
    for (auto t : cq.drain()) {
      count.at(t)++;
      got++;
    }
    if (got < n) sd.async_wait(asio::posix::descriptor_base::wait_read, on_ready);
  };
  sd.async_wait(asio::posix::descriptor_base::wait_read, on_ready);
  std::thread submitter([&] {
    for (int i = 0; i < n; i++) cq.watch(pool.submit([] {}), static_cast<std::uint64_t>(i));
  });
  io.run();  // returns once no wait is pending: every tag arrived
  submitter.join();
  EXPECT_EQ(got, n);
  EXPECT_LE(batches, n);
  for (int c : count) EXPECT_EQ(c, 1);
}

TEST(CompletionQueue, EightWatchersOneDrainer) {
  cfut::ThreadPool pool(4);
  cfut::CompletionQueue cq;
  constexpr int per = 1000, threads = 8;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per; i++) cq.watch(pool.submit([] {}), static_cast<std::uint64_t>(t * per + i));
    });
  }
  std::vector<int> count(per * threads);
  int got = 0;
  std::vector<std::uint64_t> tags;
  while (got < per * threads) {
    ASSERT_TRUE(cq.wait_for(20s));
    tags.clear();
    cq.drain_into(tags);
    for (auto t : tags) count.at(t)++;
    got += static_cast<int>(tags.size());
  }
  for (auto &t : ts) t.join();
  for (int c : count) EXPECT_EQ(c, 1);
  EXPECT_FALSE(readable(cq));
}

}  // namespace
