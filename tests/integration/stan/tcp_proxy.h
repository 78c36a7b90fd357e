// tcp_proxy.h: a loopback TCP proxy for tests that must cut a client's connection while the
// server keeps running (the client then reconnects through the proxy, as after a network
// fault). It listens on a free 127.0.0.1 port and forwards every accepted connection to
// 127.0.0.1:<target>; DropAll() shuts every forwarded connection down at once. Pause(true)
// stops forwarding the server's bytes (the server -> client direction) without closing
// anything, as a client that stopped reading would; Pause(false) goes on.
//
// Hand-written because no library on the test machine offers one and the test needs only
// this: one thread accepts, one thread per connection copies bytes both ways with poll(); every
// poll is bounded (50 ms) so that the destructor stops the threads promptly.
//
// Ownership: owns its sockets and threads; the destructor closes and joins them all.
// Thread safety: DropAll, accepted and port may be called from any thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace tandem::test {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = Loopback(0);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        listen(listen_fd_, 16) != 0) {
      return;
    }
    socklen_t len = sizeof(a);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~TcpProxy() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    DropAll();
    for (auto& t : pumps_) t.join();
    if (listen_fd_ >= 0) close(listen_fd_);
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // The port clients connect to; 0 when the proxy could not listen.
  int port() const { return port_; }
  // Connections accepted so far.
  int accepted() const { return accepted_; }
  // Stops (true) or resumes (false) reading what the server sends; the client -> server
  // direction keeps flowing.
  void Pause(bool paused) { paused_ = paused; }
  // Shuts down every connection being forwarded (both sides see it closed).
  void DropAll() {
    std::lock_guard<std::mutex> l(mu_);
    for (int fd : live_) shutdown(fd, SHUT_RDWR);
  }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }

  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a = Loopback(target_port_);
      if (server < 0 || connect(server, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        close(client);
        if (server >= 0) close(server);
        continue;
      }
      {
        std::lock_guard<std::mutex> l(mu_);
        live_.push_back(client);
        live_.push_back(server);
      }
      ++accepted_;
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
    }
  }

  // Copies bytes both ways until either side closes, then closes both.
  void Pump(int a, int b) {
    char buf[16384];
    bool open = true;
    while (open && !stop_) {
      // While paused the server's socket is not read: its buffers fill up, as with a client
      // that stopped reading.
      pollfd p[2] = {{a, POLLIN, 0}, {b, static_cast<short>(paused_ ? 0 : POLLIN), 0}};
      if (poll(p, 2, 50) <= 0) continue;
      for (int i = 0; i < 2 && open; ++i) {
        if (p[i].revents == 0) continue;
        ssize_t n = read(p[i].fd, buf, sizeof(buf));
        if (n <= 0) {
          open = false;
          break;
        }
        for (ssize_t off = 0; off < n && open;) {
          ssize_t w = send(p[1 - i].fd, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
          if (w <= 0) open = false;
          off += w > 0 ? w : 0;
        }
      }
    }
    std::lock_guard<std::mutex> l(mu_);
    auto gone = [&](int fd) { return fd == a || fd == b; };
    live_.erase(std::remove_if(live_.begin(), live_.end(), gone), live_.end());
    close(a);
    close(b);
  }

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<int> live_;  // both sockets of every forwarded connection
  std::vector<std::thread> pumps_;  // touched by the acceptor, then by the destructor after it
  std::thread acceptor_;
};

}  // namespace tandem::test
