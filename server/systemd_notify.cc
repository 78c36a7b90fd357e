// systemd_notify.cc: sd_notify messages and the watchdog timer (see systemd_notify.h).
#include "server/systemd_notify.h"

#include <algorithm>
#include <string>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

namespace tandem::server {

SystemdNotifier::SystemdNotifier(uv_loop_t* loop) {
  uv_timer_init(loop, &timer_);
  timer_.data = this;
}

void SystemdNotifier::Ready(std::string_view status) {
  if (ready_) {
    Status(status);
    return;
  }
  ready_ = true;
  status_ = std::string(status);
  std::string msg = "READY=1\nSTATUS=" + status_;
  sd_notify(0, msg.c_str());
}

void SystemdNotifier::Status(std::string_view status) {
  if (status == status_) return;
  status_ = std::string(status);
  std::string msg = "STATUS=" + status_;
  sd_notify(0, msg.c_str());
}

void SystemdNotifier::Stopping() {
  StopWatchdog();
  sd_notify(0, "STOPPING=1");
}

uint64_t SystemdNotifier::StartWatchdog() {
  uint64_t usec = 0;
  if (closed_ || sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return 0;
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

void SystemdNotifier::WatchdogCb(uv_timer_t* handle) noexcept { sd_notify(0, "WATCHDOG=1"); }

}  // namespace tandem::server
