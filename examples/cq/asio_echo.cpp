// The echo server in C++ on Asio: sockets are asio::ip::tcp::socket, and the completion
// queue's fd is an asio::posix::stream_descriptor whose async_wait(wait_read) fires once per
// batch of finished tasks; the handler drains the queue and answers each request. Nothing
// blocks the io_context, and no thread waits on futures.
//
// Four client threads connect over localhost, send 200 requests each and check every reply;
// the io_context runs out of work once they have all hung up.
#include "cfutures.hpp"

#include <unistd.h>

#include <asio.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>

#include "echo_common.h"

namespace {

struct Conn;

struct Request {
  std::shared_ptr<Conn> conn;
  long id;
  cfut::Future<std::int64_t> result;
};

class Server {
 public:
  Server(asio::io_context &io, cfut::ThreadPool &pool)
      : io_(io),
        pool_(pool),
        acceptor_(io, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0)),
        cq_fd_(io, ::dup(cq_.fd())) {}  // the descriptor closes what it holds: give it a dup

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void start() {
    accept();
    wait_completions();
  }

  void submit(const std::shared_ptr<Conn> &c, long id, std::uint64_t n) {
    const std::uint64_t tag = next_tag_++;
    auto f = pool_.submit([n] { return collatz_steps(n); });
    cq_.watch(f, tag);
    requests_.emplace(tag, Request{c, id, std::move(f)});
  }

  void conn_closed() {
    if (++closed_ == CLIENTS) {  // everyone hung up: stop waiting so io.run() returns
      acceptor_.close();
      cq_fd_.cancel();
    }
  }

  std::size_t answered = 0, wakeups = 0;

 private:
  void accept();
  void wait_completions() {
    cq_fd_.async_wait(asio::posix::descriptor_base::wait_read, [this](std::error_code ec) {
      if (ec) return;  // cancelled at the end
      wakeups++;
      for (std::uint64_t tag : cq_.drain()) answer(tag);
      wait_completions();
    });
  }
  void answer(std::uint64_t tag);

  asio::io_context &io_;
  cfut::ThreadPool &pool_;
  cfut::CompletionQueue cq_;
  asio::ip::tcp::acceptor acceptor_;
  asio::posix::stream_descriptor cq_fd_;
  std::unordered_map<std::uint64_t, Request> requests_;
  std::uint64_t next_tag_ = 0;
  int closed_ = 0;
};

struct Conn : std::enable_shared_from_this<Conn> {
  Conn(asio::ip::tcp::socket s, Server &srv) : socket(std::move(s)), server(srv) {}
  ~Conn() { server.conn_closed(); }

  void read() {
    asio::async_read_until(socket, asio::dynamic_buffer(in), '\n',
                           [self = shared_from_this()](std::error_code ec, std::size_t n) {
                             if (ec) return;  // the client hung up: the last reference goes
                             long id = 0;
                             unsigned long long v = 0;
                             if (std::sscanf(self->in.c_str(), "%ld %llu", &id, &v) == 2) {
                               self->server.submit(self, id, v);
                             }
                             self->in.erase(0, n);
                             self->read();
                           });
  }

  asio::ip::tcp::socket socket;
  Server &server;
  std::string in;
};

void Server::accept() {
  acceptor_.async_accept([this](std::error_code ec, asio::ip::tcp::socket s) {
    if (ec) return;
    std::make_shared<Conn>(std::move(s), *this)->read();
    accept();
  });
}

void Server::answer(std::uint64_t tag) {
  auto it = requests_.find(tag);
  Request r = std::move(it->second);
  requests_.erase(it);
  auto line = std::make_shared<std::string>(std::to_string(r.id) + " " + std::to_string(r.result.get()) + "\n");
  asio::async_write(r.conn->socket, asio::buffer(*line), [line, c = r.conn](std::error_code, std::size_t) {});
  answered++;
}

}  // namespace

int main() {
  cfut::ThreadPool pool;
  asio::io_context io;
  Server server(io, pool);
  server.start();
  pthread_t clients[CLIENTS];
  client_arg args[CLIENTS];
  start_clients(clients, args, server.port());
  io.run();
  const int ok = join_clients(clients, args);
  std::printf("answered %zu requests in %zu completion-queue wake-ups (%.1f per batch); %d of %d replies right\n",
              server.answered, server.wakeups,
              server.wakeups ? static_cast<double>(server.answered) / static_cast<double>(server.wakeups) : 0.0, ok,
              CLIENTS * REQUESTS_PER_CLIENT);
  const cfut::ExecutorStats s = pool.stats();
  std::printf("pool stats: submitted %llu, completed %llu, failed %llu, rejected %llu, peak queued %llu, workers %u\n",
              static_cast<unsigned long long>(s.submitted), static_cast<unsigned long long>(s.completed),
              static_cast<unsigned long long>(s.failed), static_cast<unsigned long long>(s.rejected),
              static_cast<unsigned long long>(s.peak_queued), s.workers);
  return ok == CLIENTS * REQUESTS_PER_CLIENT ? 0 : 1;
}
