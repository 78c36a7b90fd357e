// app.h: the tandem process. App owns the uv loop and every long-lived piece of a running
// server, runs the start sequence, serves until SIGTERM/SIGINT, then runs the shutdown sequence
// and returns the process exit status. main.cc parses the command line and the config and
// hands the Config to App; nothing else in the process reaches for globals.
//
// Start sequence (App::Start), each step logs what it did; a failure logs one line and makes
// Run() return 1 after closing whatever was already open:
//   1. process: RLIMIT_NOFILE soft limit raised to the hard limit, SIGPIPE ignored, logging.
//   2. loop: uv_loop_init, SIGTERM and SIGINT watchers (uv_signal_t).
//   3. store:     store::Store::Open and Recover. Busy means another instance holds the store;
//                 for now that is a start error naming the path (ft will make it a standby).
//   4. core:      NatsServer(core options), Listen, log "listening for clients on HOST:PORT".
//   5. streaming: StanServer on an InternalClient, from what Recover() returned; a failed
//                 commit later makes it call BeginShutdown(1).
//   6. ft:        [to come] the role machine; an active starts heartbeating to its standbys.
//   7. http:      [to come] the monitoring server when config.http is set.
//   8. systemd:   READY=1 and, when WatchdogSec= is set, a timer that pings the watchdog.
//
// Shutdown sequence (App::BeginShutdown, on the first SIGTERM/SIGINT or a fatal error):
//   1. core: StopAccepting; http: [to come] stop.
//   2. streaming: Stop (timers, subscriptions), then Drain: the batches already written commit
//                 and their PubAcks are queued before the connections are flushed.
//   3. core: NatsServer::Shutdown flushes every queued byte and closes every connection.
//   4. store: Close (frees the FT lock); ft: [to come] tell the standbys.
//   5. own handles closed; uv_run returns; uv_loop_close must return 0.
// A second signal during shutdown exits at once with status 128+signal. A shutdown that takes
// longer than kShutdownDeadline is abandoned with status 1.
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
#include "store/status.h"

namespace tandem::server {

class NatsServer;
class StanServer;

class App {
 public:
  explicit App(Config config);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Runs the process to the end. Returns the exit status: 0 after a graceful stop, 1 when the
  // start sequence failed or a fatal error stopped the server.
  int Run();

  static constexpr std::chrono::seconds kShutdownDeadline{10};

 private:
  enum class State { kStarting, kRunning, kStopping };

  Status Start();
  Status StartStore();
  Status StartCore();
  Status StartStreaming();
  void StartSystemd();
  void OnSignal(int signum);
  void BeginShutdown(int exit_status);
  void AfterStreamingDrained();
  void AfterCoreClosed();
  void CloseOwnHandles();
  void CloseLoop();

  static void SignalCb(uv_signal_t* handle, int signum) noexcept;
  static void DeadlineCb(uv_timer_t* handle) noexcept;
  static void WatchdogCb(uv_timer_t* handle) noexcept;

  // Constant after construction.
  const Config config_;

  uv_loop_t loop_{};
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};
  uv_timer_t deadline_timer_{};  // armed when shutdown begins
  uv_timer_t watchdog_timer_{};  // runs only under systemd with WatchdogSec=
  bool loop_ready_ = false;
  std::unique_ptr<store::Store> store_;
  store::Recovered recovered_;  // from StartStore until StartStreaming consumes it
  std::unique_ptr<NatsServer> nats_;
  std::unique_ptr<StanServer> stan_;
  State state_ = State::kStarting;
  int exit_status_ = 0;
};

}  // namespace tandem::server
