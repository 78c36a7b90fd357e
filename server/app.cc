// app.cc: the process shell: start sequence, signal handling, shutdown sequence (see app.h).
#include "server/app.h"

#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include <spdlog/spdlog.h>

#include "server/logging.h"
#include "server/monitor/http_server.h"
#include "server/monitor/metrics.h"
#include "server/monitor/monitor.h"
#include "server/monitor_adapter.h"
#include "server/nats/nats_server.h"
#include "server/natsclient/external_bus.h"
#include "server/pair/ft_node.h"
#include "server/pair/systemd_notify.h"
#include "server/stan/cluster_id_check.h"
#include "server/stan/partitions.h"
#include "server/stan/stan_server.h"
#include "server/util/before_sleep.h"
#include "server/util/disk_space.h"
#include "server/util/pool_job.h"
#include "server/util/protobuf_log.h"

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

namespace {

// A pool job for the start sequence: `run` on a pool thread, `after` on the loop; both inline
// when the pool cannot take the job.
void QueueWork(uv_loop_t* loop, std::function<void()> run, std::function<void()> after) {
  if (QueuePoolJob(loop, run, [after](int) { after(); }) != 0) {
    run();
    after();
  }
}

}  // namespace

int App::Run() {
  start_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  SetupLogging(config_.log_level, config_.log_format);
  RouteProtobufLogToSpdlog();
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
  deadline_timer_.data = this;
  // The order of these steps is the one documented in app.h (start sequence, step 2).
  before_sleep_ = std::make_unique<BeforeSleep>(&loop_);
  before_sleep_->Add("stan.submit", [this] {
    if (stan_) stan_->SubmitStoreBatch();
  });
  before_sleep_->Add("nats.flush", [this] {
    if (nats_) nats_->FlushAll();
  });

  Status s = Start();
  if (!s.ok()) {
    spdlog::error("{}", s.message());
    BeginShutdown(1);
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  CloseLoop();  // before the pieces go: a handle one of them left open is closed while it lives
  http_.reset();
  monitor_.reset();
  stan_.reset();
  nats_.reset();
  ft_.reset();
  partitions_.reset();
  cluster_id_check_.reset();
  external_.reset();
  disk_.reset();
  systemd_.reset();
  before_sleep_.reset();
  if (exit_status_ == 0) spdlog::info("stopped cleanly");
  return exit_status_;
}

Status App::Start() {
  spdlog::info("tandem {} starting: cluster id {}, store {}, sync {}", TANDEM_VERSION,
               config_.stan.cluster_id, config_.store.path,
               config_.store.sync == store::SyncMode::kFull ? "full" : "normal");
  if (config_.store.TEST_skip_lock) {
    spdlog::warn("TEST: the store lock is skipped; only fencing protects the store");
  }
  systemd_ = std::make_unique<SystemdNotifier>(&loop_);
  systemd_->StartWatchdog();
  CreateMonitor();
  disk_ = std::make_unique<DiskSpace>(&loop_, config_.store_dir);
  disk_->Start();
  monitor_source_->SetDiskSpace(disk_.get());
  Status hs = StartHttp();
  if (!hs.ok()) return hs;
  if (config_.external.enabled()) {
    external_ = std::make_unique<ExternalBus>(&loop_, config_.external);
    Status cs = external_->Connect();
    if (!cs.ok()) return cs;
    monitor_source_->SetExternal(external_.get());
  }
  if (config_.stan.partitioning) return StartPartitioned();
  if (external_) return CheckClusterIdThenStartFt();
  return StartFt();
}

// On an external cluster, without partitioning: no other streaming server may answer for the
// cluster id (cluster_id_check.h; the reference's start-up check). One that does stops the
// start (exit 1) before the role machine runs.
Status App::CheckClusterIdThenStartFt() {
  ClusterIdCheck::Options co;
  co.cluster_id = config_.stan.cluster_id;
  co.discover_prefix = config_.stan.discover_prefix;
  co.group = config_.ft.group;
  cluster_id_check_ = std::make_unique<ClusterIdCheck>(&loop_, external_.get(), std::move(co));
  cluster_id_check_->Run([this](const Status& s) {
    cluster_id_check_->Stop();
    if (shutting_down_) return;
    Status fs = s.ok() ? StartFt() : s;
    if (!fs.ok()) {
      spdlog::error("{}", fs.message());
      BeginShutdown(1);
    }
  });
  return Status::OK();
}

// Partitioning: the group's channel list is checked against the cluster's other partitions
// before the role machine starts (a conflict: exit status 4, nothing served), and again each time
// the cluster reports a new server (a conflict then: stop, exit status 4).
Status App::StartPartitioned() {
  Partitions::Options po;
  po.cluster_id = config_.stan.cluster_id;
  po.group = config_.ft.group;
  for (const auto& [name, entry] : config_.stan.limits.channels) po.channels.push_back(name);
  partitions_ = std::make_unique<Partitions>(&loop_, external_.get(), std::move(po));
  partitions_->Start();
  partitions_->Check([this](const Status& s) {
    if (shutting_down_) return;
    if (!s.ok()) {
      spdlog::error("{}; not starting", s.message());
      return BeginShutdown(kExitPartitionConflict);
    }
    spdlog::info("partitioning: no other partition owns these channels");
    external_->SetOnDiscoveredServers([this] {
      if (shutting_down_) return;
      spdlog::info("partitioning: the cluster reported a new server; checking the channels again");
      partitions_->Check([this](const Status& st) {
        if (st.ok() || shutting_down_) return;
        spdlog::error("{}; stopping", st.message());
        BeginShutdown(kExitPartitionConflict);
      });
    });
    Status fs = StartFt();
    if (!fs.ok()) {
      spdlog::error("{}", fs.message());
      BeginShutdown(1);
    }
  });
  return Status::OK();
}

Status App::StartFt() {
  FtNode::Options o;
  o.bus = external_.get();
  o.ft = config_.ft;
  o.cluster_id = config_.stan.cluster_id;
  o.store = config_.store;
  o.listen = FormatHostPort(config_.core.host, config_.core.port);
  o.tls = config_.ft_tls_context;  // built once with the configuration
  ft_ = std::make_unique<FtNode>(&loop_, std::move(o), this, systemd_.get());
  monitor_source_->SetFt(ft_.get());
  ft_->SetDiskSpace(disk_.get());
  return ft_->Start();
}

void App::CreateMonitor() {
  ProcessMonitorSource::Options o;
  o.cluster_id = config_.stan.cluster_id;
  o.version = TANDEM_VERSION;
  o.name = !config_.ft.name.empty() ? config_.ft.name : config_.core.server_name;
  o.group = config_.ft.group;
  o.start_ns = start_ns_;
  monitor_source_ = std::make_unique<ProcessMonitorSource>(o);
  metrics_ = std::make_unique<MetricsRegistry>();
  MonitorOptions monitor_options = MonitorOptionsFrom(config_.core, config_.stan);
  monitor_options.backup_dir = config_.http.backup_dir;
  monitor_ = std::make_unique<Monitor>(monitor_source_.get(), metrics_.get(), monitor_options);
}

Status App::StartHttp() {
  if (config_.http.host.empty()) return Status::OK();
  HttpServerOptions options;
  // https: the `tls` section's context, the one the client port uses (config.cc builds it).
  if (config_.http.https) options.tls = config_.core.tls_context;
  http_ = std::make_unique<HttpServer>(&loop_, options);
  monitor_->RegisterRoutes(http_.get());
  Status s = http_->Listen(config_.http.host, config_.http.port);
  if (!s.ok()) return Status::IOError("cannot start the monitoring server", s.ToString());
  spdlog::info("monitoring on {}://{}", config_.http.https ? "https" : "http",
               FormatHostPort(config_.http.host, http_->port()));
  return Status::OK();
}

void App::Serve(std::unique_ptr<store::Store> store, std::function<void(Status)> done) {
  store_ = std::move(store);
  store::Store* st = store_.get();
  auto recovered = std::make_shared<std::optional<Result<store::Recovered>>>();
  QueueWork(
      &loop_, [st, recovered] { recovered->emplace(st->Recover()); },
      [this, recovered, done = std::move(done)]() mutable {
        AfterRecover(std::move(**recovered), std::move(done));
      });
}

void App::AfterRecover(Result<store::Recovered> recovered, std::function<void(Status)> done) {
  if (shutting_down_) {
    done(Status::ShutdownInProgress("shutting down"));
    return;
  }
  if (!recovered.ok()) {
    done(Status::IOError("cannot recover the store", recovered.status().ToString()));
    return;
  }
  spdlog::info("store recovered: epoch {}, {} channel(s), {} client(s), {} subscription(s)",
               store_->epoch(), recovered->channels.size(), recovered->clients.size(),
               recovered->subs.size());
  Status s = StartCore();
  if (!s.ok()) {
    done(s);
    return;
  }
  Bus* bus = external_ ? static_cast<Bus*>(external_.get()) : nats_->CreateInternalClient("stan");
  StanOptions stan_options = config_.stan;
  stan_options.own_probe_prefix =
      ClusterIdCheck::ProbeInboxPrefix(config_.stan.cluster_id, config_.ft.group);
  stan_ = std::make_unique<StanServer>(&loop_, bus, store_.get(), std::move(recovered).value(),
                                       std::move(stan_options));
  // Only logged here: the role machine learns of the store's error from the store itself
  // (FtNode::Delegate::StoreHealth, asked on every tick), the one path errors take to it.
  stan_->SetOnFatal([this](const Status& st) {
    if (!(stop_requested_ && st.IsShutdownInProgress())) {
      spdlog::error("streaming: commit failed: {}; no more acknowledgements", st.ToString());
    }
  });
  s = stan_->Start();
  if (!s.ok()) {
    done(s);
    return;
  }
  spdlog::info("streaming layer serving cluster {}", config_.stan.cluster_id);
  stan_->SetCommitObserver([m = monitor_.get()](size_t ops, int64_t latency_ns) {
    m->RecordCommit(1, ops, latency_ns);
  });
  monitor_source_->SetNats(nats_.get());
  monitor_source_->SetStan(stan_.get());
  monitor_source_->SetStore(store_.get());
  monitor_source_->CountTakeover();
  done(Status::OK());
}

Status App::StartCore() {
  if (external_) {
    spdlog::info(
        "not listening for clients: the streaming layer is a client of the NATS "
        "cluster at {}",
        external_->state().url);
    return Status::OK();
  }
  CoreOptions core = config_.core;
  if (core.connect_urls.empty() && !config_.ft.group.empty()) core.connect_urls = config_.ft.peers;
  if (!config_.ft.group.empty()) {
    // Members of the group log in with this token and alone may use the heartbeat subjects;
    // FtNode made it from this store's group key before asking to serve.
    core.member_token = ft_->member_token();
  }
  nats_ = std::make_unique<NatsServer>(&loop_, core);
  Status s = nats_->Listen();
  if (!s.ok()) {
    return Status::IOError(fmt::format("cannot listen for clients on {}: {}",
                                       FormatHostPort(config_.core.host, config_.core.port),
                                       s.ToString()));
  }
  spdlog::info("listening for clients on {}", FormatHostPort(config_.core.host, nats_->port()));
  return Status::OK();
}

Bus* App::HeartbeatClient() {
  if (external_) return external_.get();
  if (!nats_) return nullptr;
  if (!ft_client_) ft_client_ = nats_->CreateInternalClient("ft");
  return ft_client_;
}

void App::StopServing(std::function<void(Status)> done) {
  if (nats_) nats_->StopAccepting();
  auto close_store = [this, done = std::move(done)] {
    Status s;
    monitor_source_->SetStore(nullptr);
    if (store_) {
      s = store_->Close();
      store_.reset();
      spdlog::info("store closed: the lock is free");
    }
    done(s);
  };
  if (!stan_) {
    close_store();
    return;
  }
  // Streaming: Stop takes no more requests and submits the batch being filled; Drain waits until
  // every batch written so far (and what their completions add) has committed, so the PubAcks of
  // everything committed are queued to the clients before the lock is freed.
  stan_->Stop();
  stan_->Drain(std::move(close_store));
}

Status App::StoreHealth() { return store_ ? store_->health() : Status::OK(); }

void App::VerifyStoreOwnership(std::function<void(Status)> done) {
  if (!store_) {
    done(Status::OK());
    return;
  }
  // An empty batch is a transaction that only runs the epoch check (store.h, Submit).
  store_->Submit(store::WriteBatch(),
                 [done = std::move(done)](const Status& s, const store::BatchResult&) { done(s); });
}

void App::Exit(int code) { BeginShutdown(code); }

void App::SignalCb(uv_signal_t* handle, int signum) noexcept {
  static_cast<App*>(handle->data)->OnSignal(signum);
}

void App::DeadlineCb(uv_timer_t* handle) noexcept {
  spdlog::error("shutdown did not finish within {}s, exiting now", App::kShutdownDeadline.count());
  std::_Exit(1);
}

void App::OnSignal(int signum) {
  if (stop_requested_ || shutting_down_) {
    spdlog::warn("{} again during shutdown, exiting now", SignalName(signum));
    std::_Exit(128 + signum);
  }
  stop_requested_ = true;
  spdlog::info("{} received, shutting down", SignalName(signum));
  uv_timer_start(&deadline_timer_, DeadlineCb, std::chrono::milliseconds(kShutdownDeadline).count(),
                 0);
  if (systemd_) systemd_->Stopping();
  if (ft_) {
    ft_->RequestStop();  // the role machine stops serving, hands over, then calls Exit
  } else {
    BeginShutdown(0);
  }
}

void App::BeginShutdown(int exit_status) {
  if (shutting_down_) return;
  shutting_down_ = true;
  exit_status_ = exit_status;
  if (systemd_) systemd_->Stopping();
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&deadline_timer_))) {
    uv_timer_start(&deadline_timer_, DeadlineCb,
                   std::chrono::milliseconds(kShutdownDeadline).count(), 0);
  }
  if (http_) http_->Shutdown([] { spdlog::debug("monitoring server closed"); });
  if (monitor_source_) {
    monitor_source_->SetStore(nullptr);
    monitor_source_->SetStan(nullptr);
    monitor_source_->SetNats(nullptr);
    monitor_source_->SetExternal(nullptr);
  }
  auto close_core = [this] {
    if (!nats_) {
      AfterCoreClosed();
      return;
    }
    nats_->StopAccepting();
    nats_->Shutdown([this] { AfterCoreClosed(); });
  };
  if (ft_) {
    ft_->Close(close_core);
  } else {
    close_core();
  }
}

void App::AfterCoreClosed() {
  ft_client_ = nullptr;
  if (stan_) stan_->Stop();
  if (store_) {
    Status s = store_->Close();
    if (!s.ok()) spdlog::error("closing the store: {}", s.ToString());
    store_.reset();
  }
  if (partitions_) partitions_->Stop();
  if (cluster_id_check_) cluster_id_check_->Stop();
  if (external_) external_->Close(nullptr);  // flushes what was published (the last heartbeat)
  if (systemd_) systemd_->Close();
  if (disk_) disk_->Close();
  CloseOwnHandles();
}

void App::CloseOwnHandles() {
  if (before_sleep_) before_sleep_->Close();
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&sigterm_), reinterpret_cast<uv_handle_t*>(&sigint_),
        reinterpret_cast<uv_handle_t*>(&deadline_timer_)}) {
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
