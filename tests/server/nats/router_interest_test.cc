// router_interest_test.cc: Router::HasInterest counts the subscriptions of network connections
// (plain, wildcard, queue) on a literal subject, never those of internal clients (which have a
// handler) nor removed ones, with and without the match cache; Router::SubscribedBy answers for
// one connection and exactly one subject, and Route stamps each message with its publisher.
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "server/nats/router.h"

namespace tandem::server {
namespace {

// A connection with an id that records the sender of what it receives.
class Conn : public Subscriber {
 public:
  explicit Conn(uint64_t id) : id_(id) {}
  void Deliver(Subscription&, const InboundMsg& msg) override { senders.push_back(msg.sender); }
  bool echo() const override { return true; }
  void Forget(const Subscription&) override {}
  uint64_t conn_id() const override { return id_; }

  SubscriptionPtr Sub(Router& r, std::string subject, std::string queue = "") {
    auto s = std::make_shared<Subscription>(this, std::move(subject), std::move(queue), "1");
    REQUIRE(r.AddSubscription(s));
    return s;
  }
  std::vector<uint64_t> senders;

 private:
  const uint64_t id_;
};

}  // namespace

TEST_SUITE("router_interest") {
  TEST_CASE("router: HasInterest sees network subscriptions only") {
    for (size_t cache : {size_t{0}, Sublist::kDefaultCacheMax}) {
      CAPTURE(cache);
      Router r(cache);
      CHECK_FALSE(r.HasInterest("_INBOX.a"));
      auto internal = std::make_shared<Subscription>(nullptr, "_INBOX.>", "", "1");
      internal->handler = [](const InboundMsg&) {};
      REQUIRE(r.AddSubscription(internal));
      CHECK_FALSE(r.HasInterest("_INBOX.a"));

      auto plain = std::make_shared<Subscription>(nullptr, "_INBOX.a", "", "2");
      REQUIRE(r.AddSubscription(plain));
      CHECK(r.HasInterest("_INBOX.a"));
      CHECK_FALSE(r.HasInterest("_INBOX.b"));
      r.RemoveSubscription(plain);
      CHECK_FALSE(r.HasInterest("_INBOX.a"));

      auto queue = std::make_shared<Subscription>(nullptr, "_INBOX.*", "q", "3");
      REQUIRE(r.AddSubscription(queue));
      CHECK(r.HasInterest("_INBOX.b"));
      CHECK_FALSE(r.HasInterest("_INBOX.b.c"));
      r.RemoveSubscription(queue);
      CHECK_FALSE(r.HasInterest("_INBOX.b"));
    }
  }

  TEST_CASE("router: SubscribedBy is one connection's subscription on exactly that subject") {
    for (size_t cache : {size_t{0}, Sublist::kDefaultCacheMax}) {
      CAPTURE(cache);
      Router r(cache);
      Conn owner(5), tap(6), other(7);
      CHECK_FALSE(r.SubscribedBy(5, "_INBOX.a"));
      SubscriptionPtr a = owner.Sub(r, "_INBOX.a");
      tap.Sub(r, ">");
      tap.Sub(r, "_INBOX.*", "q");
      other.Sub(r, "_INBOX.b", "q");
      CHECK(r.SubscribedBy(5, "_INBOX.a"));
      CHECK_FALSE(r.SubscribedBy(6, "_INBOX.a"));  // wildcards match but do not count
      CHECK_FALSE(r.SubscribedBy(7, "_INBOX.a"));
      CHECK(r.SubscribedBy(7, "_INBOX.b"));  // a queue subscription counts
      CHECK_FALSE(r.SubscribedBy(0, "_INBOX.a"));
      r.RemoveSubscription(a);
      CHECK_FALSE(r.SubscribedBy(5, "_INBOX.a"));
    }
  }

  TEST_CASE("router: subscribers see the publisher's connection id as the sender") {
    Router r;
    Conn pub(42), sub(3);
    sub.Sub(r, "foo");
    // Whatever the caller puts in `sender`, Route stamps the publisher's own id.
    InboundMsg msg{"foo", {}, {}, "x", 99};
    CHECK(r.Route(&pub, msg));
    CHECK(r.Route(nullptr, msg));
    CHECK(sub.senders == std::vector<uint64_t>{42, 0});
  }
}

}  // namespace tandem::server
