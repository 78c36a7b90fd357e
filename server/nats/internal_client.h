// internal_client.h: InternalClientImpl, the socket-less client of the core used by the
// streaming layer and ft/ heartbeats (contract: Bus in server/bus/bus.h).
//
// Its subscriptions go into the same Sublist as network ones and follow the same rules (queue
// groups, UNSUB max, echo); handlers run synchronously on the loop thread from inside Route.
// A handler may subscribe, unsubscribe (itself included) and publish.
//
// Ownership: NatsServer owns InternalClientImpl objects and borrows the Router, which outlives
// them. Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "server/nats/nats_server.h"
#include "server/nats/router.h"
#include "server/nats/sublist.h"

namespace tandem::server {

class InternalClientImpl final : public Bus, public Subscriber {
 public:
  // `user_of`: the user a live network connection authenticated as (Bus::UserOf).
  using UserLookup = std::function<std::string_view(uint64_t cid)>;
  InternalClientImpl(Router* router, std::string name, UserLookup user_of);
  ~InternalClientImpl() override;
  InternalClientImpl(const InternalClientImpl&) = delete;
  InternalClientImpl& operator=(const InternalClientImpl&) = delete;

  // Bus
  uint64_t Subscribe(std::string_view subject, std::string_view queue, Handler handler) override;
  void Unsubscribe(uint64_t sid) override;
  void Publish(std::string_view subject, std::string_view reply, std::string_view payload) override;
  std::string NewInbox() override;
  bool HasInterest(std::string_view subject) override;
  bool SubscribedBy(uint64_t sender, std::string_view subject) override;
  std::string_view UserOf(uint64_t sender) override;
  bool Backlogged(std::string_view subject) override;
  void WhenDrained(std::string_view subject, std::function<void()> fn) override;

  // Subscriber
  void Deliver(Subscription& sub, const InboundMsg& msg) override;
  bool echo() const override { return true; }
  void Forget(const Subscription& sub) override;

  // Drops every subscription (server shutdown).
  void Detach();
  const std::string& name() const { return name_; }

 private:
  Router* const router_;
  const std::string name_;
  const UserLookup user_of_;
  uint64_t next_sid_ = 1;
  std::map<uint64_t, SubscriptionPtr> subs_;
  std::string inbox_seed_;
  uint64_t inbox_counter_ = 0;
};

}  // namespace tandem::server
