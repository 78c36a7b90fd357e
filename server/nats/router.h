// router.h: message routing rules of the NATS core on top of the Sublist: fan-out, queue-group
// choice, echo suppression, auto-unsubscribe after UNSUB max, the 503 no-responders reply and
// the message counters.
//
// Called by ClientConn (PUB/HPUB, SUB, UNSUB) and by the in-process clients; delivery goes back
// through Subscriber::Deliver on the subscription's owner. Route runs synchronously: every matching
// subscriber has the message (copied into its outbound queue, or handled) before Route returns.
// A handler may subscribe, unsubscribe, publish or close connections while Route runs: the
// match result and its subscriptions are kept alive for the whole fan-out, and subscriptions
// removed meanwhile are skipped. So are those of a retired owner (a closed connection whose
// subscriptions are still being removed): they never count as a delivery nor as a queue member.
//
// Ownership: the Router owns the Sublist; subscriptions are shared with their owners (see
// sublist.h). Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "server/nats/nats_server.h"
#include "server/nats/sublist.h"

namespace tandem::server {

class Router {
 public:
  explicit Router(size_t cache_max = Sublist::kDefaultCacheMax);
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // REQUIRES: sub->subject passed IsValidSubject. Returns false if the trie refuses it.
  bool AddSubscription(SubscriptionPtr sub);
  // Removes `sub` from routing (idempotent). The owner forgets it itself.
  void RemoveSubscription(const SubscriptionPtr& sub);

  // Delivers `msg` to every plain subscription matching msg.subject and to one member of each
  // matching queue group. `publisher` (may be null) is skipped when its echo() is false.
  // Subscribers see msg.sender set to the publisher's conn_id() (0 when null), whatever the
  // caller put there.
  // Returns true if at least one subscription received the message.
  bool Route(Subscriber* publisher, const InboundMsg& msg);
  // True when a subscription owned by a network connection matches the literal `subject`.
  // Subscriptions of InternalClients (those with a handler) do not count. Uses the match cache.
  bool HasInterest(std::string_view subject);
  // Flow control for in-process publishers (Bus::Backlogged): true when a network connection
  // with a subscription matching the literal `subject` has more queued than its high-water mark.
  bool Backlogged(std::string_view subject);
  // Runs `fn` once that connection drained or closed (at once when none is backlogged); `fn`
  // may run inside any call into the core, so it only schedules work.
  void WhenDrained(std::string_view subject, std::function<void()> fn);
  // True when the network connection `sender` (Subscriber::conn_id, not 0) holds a live
  // subscription on exactly the literal `subject`; wildcard subscriptions that match it do not
  // count. One (cached) sublist match, then a scan of its few subscriptions.
  bool SubscribedBy(uint64_t sender, std::string_view subject);
  // Sends the no-responders status message (header "NATS/1.0 503", empty payload) to
  // `publisher` on its own subscription that matches `reply`, if it has one.
  void SendNoResponders(Subscriber* publisher, std::string_view reply);

  // The publisher of the message being routed (null outside Route or for no-responders).
  Subscriber* current_publisher() const { return current_publisher_; }

  CoreStats& stats() { return stats_; }
  const CoreStats& stats() const { return stats_; }
  Sublist& sublist() { return sublist_; }
  const Sublist& sublist() const { return sublist_; }

 private:
  // Delivers on one subscription; applies the UNSUB max. Returns false if it was closed.
  bool DeliverTo(const SubscriptionPtr& sub, const InboundMsg& msg);
  bool Eligible(const Subscription& sub, const Subscriber* publisher) const;
  uint64_t NextRandom();

  Sublist sublist_;
  CoreStats stats_;
  Subscriber* current_publisher_ = nullptr;
  uint64_t rng_;
};

}  // namespace tandem::server
