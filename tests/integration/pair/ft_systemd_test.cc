// ft_systemd_test.cc: the sd_notify protocol as systemd sees it. The test plays systemd: it binds
// a unix datagram socket, starts tandem with NOTIFY_SOCKET and WATCHDOG_USEC pointing at it, and
// reads READY=1, STATUS= (role and epoch) and the WATCHDOG=1 pings, for an active and a standby.
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/ft_harness.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {
namespace {

using std::chrono::milliseconds;

class NotifySocket {
 public:
  // `path` is a file path, or "@name" for the abstract namespace (as systemd spells it).
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path.c_str());
    socklen_t len = sizeof(sa);
    if (path[0] == '@') {
      sa.sun_path[0] = '\0';
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    }
    ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) == 0;
  }
  ~NotifySocket() {
    close(fd_);
    if (path_[0] != '@') unlink(path_.c_str());
  }
  bool ok() const { return ok_; }
  // Every datagram received within `timeout`, concatenated with newlines.
  std::string Read(milliseconds timeout) {
    std::string all;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 10) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) all.append(buf, static_cast<size_t>(n)).push_back('\n');
    }
    return all;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
};

size_t Count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_SUITE("ft_systemd") {

TEST_CASE("ft: READY, STATUS and watchdog pings for an active and a standby") {
  TempDir dir;
  int port = FreePort();
  NotifySocket sock_a(dir.Join("notify-a"));
  NotifySocket sock_b(dir.Join("notify-b"));
  REQUIRE(sock_a.ok());
  REQUIRE(sock_b.ok());
  FtMemberOptions o;
  o.listen = o.peers.emplace_back("127.0.0.1:" + std::to_string(port));
  o.store_dir = dir.Join("store");
  o.name = "a";
  FtMember a(dir.path(), o);
  o.name = "b";
  FtMember b(dir.path(), o);

  setenv("WATCHDOG_USEC", "200000", 1);  // ping every 100 ms
  setenv("NOTIFY_SOCKET", dir.Join("notify-a").c_str(), 1);
  REQUIRE(a.Start());
  setenv("NOTIFY_SOCKET", dir.Join("notify-b").c_str(), 1);
  REQUIRE(a.WaitActive());
  REQUIRE(b.Start());
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  REQUIRE(b.WaitStandby());

  std::string ra = sock_a.Read(milliseconds(600));
  std::string rb = sock_b.Read(milliseconds(600));
  INFO("a: ", ra, "\nb: ", rb);
  CHECK(Count(ra, "READY=1") == 1);
  CHECK(ra.find("STATUS=active, epoch 1, group g") != std::string::npos);
  CHECK(Count(ra, "WATCHDOG=1") >= 3);
  CHECK(Count(rb, "READY=1") == 1);
  CHECK(rb.find("STATUS=standby, epoch 0, group g") != std::string::npos);
  CHECK(Count(rb, "WATCHDOG=1") >= 3);  // a standby's loop pings too

  // b takes over: STATUS follows. a stopping says STOPPING=1.
  REQUIRE(a.process().Signal(SIGTERM));
  REQUIRE(b.WaitActive(milliseconds(3000)));
  CHECK(a.process().WaitExit() == 0);
  std::string ra2 = sock_a.Read(milliseconds(100));
  std::string rb2 = sock_b.Read(milliseconds(300));
  CHECK(ra2.find("STOPPING=1") != std::string::npos);
  CHECK(rb2.find("STATUS=active, epoch 2, group g") != std::string::npos);
  CHECK(Count(rb2, "READY=1") == 0);  // READY only once
}

TEST_CASE("ft: an abstract NOTIFY_SOCKET, and no watchdog pings meant for another pid") {
  TempDir dir;
  int port = FreePort();
  std::string name = "@tandem-notify-" + std::to_string(getpid()) + "-" + std::to_string(port);
  NotifySocket sock(name);
  REQUIRE(sock.ok());
  FtMemberOptions o;
  o.listen = o.peers.emplace_back("127.0.0.1:" + std::to_string(port));
  o.store_dir = dir.Join("store");
  o.name = "a";
  FtMember a(dir.path(), o);

  setenv("NOTIFY_SOCKET", name.c_str(), 1);
  setenv("WATCHDOG_USEC", "200000", 1);
  setenv("WATCHDOG_PID", "1", 1);  // the watchdog is some other process's business
  REQUIRE(a.Start());
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  REQUIRE(a.WaitActive());

  std::string r = sock.Read(milliseconds(500));
  INFO("a: ", r);
  CHECK(Count(r, "READY=1") == 1);
  CHECK(r.find("STATUS=active, epoch 1, group g") != std::string::npos);
  CHECK(Count(r, "WATCHDOG=1") == 0);
}

}  // TEST_SUITE

}  // namespace tandem::test
