// cluster_id_check.h: the reference streaming server's start-up check that no other streaming
// server answers for this cluster id on the NATS it joins (an external cluster, where two
// deployments can meet): a connect request with the cluster id as client id goes to
// <discover_prefix>.<cluster id>; any answer within `wait_ms` (the reference's 250 ms) means
// another server serves the id. The answer registered a client there, so a close request for it
// follows (waited for, with the same bound, so it leaves before the process stops), and the
// check fails with the reference's words: `discovered another streaming server with cluster ID
// "X"`. Silence passes.
//
// Members of this instance's own group are not another server. The probe's heartbeat inbox
// names the group (ProbeInboxPrefix: "_STAN.probe.<cluster id>.<group>.", then a random token),
// and an active serving the same group ignores connect requests with that prefix
// (StanOptions::own_probe_prefix), so a member starting beside its group's active passes. A
// reference server, or a tandem of another group, answers as to any client. An instance without
// a group probes with a plain inbox.
//
// Ownership: borrows the Bus and the loop, which must outlive it; owns its TimerQueue and
// Requester, closed by Stop() (required before the loop closes). Thread safety: loop thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "server/bus/bus.h"
#include "server/bus/requester.h"
#include "server/util/timer_queue.h"
#include "store/status.h"

namespace tandem::server {

class ClusterIdCheck {
 public:
  struct Options {
    std::string cluster_id;
    std::string discover_prefix = "_STAN.discover";
    std::string group;  // ft.group, "" when alone
    uint64_t wait_ms = 250;
  };
  // "_STAN.probe.<cluster id>.<group>." for a group, "" without one.
  static std::string ProbeInboxPrefix(const std::string& cluster_id, const std::string& group);

  ClusterIdCheck(uv_loop_t* loop, Bus* bus, Options options);
  ~ClusterIdCheck();
  ClusterIdCheck(const ClusterIdCheck&) = delete;
  ClusterIdCheck& operator=(const ClusterIdCheck&) = delete;

  // Sends the probe; `done` gets OK (nobody answered) or InvalidArgument with the reference's
  // message. Once per object.
  void Run(std::function<void(const Status&)> done);
  void Stop();

 private:
  void OnAnswer(const InboundMsg* reply);
  void Finish(const Status& s);  // hands `s` to the Run callback, at most once

  Bus* const bus_;
  const Options options_;
  TimerQueue timers_;
  Requester requester_;
  std::function<void(const Status&)> done_;
  bool stopped_ = false;
};

}  // namespace tandem::server
