// bus.h: the seam between the layers that speak NATS as clients (the streaming layer, the
// pair's heartbeats) and whichever NATS carries their messages. Today the one implementation
// is the embedded core's in-process client (server/nats/internal_client.h); a client of an
// external NATS cluster is meant to be a second one, added beside it without touching its users.
//
// The contract every implementation keeps:
//   - Subscribe/Unsubscribe/Publish have the meaning of SUB/UNSUB/PUB on one NATS connection:
//     same subject grammar (server/bus/subject.h), same queue-group rule (one member of a queue
//     group gets each message), and a connection sees its own publishes (echo on).
//   - Handlers run on the loop thread. A handler may subscribe, unsubscribe (itself included)
//     and publish. The views in InboundMsg are valid only during the call.
//   - Publish never blocks and never fails to the caller: a message that cannot be sent is the
//     implementation's to buffer or drop, as on a NATS connection.
//   - HasInterest is a hint for skipping work nobody would receive; an implementation that cannot
//     know (a client of a remote cluster) answers true.
//   - InboundMsg::sender names the NATS connection that published the message: an opaque id,
//     the same for every message of one connection and never reused for another while the
//     process runs; 0 when the publisher is in-process or the implementation cannot tell.
//   - SubscribedBy(sender, subject) answers whether that connection holds, right now, a
//     subscription on exactly that literal subject (a wildcard subscription that happens to
//     match does not count: a `>` tap must not pass for the owner of every inbox). The streaming
//     layer uses it to bind sessions to their owner (server/stan/session_guard.h). An
//     implementation that cannot know (a client of an external cluster) reports sender 0 and
//     answers true; the inboxes are then protected only by being unguessable (22 random
//     characters, never shown by monitoring unless asked for) and by the cluster's own
//     permissions.
//   - InboundMsg::permissions is the publishing connection's subject permissions, or null when
//     it has none (an unrestricted user, no authorization, an in-process publisher). The
//     streaming layer checks channel names against them (server/stan/PROTOCOL.md, "Channel
//     permissions"). The pointer is valid only during the call: keep the decision, not the
//     pointer. An implementation for an external cluster gives null: the cluster's own
//     permissions then apply to the subjects, and nothing finer to the channels.
//   - Backlogged(subject) is flow control for a publisher that can wait (the streaming layer's
//     deliveries, whose messages stay in the store): true while a connection subscribed to the
//     literal `subject` has more queued for its socket than the implementation's high-water
//     mark. WhenDrained(subject, fn) then runs fn once, on the loop thread, when that connection
//     is back under its low-water mark or closed; fn may run inside any call into the Bus, so it
//     only schedules work. Publishing to a backlogged subject still works (nothing is dropped):
//     waiting is the publisher's choice. Implementations that cannot know (a client of an
//     external cluster, whose server applies its own slow-consumer rules) answer false and run
//     fn at once.
//   - UserOf(sender) names the user that connection authenticated as (empty without
//     authorization, for a token, for sender 0, or when the implementation cannot tell). The
//     streaming layer lets a connection of a client's own user act for it.
// Request/reply is built on these primitives by Requester (server/bus/requester.h), the same
// for every implementation.
//
// Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace tandem::server {

// A message as a subscription's handler sees it. `headers` is empty for a plain PUB. `sender`:
// the publishing connection's id, 0 for an in-process publisher or when unknown (see above).
// `permissions`: the publishing connection's subject permissions, null when it has none.
// What a user may publish to and subscribe to, by nats-server's rules (server/nats/permissions.h
// implements it). The subjects asked about are literal.
class SubjectPermissions {
 public:
  virtual bool MayPublish(std::string_view subject) = 0;
  virtual bool MaySubscribe(std::string_view subject) = 0;

 protected:
  ~SubjectPermissions() = default;
};

struct InboundMsg {
  std::string_view subject;
  std::string_view reply;
  std::string_view headers;
  std::string_view payload;
  uint64_t sender = 0;
  SubjectPermissions* permissions = nullptr;
};

class Bus {
 public:
  using Handler = std::function<void(const InboundMsg&)>;

  // Subscribes like SUB <subject> [queue] <sid>; returns the sid (> 0), or 0 if the subject is
  // invalid. The handler runs on the loop thread for every matching message.
  virtual uint64_t Subscribe(std::string_view subject, std::string_view queue, Handler handler) = 0;
  virtual void Unsubscribe(uint64_t sid) = 0;
  // Publishes like PUB. The embedded core routes before Publish returns.
  virtual void Publish(std::string_view subject, std::string_view reply,
                       std::string_view payload) = 0;
  // A fresh, unique inbox subject ("_INBOX.<22 chars>") for request/reply.
  virtual std::string NewInbox() = 0;
  // False only when no client outside this process can receive a Publish to the literal
  // `subject` (the embedded core: one cached sublist lookup over network connections).
  // Implementations that cannot know keep the default.
  virtual bool HasInterest(std::string_view subject) { return true; }
  // True when connection `sender` (an InboundMsg::sender, not 0) holds a subscription on exactly
  // the literal `subject`. Implementations that cannot know keep the default.
  virtual bool SubscribedBy(uint64_t sender, std::string_view subject) { return true; }
  // The user connection `sender` authenticated as, or empty (see above). The view is valid
  // until the loop runs again.
  virtual std::string_view UserOf(uint64_t sender) { return {}; }
  // Flow control (see above). Implementations that cannot know keep the defaults.
  virtual bool Backlogged(std::string_view subject) { return false; }
  virtual void WhenDrained(std::string_view subject, std::function<void()> fn) { fn(); }

 protected:
  virtual ~Bus() = default;
};

}  // namespace tandem::server
