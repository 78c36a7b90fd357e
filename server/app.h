// app.h: the tandem process. App owns the uv loop and every long-lived piece of a running
// server, runs the start sequence, serves until SIGTERM/SIGINT, then runs the shutdown sequence
// and returns the process exit status. main.cc parses the command line and the config and
// hands the Config to App; nothing else in the process reaches for globals.
//
// Start sequence (App::Start), each step logs what it did; a failure logs one line and makes
// Run() return 1 after closing whatever was already open:
//   1. process: RLIMIT_NOFILE soft limit raised to the hard limit, SIGPIPE ignored, logging.
//   2. loop: uv_loop_init, SIGTERM and SIGINT watchers (uv_signal_t), and the before-sleep
//      sequence (server/util/before_sleep.h): the work every loop pass does just before the
//      loop polls, in this fixed order:
//        a. "stan.submit": the streaming layer completes the store batch this pass filled (the
//           delivery engine's coalesced state, the PubAcks kept aside) and submits it when the
//           store writer has room (StanServer::SubmitStoreBatch; only while active).
//        b. "nats.flush": the NATS core hands every queued outbound byte to its socket
//           (NatsServer::FlushAll; only while listening).
//      The flush is last so that everything routed since the previous pass, by callbacks
//      (deliveries and PubAcks go out when a commit completes, in the store's completion
//      callback) and by the steps before it, reaches the sockets before the loop sleeps. This
//      is the order the two prepare handles had before they were merged into this sequence:
//      libuv ran the later-started one, the store writer's, first.
//   3. systemd: the watchdog timer when WatchdogSec= is set (standbys ping it too).
//      disk: the free space of the store directory, checked now and every few seconds (a
//      lock attempt waits while it is short, and /healthz says so).
//      http: the monitoring server (server/monitor/monitor.h) when config.http is set, on every
//      instance, standbys included (they answer serverz, healthz, isFTActive and metrics). The
//      monitor's source learns each piece below (Set*) as it comes up and goes away.
//   3b. nats: with nats.servers, ExternalBus connects to the cluster (blocking, each server
//      tried once); no server answering is a failed start (exit 1), as for the reference
//      streaming server. Every member connects: the heartbeats travel through the cluster.
//   3c. partitioning (streaming.partitioning): the group's channel list goes out on
//      _STAN.part.<cluster> (server/stan/partitions.h) and step 4 waits for the answers; a
//      partition that owns one of these channels too stops the start (one line, exit 4). From
//      then on the list is checked again whenever the cluster reports a new server (a
//      conflict: graceful stop, exit 4).
//   3d. cluster id (external cluster, no partitioning): a connect request with the cluster id
//      as client id goes to the discover subject (server/stan/cluster_id_check.h); an answer
//      within 250 ms from anyone but this group's own active stops the start (one line,
//      `discovered another streaming server with cluster ID "X"`, exit 1), as the reference
//      does. Takeovers do not check again: each member checked when it started.
//   4. ft: FtNode starts the role machine: it tries the store lock (Store::Open on the pool).
//      Busy means another instance is active: this one stands by (no client port, heartbeats
//      with the active over a PeerLink) and tries again when the active goes away. READY=1 is
//      sent once the role is settled. Any other failure means the store cannot be used: after
//      a few retries for a passing error (ft/store_failure.h), one error line and exit 1.
// When the lock is won (FtNode::Delegate::Serve, in this order):
//   5. store: Recover() on the pool (the epoch was bumped by Open).
//   6. core: NatsServer(core options; INFO connect_urls default to ft.peers), Listen, log
//      "listening for clients on HOST:PORT". With an external cluster (nats.servers) there is
//      no core: the connection to the cluster was made at step 3b, before the role machine
//      started, and is the streaming layer's Bus.
//   7. streaming: StanServer from the recovered state, Start() (redelivers pending); a failed
//      commit leaves the store's sticky error, which the role machine finds on its next tick
//      and fences (exit 3).
//   8. monitoring: the source is told of the core, the streaming layer and the store; the
//      streaming layer's commits feed the commit histograms.
//   9. ft: heartbeats start; the role becomes active.
//
// Shutdown sequence. A signal asks FtNode to stop: an active stops serving first
// (Delegate::StopServing: core StopAccepting, streaming Stop after the batch in flight, store
// Close, which frees the lock), then sends a last "stopping" heartbeat so a standby takes over at
// once, then App::BeginShutdown(0). BeginShutdown (also on a fatal start error):
//   1. ft: timer and peer links closed; http: Shutdown (closes alongside the next steps).
//   2. core: NatsServer::Shutdown flushes every queued byte (the last heartbeat included) and
//      closes every connection.
//   3. store: Close if still open.
//   4. own handles closed; uv_run returns; uv_loop_close must return 0.
// A second signal during shutdown exits at once with status 128+signal. A shutdown that takes
// longer than kShutdownDeadline is abandoned with status 1. A fenced instance (another active
// won, the store failed) exits at once with status 3 from inside FtNode, without another write.
//
// Ownership: App owns the loop, its handles and every piece above (unique_ptr members). Pieces
// borrow the loop and are destroyed before it is closed.
// Thread safety: one App per process; Run() is called once, on the main thread, which becomes
// the loop thread.
#pragma once

#include <uv.h>

#include <chrono>
#include <memory>

#include "server/config.h"
#include "server/pair/ft_node.h"
#include "store/status.h"
#include "store/store.h"

namespace tandem::server {

class Bus;
class NatsServer;
class StanServer;
class SystemdNotifier;
class HttpServer;
class DiskSpace;
class MetricsRegistry;
class Monitor;
class ProcessMonitorSource;
class BeforeSleep;
class ExternalBus;
class Partitions;
class ClusterIdCheck;

class App final : public FtNode::Delegate {
 public:
  explicit App(Config config);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Runs the process to the end. Returns the exit status: 0 after a graceful stop, 1 when the
  // start sequence failed or a fatal error stopped the server.
  int Run();

  static constexpr std::chrono::seconds kShutdownDeadline{10};
  // Exit status when another partition of the cluster owns one of this group's channels.
  static constexpr int kExitPartitionConflict = 4;

  // FtNode::Delegate
  void Serve(std::unique_ptr<store::Store> store, std::function<void(Status)> done) override;
  Bus* HeartbeatClient() override;
  void StopServing(std::function<void(Status)> done) override;
  Status StoreHealth() override;
  void VerifyStoreOwnership(std::function<void(Status)> done) override;
  void Exit(int code) override;

 private:
  Status Start();
  Status StartPartitioned();
  Status CheckClusterIdThenStartFt();
  Status StartFt();
  Status StartCore();
  void CreateMonitor();
  Status StartHttp();
  void AfterRecover(Result<store::Recovered> recovered, std::function<void(Status)> done);
  void OnSignal(int signum);
  void BeginShutdown(int exit_status);
  void AfterCoreClosed();
  void CloseOwnHandles();
  void CloseLoop();

  static void SignalCb(uv_signal_t* handle, int signum) noexcept;
  static void DeadlineCb(uv_timer_t* handle) noexcept;

  // Constant after construction.
  const Config config_;

  uv_loop_t loop_{};
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};
  uv_timer_t deadline_timer_{};  // armed when shutdown begins
  // The per-pass steps (start sequence, step 2); closed with the App's own handles.
  std::unique_ptr<BeforeSleep> before_sleep_;
  bool loop_ready_ = false;
  bool stop_requested_ = false;  // a signal asked FtNode to stop
  std::unique_ptr<SystemdNotifier> systemd_;
  std::unique_ptr<DiskSpace> disk_;  // borrowed by ft_ and monitor_source_
  std::unique_ptr<FtNode> ft_;
  std::unique_ptr<store::Store> store_;  // from the lock being won until StopServing
  std::unique_ptr<NatsServer> nats_;     // only while active: a standby never listens
  std::unique_ptr<StanServer> stan_;     // only while active; borrows nats_ and store_
  Bus* ft_client_ = nullptr;             // owned by nats_
  // With nats.servers: the connection to the external cluster, from the start to the end, on
  // every member (the streaming layer's Bus while active, the heartbeats always); nats_ then
  // stays null: tandem does not listen for clients.
  std::unique_ptr<ExternalBus> external_;
  std::unique_ptr<Partitions> partitions_;            // with streaming.partitioning
  std::unique_ptr<ClusterIdCheck> cluster_id_check_;  // external, not partitioned: at start
  // Monitoring: the source and the registry outlive the HttpServer, which holds handlers that
  // point into the Monitor.
  int64_t start_ns_ = 0;
  std::unique_ptr<ProcessMonitorSource> monitor_source_;
  std::unique_ptr<MetricsRegistry> metrics_;
  std::unique_ptr<Monitor> monitor_;
  std::unique_ptr<HttpServer> http_;
  // The shutdown sequence has begun. App keeps no role or serving state of its own: whether
  // this process serves is the role machine's answer (FtNode::serving, FtNode::role).
  bool shutting_down_ = false;
  int exit_status_ = 0;
};

}  // namespace tandem::server
