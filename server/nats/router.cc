// router.cc: fan-out, queue choice, echo, UNSUB max and no-responders (see router.h).
#include "server/nats/router.h"

#include <chrono>

namespace tandem::server {

namespace {
constexpr std::string_view kNoRespondersHeader = "NATS/1.0 503\r\n\r\n";

// True when `pred` holds for one of the subscriptions of `r` (plain ones, then queue members);
// stops at the first.
template <typename Pred>
bool AnySub(const SublistResult& r, Pred pred) {
  for (const SubscriptionPtr& sub : r.psubs) {
    if (pred(sub)) return true;
  }
  for (const auto& group : r.qsubs) {
    for (const SubscriptionPtr& sub : group) {
      if (pred(sub)) return true;
    }
  }
  return false;
}
}  // namespace

Router::Router(size_t cache_max)
    : sublist_(cache_max),
      rng_(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) | 1) {
}

bool Router::AddSubscription(SubscriptionPtr sub) {
  if (!sublist_.Insert(std::move(sub))) return false;
  stats_.subscriptions = sublist_.count();
  return true;
}

void Router::RemoveSubscription(const SubscriptionPtr& sub) {
  if (sub->closed) return;
  if (!sublist_.Remove(sub)) sub->closed = true;
  stats_.subscriptions = sublist_.count();
}

uint64_t Router::NextRandom() {
  // xorshift64: cheap, good enough to spread queue deliveries evenly.
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return rng_;
}

bool Router::Eligible(const Subscription& sub, const Subscriber* publisher) const {
  if (sub.inert()) return false;
  return !(publisher != nullptr && sub.owner == publisher && !publisher->echo());
}

bool Router::DeliverTo(const SubscriptionPtr& sub, const InboundMsg& msg) {
  if (sub->inert()) return false;
  ++sub->delivered;
  ++stats_.out_msgs;
  stats_.out_bytes += msg.headers.size() + msg.payload.size();
  sub->owner->Deliver(*sub, msg);
  if (sub->max > 0 && sub->delivered >= sub->max && !sub->closed) {
    RemoveSubscription(sub);
    sub->owner->Forget(*sub);
  }
  return true;
}

bool Router::Route(Subscriber* publisher, const InboundMsg& in) {
  InboundMsg msg = in;
  msg.sender = publisher != nullptr ? publisher->conn_id() : 0;
  ++stats_.in_msgs;
  stats_.in_bytes += msg.headers.size() + msg.payload.size();
  const std::shared_ptr<const SublistResult>& matched = sublist_.Match(msg.subject);
  if (matched->empty()) return false;
  // Held for the whole fan-out: handlers may change the Sublist meanwhile.
  std::shared_ptr<const SublistResult> r = matched;
  Subscriber* const outer_publisher = current_publisher_;  // Route nests through handlers
  current_publisher_ = publisher;
  bool delivered = false;
  for (const SubscriptionPtr& sub : r->psubs) {
    if (Eligible(*sub, publisher)) delivered |= DeliverTo(sub, msg);
  }
  for (const auto& group : r->qsubs) {
    // A random start spreads the load; the scan skips members that cannot take it.
    const size_t n = group.size();
    const size_t start = n > 1 ? NextRandom() % n : 0;
    for (size_t i = 0; i < n; ++i) {
      const SubscriptionPtr& sub = group[(start + i) % n];
      if (Eligible(*sub, publisher) && DeliverTo(sub, msg)) {
        delivered = true;
        break;
      }
    }
  }
  current_publisher_ = outer_publisher;
  return delivered;
}

bool Router::HasInterest(std::string_view subject) {
  const std::shared_ptr<const SublistResult>& r = sublist_.Match(subject);
  return AnySub(*r, [](const SubscriptionPtr& sub) { return !sub->inert() && !sub->handler; });
}

namespace {
// A network connection's live subscription whose owner has too much queued.
bool BackloggedSub(const SubscriptionPtr& sub) {
  return !sub->inert() && !sub->handler && sub->owner != nullptr && sub->owner->backlogged();
}
}  // namespace

bool Router::Backlogged(std::string_view subject) {
  return AnySub(*sublist_.Match(subject), BackloggedSub);
}

void Router::WhenDrained(std::string_view subject, std::function<void()> fn) {
  Subscriber* owner = nullptr;
  AnySub(*sublist_.Match(subject), [&](const SubscriptionPtr& sub) {
    if (!BackloggedSub(sub)) return false;
    owner = sub->owner;
    return true;
  });
  if (owner == nullptr) return fn();
  owner->WhenDrained(std::move(fn));
}

bool Router::SubscribedBy(uint64_t sender, std::string_view subject) {
  if (sender == 0) return false;
  const std::shared_ptr<const SublistResult>& r = sublist_.Match(subject);
  return AnySub(*r, [&](const SubscriptionPtr& sub) {
    return !sub->inert() && sub->owner != nullptr && sub->subject == subject &&
           sub->owner->conn_id() == sender;
  });
}

void Router::SendNoResponders(Subscriber* publisher, std::string_view reply) {
  std::shared_ptr<const SublistResult> r = sublist_.Match(reply);  // a copy: see Route
  const InboundMsg msg{reply, {}, kNoRespondersHeader, {}};
  AnySub(*r, [&](const SubscriptionPtr& sub) {
    if (sub->owner != publisher || sub->inert()) return false;
    DeliverTo(sub, msg);
    return true;
  });
}

}  // namespace tandem::server
