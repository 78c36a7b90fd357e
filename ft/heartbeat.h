// heartbeat.h: the heartbeat message that members of a fault-tolerant group exchange on
// `_STAN.ft.<cluster>.<group>`, its codec, and the proofs of membership made from the group key.
// ft/ only encodes, signs and checks; server/ carries the bytes over NATS (see ft/failover.h,
// FailoverHost::SendHeartbeat).
//
// Every heartbeat is signed with the group key (store/identity.h: made with the store, kept in
// it and in the identity file beside it, so only processes that can read the store have it):
// a heartbeat whose signature does not check is dropped, so no client can make a member change
// role or exit by publishing one. The same key proves membership to the embedded core, which
// reserves the heartbeat subjects for members (MemberToken).
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
  uint64_t epoch = 0;    // active: its own fencing epoch; standby: the highest epoch it heard
  uint64_t seq = 0;      // per sender, starts at 1, +1 per heartbeat
  std::string store_id;  // the store the sender serves (active) or stands by for; "" unknown
};

// The subjects reserved for members in the embedded core: every heartbeat subject.
inline constexpr char kReservedSubjectPrefix[] = "_STAN.ft.";

// The subject heartbeats travel on.
std::string HeartbeatSubject(std::string_view cluster_id, std::string_view group);

// One line of compact JSON, signed with `group_key` (64 hex digits; format at the top of
// heartbeat.cc).
std::string EncodeHeartbeat(const Heartbeat& hb, std::string_view group_key);
// InvalidArgument (naming the problem) for anything that is not a version-2 heartbeat signed
// with `group_key`, and for every payload while the key is unknown (empty).
Result<Heartbeat> DecodeHeartbeat(std::string_view payload, std::string_view group_key);

// The secret a member sends as `auth_token` in its CONNECT to another member's client port:
// 64 hex digits derived from the group key, the cluster id and the group. "" without a key.
std::string MemberToken(std::string_view group_key, std::string_view cluster_id,
                        std::string_view group);
// Constant-time comparison of two tokens; false when `expected` is empty.
bool TokenMatches(std::string_view expected, std::string_view given);

}  // namespace tandem::ft
