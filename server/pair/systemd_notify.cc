// systemd_notify.cc: the sd_notify datagrams and the watchdog timer (see systemd_notify.h).
//
// The protocol is small and documented by systemd (sd_notify(3)): one AF_UNIX datagram per
// message, "KEY=VALUE" lines, sent to the socket named by $NOTIFY_SOCKET (a path, or "@name"
// for the abstract namespace); the watchdog is on when $WATCHDOG_USEC is set and $WATCHDOG_PID,
// if set, is this process. It is written here rather than taken from libsystemd because that
// library brings libgcrypt, liblzma, libzstd and liblz4 with it: about 1 MiB of resident memory
// for a process whose idle footprint is a stated target.
#include "server/pair/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>

#include <spdlog/spdlog.h>

namespace tandem::server {
namespace {

// The watchdog period systemd asked for, in microseconds; 0 when off or meant for another pid.
uint64_t WatchdogUsecFromEnv() {
  const char* usec_text = std::getenv("WATCHDOG_USEC");
  if (usec_text == nullptr) return 0;
  uint64_t usec = 0;
  const char* end = usec_text + std::strlen(usec_text);
  if (std::from_chars(usec_text, end, usec).ptr != end) return 0;
  if (const char* pid_text = std::getenv("WATCHDOG_PID"); pid_text != nullptr) {
    long pid = 0;
    const char* pid_end = pid_text + std::strlen(pid_text);
    if (std::from_chars(pid_text, pid_end, pid).ptr != pid_end || pid != getpid()) return 0;
  }
  return usec;
}

}  // namespace

SystemdNotifier::SystemdNotifier(uv_loop_t* loop) {
  uv_timer_init(loop, &timer_);
  timer_.data = this;
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return;
  size_t len = std::strlen(path);
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr_.sun_path)) {
    spdlog::warn("systemd: ignoring NOTIFY_SOCKET '{}' (not a unix socket path)", path);
    return;
  }
  addr_.sun_family = AF_UNIX;
  std::memcpy(addr_.sun_path, path, len);
  if (path[0] == '@') addr_.sun_path[0] = '\0';  // abstract namespace
  addr_len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) spdlog::warn("systemd: cannot open the notify socket: {}", std::strerror(errno));
}

SystemdNotifier::~SystemdNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

void SystemdNotifier::Send(std::string_view message) {
  if (fd_ < 0) return;
  ssize_t n = sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL,
                     reinterpret_cast<const sockaddr*>(&addr_), addr_len_);
  if (n < 0 && !warned_) {
    warned_ = true;  // once: a missing socket would otherwise log at every watchdog ping
    spdlog::warn("systemd: notify failed: {}", std::strerror(errno));
  }
}

void SystemdNotifier::Ready(std::string_view status) {
  if (ready_) {
    Status(status);
    return;
  }
  ready_ = true;
  status_ = std::string(status);
  Send("READY=1\nSTATUS=" + status_);
}

void SystemdNotifier::Status(std::string_view status) {
  if (status == status_) return;
  status_ = std::string(status);
  Send("STATUS=" + status_);
}

void SystemdNotifier::Stopping() {
  StopWatchdog();
  Send("STOPPING=1");
}

uint64_t SystemdNotifier::StartWatchdog() {
  uint64_t usec = WatchdogUsecFromEnv();
  if (closed_ || fd_ < 0 || usec == 0) return 0;
  watchdog_ms_ = std::max<uint64_t>(usec / 2000, 1);
  uv_timer_start(&timer_, WatchdogCb, watchdog_ms_, watchdog_ms_);
  spdlog::info("systemd watchdog: pinging every {}ms", watchdog_ms_);
  return watchdog_ms_;
}

void SystemdNotifier::StopWatchdog() {
  if (!closed_) uv_timer_stop(&timer_);
}

void SystemdNotifier::Close() {
  if (closed_) return;
  closed_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void SystemdNotifier::WatchdogCb(uv_timer_t* handle) noexcept {
  static_cast<SystemdNotifier*>(handle->data)->Send("WATCHDOG=1");
}

}  // namespace tandem::server
