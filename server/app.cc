// app.cc: the process shell: start sequence, signal handling, shutdown sequence (see app.h).
#include "server/app.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "server/logging.h"
#include "server/nats_server.h"
#include "server/stan_server.h"

#include <sys/resource.h>

namespace tandem::server {
namespace {

// Event loops hold one descriptor per client: take every descriptor the hard limit allows.
void RaiseFdLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    spdlog::warn("getrlimit(RLIMIT_NOFILE) failed: {}", strerror(errno));
    return;
  }
  if (rl.rlim_cur == rl.rlim_max) return;
  rlim_t old = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    spdlog::warn("cannot raise the open files limit from {}: {}", old, strerror(errno));
    return;
  }
  spdlog::debug("open files limit raised from {} to {}", old, rl.rlim_cur);
}

const char* SignalName(int signum) {
  switch (signum) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    default:
      return "signal";
  }
}

}  // namespace

App::App(Config config) : config_(std::move(config)) {}

App::~App() = default;

int App::Run() {
  SetupLogging(config_.log_level);
  RaiseFdLimit();
  signal(SIGPIPE, SIG_IGN);  // a peer that went away is an EPIPE on the write, not a death

  int rc = uv_loop_init(&loop_);
  if (rc != 0) {
    spdlog::error("cannot create the event loop: {}", uv_strerror(rc));
    return 1;
  }
  loop_ready_ = true;
  uv_signal_init(&loop_, &sigterm_);
  uv_signal_init(&loop_, &sigint_);
  sigterm_.data = sigint_.data = this;
  uv_signal_start(&sigterm_, SignalCb, SIGTERM);
  uv_signal_start(&sigint_, SignalCb, SIGINT);
  uv_timer_init(&loop_, &deadline_timer_);
  uv_timer_init(&loop_, &watchdog_timer_);
  deadline_timer_.data = watchdog_timer_.data = this;

  Status s = Start();
  if (s.ok()) {
    state_ = State::kRunning;
    StartSystemd();
  } else {
    spdlog::error("{}", s.message());
    BeginShutdown(1);
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  CloseLoop();  // before the pieces go: a handle one of them left open is closed while it lives
  stan_.reset();
  nats_.reset();
  store_.reset();
  if (exit_status_ == 0) spdlog::info("stopped cleanly");
  return exit_status_;
}

Status App::Start() {
  spdlog::info("tandem {} starting: cluster id {}, store {}, sync {}", TANDEM_VERSION,
               config_.stan.cluster_id, config_.store.path,
               config_.store.sync == store::SyncMode::kFull ? "full" : "normal");
  Status s = StartStore();
  if (!s.ok()) return s;
  s = StartCore();
  if (!s.ok()) return s;
  s = StartStreaming();
  if (!s.ok()) return s;
  // Steps 6 (ft) and 7 (http) go here.
  return Status::OK();
}

Status App::StartStore() {
  auto opened = store::Store::Open(config_.store, &loop_);
  if (!opened.ok()) {
    if (opened.status().IsBusy()) {
      return Status::Busy(fmt::format(
          "store {} is held by another tandem instance (standby mode is not available yet)",
          config_.store.path));
    }
    return Status::IOError("cannot open store " + config_.store.path, opened.status().ToString());
  }
  store_ = std::move(opened.value());
  auto recovered = store_->Recover();
  if (!recovered.ok()) {
    return Status::IOError("cannot recover store " + config_.store.path,
                           recovered.status().ToString());
  }
  recovered_ = std::move(recovered.value());
  spdlog::info("store {} open (epoch {}): {} channels, {} clients, {} subscriptions",
               config_.store.path, store_->epoch(), recovered_.channels.size(),
               recovered_.clients.size(), recovered_.subs.size());
  return Status::OK();
}

Status App::StartStreaming() {
  stan_ = std::make_unique<StanServer>(&loop_, nats_->CreateInternalClient("stan"), store_.get(),
                                       std::move(recovered_), config_.stan);
  recovered_ = store::Recovered{};
  stan_->SetOnFatal([this](const Status& s) {
    spdlog::error("store failure, stopping: {}", s.ToString());
    BeginShutdown(1);
  });
  return stan_->Start();
}

Status App::StartCore() {
  nats_ = std::make_unique<NatsServer>(&loop_, config_.core);
  Status s = nats_->Listen();
  if (!s.ok()) {
    return Status::IOError(fmt::format("cannot listen for clients on {}: {}",
                                       FormatHostPort(config_.core.host, config_.core.port),
                                       s.ToString()));
  }
  spdlog::info("listening for clients on {}", FormatHostPort(config_.core.host, nats_->port()));
  return Status::OK();
}

void App::StartSystemd() {
  sd_notify(0, "READY=1");
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    uint64_t period_ms = std::max<uint64_t>(usec / 2000, 1);
    uv_timer_start(&watchdog_timer_, WatchdogCb, period_ms, period_ms);
    spdlog::info("systemd watchdog: pinging every {}ms", period_ms);
  }
}

void App::SignalCb(uv_signal_t* handle, int signum) noexcept {
  static_cast<App*>(handle->data)->OnSignal(signum);
}

void App::WatchdogCb(uv_timer_t* handle) noexcept { sd_notify(0, "WATCHDOG=1"); }

void App::DeadlineCb(uv_timer_t* handle) noexcept {
  spdlog::error("shutdown did not finish within {}s, exiting now", App::kShutdownDeadline.count());
  std::_Exit(1);
}

void App::OnSignal(int signum) {
  if (state_ == State::kStopping) {
    spdlog::warn("{} again during shutdown, exiting now", SignalName(signum));
    std::_Exit(128 + signum);
  }
  spdlog::info("{} received, shutting down", SignalName(signum));
  BeginShutdown(0);
}

void App::BeginShutdown(int exit_status) {
  if (state_ == State::kStopping) return;
  state_ = State::kStopping;
  exit_status_ = exit_status;
  sd_notify(0, "STOPPING=1");
  uv_timer_stop(&watchdog_timer_);
  uv_timer_start(&deadline_timer_, DeadlineCb, std::chrono::milliseconds(kShutdownDeadline).count(),
                 0);
  if (!nats_) {
    AfterCoreClosed();
    return;
  }
  nats_->StopAccepting();
  if (!stan_) {
    AfterStreamingDrained();
    return;
  }
  // Streaming: finish the batches already written; their PubAcks go out before the flush.
  stan_->Stop();
  stan_->Drain([this] { AfterStreamingDrained(); });
}

void App::AfterStreamingDrained() {
  nats_->Shutdown([this] { AfterCoreClosed(); });
}

void App::AfterCoreClosed() {
  if (store_) {
    Status s = store_->Close();
    if (!s.ok()) {
      spdlog::error("closing the store: {}", s.ToString());
      if (exit_status_ == 0) exit_status_ = 1;
    }
  }
  // The ft goodbye goes here (step 4).
  CloseOwnHandles();
}

void App::CloseOwnHandles() {
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&sigterm_), reinterpret_cast<uv_handle_t*>(&sigint_),
        reinterpret_cast<uv_handle_t*>(&deadline_timer_),
        reinterpret_cast<uv_handle_t*>(&watchdog_timer_)}) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }
}

void App::CloseLoop() {
  if (!loop_ready_) return;
  int rc = uv_loop_close(&loop_);
  if (rc == UV_EBUSY) {
    // A piece left a handle open: name it, close it, and let the close callbacks run.
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          spdlog::warn("handle left open at exit: {}", uv_handle_type_name(uv_handle_get_type(h)));
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop_);
  }
  if (rc != 0) {
    spdlog::error("event loop did not close: {}", uv_strerror(rc));
    if (exit_status_ == 0) exit_status_ = 1;
  }
  loop_ready_ = false;
}

}  // namespace tandem::server
