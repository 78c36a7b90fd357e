// systemd_notify.h: tells systemd (Type=notify units) how the process is doing: READY=1 once the
// role is settled (active serving, or standby standing by), STATUS= with the role and epoch,
// STOPPING=1 on shutdown, and WATCHDOG=1 from a loop timer when the unit sets WatchdogSec=.
// Pinging from the loop is the point: a loop that hangs stops pinging, systemd kills the
// process, and the kernel frees the store lock so that a standby takes over.
//
// Without NOTIFY_SOCKET (not under systemd) every call is a cheap no-op.
//
// Ownership: owns one uv_timer_t (Close() before the loop closes) and the notify socket. Thread safety: loop thread only.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <string>
#include <string_view>

#include <uv.h>

namespace tandem::server {

class SystemdNotifier {
 public:
  explicit SystemdNotifier(uv_loop_t* loop);
  ~SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // READY=1, sent once; later calls only update STATUS.
  void Ready(std::string_view status);
  // STATUS=<text>, when it changed.
  void Status(std::string_view status);
  void Stopping();
  // Starts pinging WATCHDOG=1 at half of WATCHDOG_USEC, if set. Returns the period (0: off).
  uint64_t StartWatchdog();
  void StopWatchdog();
  // Closes the timer handle.
  void Close();

 private:
  static void WatchdogCb(uv_timer_t* handle) noexcept;
  void Send(std::string_view message);

  uv_timer_t timer_{};
  int fd_ = -1;            // the datagram socket; -1 when not under systemd
  sockaddr_un addr_{};     // $NOTIFY_SOCKET
  socklen_t addr_len_ = 0;
  bool warned_ = false;
  bool ready_ = false;
  bool closed_ = false;
  uint64_t watchdog_ms_ = 0;
  std::string status_;
};

}  // namespace tandem::server
