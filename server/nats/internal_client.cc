// internal_client.cc: the in-process NATS client (see internal_client.h).
#include "server/nats/internal_client.h"

#include <random>

#include "server/bus/subject.h"

namespace tandem::server {

namespace {

constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

}  // namespace

InternalClientImpl::InternalClientImpl(Router* router, std::string name, UserLookup user_of)
    : router_(router), name_(std::move(name)), user_of_(std::move(user_of)) {
  // Inboxes are a random 12-char prefix (per client) plus a 10-char counter: 22 base-62 chars
  // like a NUID, unique without a random draw per inbox.
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  for (int i = 0; i < 12; ++i) inbox_seed_.push_back(kBase62[gen() % 62]);
  inbox_counter_ = gen() % 1000000;
}

InternalClientImpl::~InternalClientImpl() { Detach(); }

uint64_t InternalClientImpl::Subscribe(std::string_view subject, std::string_view queue,
                                       Handler handler) {
  if (!IsValidSubject(subject) || (!queue.empty() && !IsValidQueueName(queue))) return 0;
  const uint64_t sid = next_sid_++;
  auto sub = std::make_shared<Subscription>(this, std::string(subject), std::string(queue),
                                            std::to_string(sid));
  sub->handler = std::move(handler);
  if (!router_->AddSubscription(sub)) return 0;
  subs_.emplace(sid, std::move(sub));
  return sid;
}

void InternalClientImpl::Unsubscribe(uint64_t sid) {
  auto it = subs_.find(sid);
  if (it == subs_.end()) return;
  router_->RemoveSubscription(it->second);
  subs_.erase(it);  // a running handler stays alive: Route holds the subscription
}

void InternalClientImpl::Publish(std::string_view subject, std::string_view reply,
                                 std::string_view payload) {
  router_->Route(this, InboundMsg{subject, reply, {}, payload});
}

bool InternalClientImpl::HasInterest(std::string_view subject) {
  return router_->HasInterest(subject);
}

bool InternalClientImpl::SubscribedBy(uint64_t sender, std::string_view subject) {
  return router_->SubscribedBy(sender, subject);
}

std::string_view InternalClientImpl::UserOf(uint64_t sender) {
  return sender == 0 || !user_of_ ? std::string_view() : user_of_(sender);
}

bool InternalClientImpl::Backlogged(std::string_view subject) {
  return router_->Backlogged(subject);
}

void InternalClientImpl::WhenDrained(std::string_view subject, std::function<void()> fn) {
  router_->WhenDrained(subject, std::move(fn));
}

std::string InternalClientImpl::NewInbox() {
  std::string inbox = "_INBOX." + inbox_seed_;
  uint64_t n = ++inbox_counter_;
  char digits[10];
  for (int i = 9; i >= 0; --i) {
    digits[i] = kBase62[n % 62];
    n /= 62;
  }
  inbox.append(digits, sizeof(digits));
  return inbox;
}

void InternalClientImpl::Deliver(Subscription& sub, const InboundMsg& msg) {
  if (sub.handler) sub.handler(msg);
}

void InternalClientImpl::Forget(const Subscription& sub) {
  for (auto it = subs_.begin(); it != subs_.end(); ++it) {
    if (it->second.get() == &sub) {
      subs_.erase(it);
      return;
    }
  }
}

void InternalClientImpl::Detach() {
  for (auto& [sid, sub] : subs_) router_->RemoveSubscription(sub);
  subs_.clear();
}

}  // namespace tandem::server
