// heartbeat.h: the heartbeat message that members of a fault-tolerant group exchange on
// `_STAN.ft.<cluster>.<group>`, and its codec. ft/ only encodes and decodes; server/ carries the
// bytes over NATS (see ft/failover.h, FailoverHost::SendHeartbeat).
//
// Ownership: plain values. Thread safety: pure functions, callable from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ft/role.h"
#include "store/status.h"

namespace tandem::ft {

struct Heartbeat {
  std::string name;       // the sender's configured name, for logs and status
  uint64_t instance = 0;  // random per process: recognises our own heartbeats, tells twins apart
  Role role = Role::kStandby;
  uint64_t epoch = 0;     // active: its own fencing epoch; standby: the highest epoch it heard
  uint64_t seq = 0;       // per sender, starts at 1, +1 per heartbeat
};

// The subject heartbeats travel on.
std::string HeartbeatSubject(std::string_view cluster_id, std::string_view group);

// One line of compact JSON (format at the top of heartbeat.cc).
std::string EncodeHeartbeat(const Heartbeat& hb);
// InvalidArgument (naming the problem) for anything that is not a version-1 heartbeat.
Result<Heartbeat> DecodeHeartbeat(std::string_view payload);

}  // namespace tandem::ft
