// soak_roles.cc: the role monitor and its check (see soak_roles.h). The HTTP client is a few
// lines of sockets because the monitor needs a hard bound on each request (a stopped member
// accepts the connection and never answers), which a plain blocking client would not give.
#include "tests/soak/soak_roles.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/soak/soak_members.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace tandem::soak {

namespace {

// Waits for `events` on fd until deadline_us; false on timeout or error.
bool WaitFd(int fd, short events, int64_t deadline_us) {
  int64_t left_ms = (deadline_us - NowUs()) / 1000;
  if (left_ms <= 0) return false;
  pollfd p{fd, events, 0};
  return poll(&p, 1, static_cast<int>(left_ms)) == 1 && (p.revents & (events | POLLHUP));
}

}  // namespace

std::optional<std::string> HttpGet(const std::string& ip, int port, const std::string& path,
                                   int timeout_ms) {
  int64_t deadline = NowUs() + int64_t{timeout_ms} * 1000;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  std::string response;
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 || errno == EINPROGRESS) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (WaitFd(fd, POLLOUT, deadline) && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
        err == 0) {
      std::string req =
          "GET " + path + " HTTP/1.0\r\nHost: " + ip + "\r\nConnection: close\r\n\r\n";
      if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
        char buf[4096];
        while (WaitFd(fd, POLLIN, deadline)) {
          ssize_t n = recv(fd, buf, sizeof(buf), 0);
          if (n > 0) {
            response.append(buf, static_cast<size_t>(n));
            continue;
          }
          if (n < 0 && errno == EAGAIN) continue;
          ok = n == 0;  // the server closed: the answer is complete
          break;
        }
      }
    }
  }
  close(fd);
  size_t body = response.find("\r\n\r\n");
  // Only a complete "HTTP/1.x 200" answer counts.
  if (!ok || body == std::string::npos || response.size() < 12 ||
      response.compare(0, 7, "HTTP/1.") != 0 || response.compare(9, 3, "200") != 0) {
    return std::nullopt;
  }
  return response.substr(body + 4);
}

RoleMonitor::RoleMonitor(std::vector<std::string> ips, int port, int interval_ms, int timeout_ms)
    : ips_(std::move(ips)),
      port_(port),
      interval_ms_(interval_ms),
      timeout_ms_(timeout_ms),
      samples_(ips_.size()) {}

RoleMonitor::~RoleMonitor() { Stop(); }

void RoleMonitor::Start() {
  running_ = true;
  for (int m = 0; m < static_cast<int>(ips_.size()); ++m) {
    threads_.emplace_back([this, m] { Poll(m); });
  }
}

void RoleMonitor::Stop() {
  running_ = false;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void RoleMonitor::Poll(int m) {
  while (running_) {
    RoleSample s;
    s.sent_us = NowUs();
    auto body = HttpGet(ips_[static_cast<size_t>(m)], port_, "/streaming/serverz", timeout_ms_);
    s.recv_us = NowUs();
    if (body) {
      auto j = nlohmann::json::parse(*body, nullptr, false);
      if (!j.is_discarded() && j.is_object()) {
        s.answered = true;
        s.role = j.value("role", std::string());
        s.epoch = j.value("epoch", uint64_t{0});
        if (j.contains("standbys") && j["standbys"].is_array()) {
          for (const auto& sb : j["standbys"]) s.standbys_alive += sb.value("alive", false) ? 1 : 0;
        }
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      samples_[static_cast<size_t>(m)].push_back(s);
    }
    int64_t next = s.sent_us + int64_t{interval_ms_} * 1000;
    if (next > NowUs()) SleepMs((next - NowUs()) / 1000);
  }
}

RoleSample RoleMonitor::Latest(int m) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto& v = samples_[static_cast<size_t>(m)];
  return v.empty() ? RoleSample{} : v.back();
}

int RoleMonitor::Active(int max_age_ms) const {
  int64_t oldest = NowUs() - int64_t{max_age_ms} * 1000;
  for (int m = 0; m < static_cast<int>(ips_.size()); ++m) {
    RoleSample s = Latest(m);
    if (s.answered && s.recv_us >= oldest && s.role == "active") return m;
  }
  return -1;
}

bool RoleMonitor::Healthy(int max_age_ms) const {
  int active = Active(max_age_ms);
  if (active < 0 || Latest(active).standbys_alive < 1) return false;
  int64_t oldest = NowUs() - int64_t{max_age_ms} * 1000;
  for (int m = 0; m < static_cast<int>(ips_.size()); ++m) {
    if (m == active) continue;
    RoleSample s = Latest(m);
    if (!s.answered || s.recv_us < oldest || s.role != "standby") return false;
  }
  return true;
}

RoleCheck RoleMonitor::Check() const {
  std::lock_guard<std::mutex> lock(mu_);
  return CheckRoles(samples_);
}

}  // namespace tandem::soak
