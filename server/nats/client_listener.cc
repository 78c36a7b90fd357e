// client_listener.cc: ClientListener (see client_listener.h).
#include "server/nats/client_listener.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include <spdlog/spdlog.h>

#include "server/util/close_handles.h"
#include "server/util/value_syntax.h"


#include <netinet/in.h>
#include <sys/resource.h>

namespace tandem::server {
namespace {

// Accepts per readable event at most: the poll is level-triggered, so the rest waits one loop
// turn and other connections get their turn meanwhile.
constexpr int kAcceptsPerEvent = 128;

int AcceptOne(int listen_fd) {
  for (;;) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0 || errno != EINTR) return fd;
  }
}

std::string LimitText(int err) {
  if (err == ENFILE) return "too many open files in the system";
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    return fmt::format("too many open files (open files limit {})", rl.rlim_cur);
  }
  return "too many open files";
}

}  // namespace

ClientListener::ClientListener(uv_loop_t* loop, OnAccept on_accept)
    : loop_(loop), on_accept_(std::move(on_accept)) {}

ClientListener::~ClientListener() {
  if (fd_ >= 0) ::close(fd_);
  if (reserve_fd_ >= 0) ::close(reserve_fd_);
}

Status ClientListener::Listen(const sockaddr* addr, int backlog, const std::string& host) {
  if (open_) return Status::InvalidArgument("already listening");
  const int asked_port =
      ntohs(addr->sa_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(addr)->sin6_port
                                        : reinterpret_cast<const sockaddr_in*>(addr)->sin_port);
  where_ = FormatHostPort(host, asked_port);
  int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError("listen " + where_, uv_strerror(-errno));
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  socklen_t len = addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (bind(fd, addr, len) != 0 || listen(fd, backlog) != 0) {
    int err = errno;
    ::close(fd);
    return Status::IOError("listen " + where_, uv_strerror(-err));
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  where_ = FormatHostPort(host, port_);
  fd_ = fd;
  reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  uv_poll_init_socket(loop_, &poll_, fd_);
  uv_timer_init(loop_, &report_timer_);
  uv_timer_init(loop_, &resume_timer_);
  poll_.data = report_timer_.data = resume_timer_.data = this;
  open_ = true;
  uv_poll_start(&poll_, UV_READABLE, PollCb);
  return Status::OK();
}

void ClientListener::PollCb(uv_poll_t* p, int status, int) noexcept {
  auto* self = static_cast<ClientListener*>(p->data);
  if (status < 0) {
    spdlog::warn("client listener on {}: {}", self->where_, uv_strerror(status));
    self->Pause();
    return;
  }
  self->OnReadable();
}

void ClientListener::OnReadable() {
  for (int i = 0; i < kAcceptsPerEvent && !closing_; ++i) {
    int fd = AcceptOne(fd_);
    if (fd >= 0) {
      on_accept_(fd);
      continue;
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return;
    if (err == ECONNABORTED || err == EPROTO) continue;  // gone before it was accepted
    if (err == EMFILE || err == ENFILE) {
      if (!RefuseWaiting(err)) Pause();
      return;
    }
    // ENOBUFS, ENOMEM and the like: the connection waits in the backlog; try again shortly.
    spdlog::warn("accepting a client connection on {} failed: {}", where_, uv_strerror(-err));
    Pause();
    return;
  }
}

bool ClientListener::RefuseWaiting(int err) {
  if (reserve_fd_ >= 0) {
    ::close(reserve_fd_);
    reserve_fd_ = -1;
  }
  bool any = false;
  for (int i = 0; i < kAcceptsPerEvent; ++i) {
    int fd = AcceptOne(fd_);
    if (fd < 0) break;
    ::close(fd);
    any = true;
    CountRefusal(err);
  }
  reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return any;
}

void ClientListener::CountRefusal(int err) {
  last_error_ = err;
  if (window_open_) {
    ++refused_in_window_;
    return;
  }
  spdlog::warn(
      "refused 1 client connection on {}: {}; further refusals are counted and logged "
      "every {}s",
      where_, LimitText(err), kReportWindowMs / 1000);
  window_open_ = true;
  refused_in_window_ = 0;
  uv_timer_start(&report_timer_, ReportCb, kReportWindowMs, 0);
}

void ClientListener::ReportCb(uv_timer_t* t) noexcept {
  static_cast<ClientListener*>(t->data)->OnReportWindowEnd();
}

void ClientListener::OnReportWindowEnd() {
  if (refused_in_window_ == 0) {
    window_open_ = false;  // quiet window: the next refusal is logged at once
    return;
  }
  spdlog::warn("refused {} more client connection(s) on {} in the last {}s: {}", refused_in_window_,
               where_, kReportWindowMs / 1000, LimitText(last_error_));
  refused_in_window_ = 0;
  uv_timer_start(&report_timer_, ReportCb, kReportWindowMs, 0);
}

void ClientListener::Pause() {
  if (closing_ || uv_is_active(reinterpret_cast<uv_handle_t*>(&resume_timer_))) return;
  uv_poll_stop(&poll_);
  uv_timer_start(&resume_timer_, ResumeCb, kPauseMs, 0);
}

void ClientListener::ResumeCb(uv_timer_t* t) noexcept {
  auto* self = static_cast<ClientListener*>(t->data);
  if (!self->closing_) uv_poll_start(&self->poll_, UV_READABLE, PollCb);
}

void ClientListener::Close(std::function<void()> done) {
  if (closing_) return;
  closing_ = true;
  if (!open_) {
    if (done) done();
    return;
  }
  // A count not yet logged is logged now rather than lost.
  if (refused_in_window_ > 0) OnReportWindowEnd();
  close_done_ = std::move(done);
  CloseHandles(
      {reinterpret_cast<uv_handle_t*>(&poll_), reinterpret_cast<uv_handle_t*>(&report_timer_),
       reinterpret_cast<uv_handle_t*>(&resume_timer_)},
      [this] { HandleClosed(); });
}

void ClientListener::HandleClosed() {
  ::close(fd_);  // after the poll handle is closed: libuv no longer watches it
  fd_ = -1;
  if (reserve_fd_ >= 0) ::close(reserve_fd_);
  reserve_fd_ = -1;
  if (close_done_) {
    auto done = std::move(close_done_);
    done();
  }
}

}  // namespace tandem::server
