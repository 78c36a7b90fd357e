// wire_client.cc: raw-socket send/expect helper (see wire_client.h).
#include "tests/support/wire_client.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <regex>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace tandem::test {

using Clock = std::chrono::steady_clock;

WireClient::~WireClient() { Close(); }

void WireClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool WireClient::Connect(int port, ms timeout) {
  Close();
  eof_ = false;
  buf_.clear();
  const auto deadline = Clock::now() + timeout;
  while (true) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      int one = 1;
      ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      return true;
    }
    Close();
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(ms(10));
  }
}

bool WireClient::Handshake(int port, std::string_view connect_json) {
  if (!Connect(port)) return false;
  if (!Expect("^INFO \\{.*\\}\r\n")) return false;
  if (!Send("CONNECT " + std::string(connect_json) + "\r\nPING\r\n")) return false;
  return Expect("PONG\r\n");
}

bool WireClient::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool WireClient::SendAndPong(std::string_view bytes, ms timeout) {
  return Send(std::string(bytes) + "PING\r\n") && Expect("PONG\r\n", timeout);
}

bool WireClient::ReadSome(ms timeout) {
  if (fd_ < 0 || eof_) return false;
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r <= 0) return false;
  char tmp[65536];
  ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buf_.append(tmp, static_cast<size_t>(n));
  return true;
}

bool WireClient::Expect(const std::string& re, ms timeout) {
  const std::regex rx(re);
  const auto deadline = Clock::now() + timeout;
  while (true) {
    std::smatch m;
    if (std::regex_search(buf_, m, rx)) {
      last_match_ = m.str(0);
      buf_.erase(0, static_cast<size_t>(m.position(0) + m.length(0)));
      return true;
    }
    auto left = std::chrono::duration_cast<ms>(deadline - Clock::now());
    if (left.count() <= 0 || eof_) return false;
    ReadSome(left);
  }
}

bool WireClient::ExpectNothing(ms quiet) {
  if (!buf_.empty()) return false;
  return !ReadSome(quiet) && !eof_;
}

bool WireClient::WaitClosed(ms timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!eof_) {
    auto left = std::chrono::duration_cast<ms>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    ReadSome(left);
  }
  return true;
}

}  // namespace tandem::test
