// queue_group.h: StanQueueGroup, a streaming queue group of one channel. (Named apart from the
// NATS core's queue subscriptions, with which it shares nothing: the core picks a member at
// random per message and forgets it; a streaming group keeps a position, a rotation and the
// unacked messages of its members.)
//
// The group has one last_sent shared by its members; each new message goes to the best member
// (fewest unacked, not stalled, heartbeats fine); the group stops while every member is
// stalled. A member that leaves, by unsubscribe or close alike, hands its unacked messages over
// to the others. A durable queue group whose last member closes is kept as an offline "shadow"
// subscription holding the position and the pending set, which the next member to join takes
// over. The delivery engine's side of it is delivery_queue_group.cc.
//
// Ownership: owned by its Channel; members and the shadow are StanSubs owned by the same
// channel. Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/stan/stan_sub.h"

namespace tandem::server {

class StanQueueGroup {
 public:
  StanQueueGroup(std::string name, bool durable) : name(std::move(name)), durable(durable) {}
  StanQueueGroup(const StanQueueGroup&) = delete;
  StanQueueGroup& operator=(const StanQueueGroup&) = delete;

  const std::string name;  // stored queue name ("durable:group" for durable groups)
  const bool durable;
  uint64_t last_sent = 0;
  std::vector<StanSub*> members;  // active members, in rotation order
  StanSub* shadow = nullptr;      // offline record of a durable group with no member
  Prefetch prefetch;
  bool all_stalled() const {
    for (auto* m : members)
      if (!m->stalled()) return false;
    return true;
  }
};

}  // namespace tandem::server
