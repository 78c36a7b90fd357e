// client_listener.h: the listening socket of the client port, and what happens at the open
// files limit.
//
// Written by hand on a uv_poll_t rather than with uv_listen because libuv handles EMFILE and
// ENFILE out of sight: it gives up a spare descriptor, accepts and closes every pending
// connection, and never tells the connection callback, so refusals could not be counted or
// logged. Here the same trick is done in the open: at the limit, ClientListener closes its
// reserve descriptor, accepts each waiting connection and closes it at once (the client sees
// the connection closed before any INFO), takes the reserve back, and counts. The first refusal
// is logged at once; later ones are counted and logged as one line at the end of each window of
// kReportWindowMs in which there were any. When even that cannot drain the backlog (the reserve
// could not be taken back), polling pauses for kPauseMs so that a connection the kernel keeps
// offering does not make the loop spin.
//
// Ownership: owns the listening socket, the reserve descriptor, a poll handle and a timer;
// Close() must be called (and its callback awaited) before destruction. Accepted descriptors
// are handed to the on_accept callback, which owns them from then on.
// Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "store/status.h"

#include <sys/socket.h>

namespace tandem::server {

class ClientListener {
 public:
  static constexpr uint64_t kReportWindowMs = 5000;
  static constexpr uint64_t kPauseMs = 100;

  // Called with each accepted, non-blocking, close-on-exec socket.
  using OnAccept = std::function<void(int fd)>;

  ClientListener(uv_loop_t* loop, OnAccept on_accept);
  ~ClientListener();
  ClientListener(const ClientListener&) = delete;
  ClientListener& operator=(const ClientListener&) = delete;

  // Binds (with SO_REUSEADDR, as libuv does) and listens. On error nothing stays open. `host`
  // (the numeric host of `addr`) and the port bound name the listener in log lines.
  Status Listen(const sockaddr* addr, int backlog, const std::string& host);
  // The port bound (the real one when asked for 0).
  int port() const { return port_; }
  // Stops accepting and closes everything; `done` once the handles are closed (at once when
  // Listen never succeeded).
  void Close(std::function<void()> done);

 private:
  static void PollCb(uv_poll_t* p, int status, int events) noexcept;
  static void ReportCb(uv_timer_t* t) noexcept;
  static void ResumeCb(uv_timer_t* t) noexcept;
  void OnReadable();
  // At the limit: accept and close what waits, with the reserve descriptor given up meanwhile.
  // False when nothing could be accepted (the caller pauses).
  bool RefuseWaiting(int err);
  void CountRefusal(int err);
  void OnReportWindowEnd();
  void Pause();
  void HandleClosed();  // once every handle is closed

  uv_loop_t* const loop_;
  const OnAccept on_accept_;
  std::string where_;
  int fd_ = -1;
  int reserve_fd_ = -1;  // /dev/null, kept open to be given up at the limit
  int port_ = 0;
  uv_poll_t poll_{};
  uv_timer_t report_timer_{};  // ends a report window
  uv_timer_t resume_timer_{};  // ends a pause
  bool open_ = false;
  bool closing_ = false;
  bool window_open_ = false;        // a refusal line was logged less than kReportWindowMs ago
  uint64_t refused_in_window_ = 0;  // refusals since the last line
  int last_error_ = 0;              // EMFILE or ENFILE, for the next line
  std::function<void()> close_done_;
};

}  // namespace tandem::server
