// router_interest_test.cc: Router::HasInterest counts the subscriptions of network connections
// (plain, wildcard, queue) on a literal subject, never those of internal clients (which have a
// handler) nor removed ones, with and without the match cache.
#include <memory>

#include <doctest/doctest.h>

#include "server/nats/router.h"

namespace tandem::server {

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
}

}  // namespace tandem::server
