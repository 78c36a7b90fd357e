// session_guard.h: who may act for a streaming client. In the streaming protocol a request
// names its client and subscription by strings anyone could copy (a clientID, an ack inbox), so
// without this check any connection that learns a subject can ack, unsubscribe or close for
// another client. SessionGuard decides whether the NATS connection that sent a request
// (InboundMsg::sender) is the client's own; the server applies only requests that pass (acks,
// unsubscribes, subscription closes, connection closes) and counts the others.
//
// The rule (also in server/stan/PROTOCOL.md, "Who may act for a client"): a connection acts for
// a client when it is the client's owner, or when it subscribes to the client's heartbeat inbox
// or to the delivery inbox of one of the client's active subscriptions. "Subscribes to" means a
// subscription on exactly that subject (Bus::SubscribedBy): a wildcard tap is nobody's owner.
// The owner is the connection that registered the client (ConnectRequest), then the last one
// that passed the check or was seen holding the heartbeat inbox (answering a heartbeat, pinging,
// publishing). The owner rule is needed because clients drop inboxes before their last request:
// libnats unsubscribes the heartbeat inbox before its CloseRequest, stan.go a subscription's
// inbox before its UnsubscribeRequest. A client that reconnects gets a new connection id and
// resubscribes its inboxes, so it passes at once and becomes the owner again. Sender 0 (an
// in-process publisher, or a Bus that cannot tell) is accepted.
//
// With authentication, a connection authenticated as the owner's user (Bus::UserOf, recorded
// with the owner) acts for the client too: the user, not the socket, is what was trusted.
//
// The owner and its user are kept in memory only (a connection id means nothing to another
// process). So after a restart or a takeover nobody is the owner until the client is seen
// again, and a libnats client that closes before that (it drops its heartbeat inbox, then
// sends CloseRequest) would hold no inbox and own nothing. Hence the orphan rule: while the
// owner is unknown, a CloseRequest is accepted for a client whose heartbeat inbox nobody
// subscribes to (Bus::HasInterest false, so a wildcard tap counts as interest and keeps the
// rule off). It is sound because such a client cannot be reached: the next heartbeats would go
// unanswered and remove it anyway (hb_fail_count), so the close only brings that forward; a
// client that still listens on its inbox, or that was seen since the restart, is never closed
// by it. Persisting the owner's user with the client record would narrow this further; the
// store's record does not hold it today.
//
// Ownership: borrows the Bus and the Delivery engine, which outlive it. Thread safety: loop
// thread only.
#pragma once

#include <cstdint>

#include "server/bus/bus.h"
#include "server/stan/delivery.h"
#include "server/stan/stan_clients.h"
#include "server/stan/stan_sub.h"

namespace tandem::server {

// Refused (forged) requests since the start, per kind.
struct ForgedCounts {
  uint64_t ack = 0, unsubscribe = 0, subclose = 0, close = 0;
};

class SessionGuard {
 public:
  SessionGuard(Bus* bus, Delivery* delivery) : bus_(bus), delivery_(delivery) {}
  SessionGuard(const SessionGuard&) = delete;
  SessionGuard& operator=(const SessionGuard&) = delete;

  // An Ack on `sub`'s ack inbox; `c` is its client (null when not registered: then only
  // holding `sub`'s delivery inbox counts). Cheap when the sender is the one last allowed to ack
  // `sub` (StanSub::ack_conn), which the caller checks first.
  bool MayAck(StanSub* sub, StanClient* c, uint64_t sender);
  // An UnsubscribeRequest, SubscriptionCloseRequest (`sub` given) or CloseRequest (`sub` null)
  // for client `c` (may be null: then only holding `sub`'s delivery inbox counts).
  bool ActsFor(StanClient* c, const StanSub* sub, uint64_t sender);
  // `sender` registered `c`: it becomes the owner.
  void Register(StanClient* c, uint64_t sender) { SetOwner(c, sender); }
  // `sender` answered `c`'s heartbeat, pinged or published for it: it becomes the owner if it
  // holds the heartbeat inbox.
  void Seen(StanClient* c, uint64_t sender);

  ForgedCounts& counts() { return counts_; }
  const ForgedCounts& counts() const { return counts_; }

 private:
  // The client's heartbeat inbox or one of its subscriptions' delivery inboxes.
  bool HoldsClientInbox(StanClient* c, uint64_t sender);
  // `sender` authenticated as the owner's user (both known).
  bool SameUser(const StanClient* c, uint64_t sender);
  void SetOwner(StanClient* c, uint64_t sender);

  Bus* const bus_;
  Delivery* const delivery_;
  ForgedCounts counts_;
};

}  // namespace tandem::server
