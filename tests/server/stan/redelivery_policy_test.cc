// redelivery_policy_test.cc: AckWait stretched by redelivery_backoff, the max_deliveries rule
// (redelivery_policy.h) and the dead-letter loop finder (DeadLetterLoop, channel.h).
#include "server/stan/redelivery_policy.h"

#include <doctest/doctest.h>

#include "server/stan/channel.h"

namespace tandem::server {

TEST_SUITE("redelivery_policy") {
  TEST_CASE("redelivery_policy: AckWait, then AckWait plus the growing backoff, capped") {
    RedeliveryBackoff off;
    CHECK(AckWaitAfterMs(1, 30000, off) == 30000);
    CHECK(AckWaitAfterMs(7, 30000, off) == 30000);
    RedeliveryBackoff b;
    b.initial_ns = 1000000000;  // 1s
    b.max_ns = 60000000000;     // 1m
    b.factor = 2;
    CHECK(AckWaitAfterMs(1, 1000, b) == 1000);   // the first delivery: plain AckWait
    CHECK(AckWaitAfterMs(2, 1000, b) == 2000);   // + 1s
    CHECK(AckWaitAfterMs(3, 1000, b) == 3000);   // + 2s
    CHECK(AckWaitAfterMs(4, 1000, b) == 5000);   // + 4s
    CHECK(AckWaitAfterMs(8, 1000, b) == 61000);  // + 64s, capped at 1m
    CHECK(AckWaitAfterMs(4000000000u, 1000, b) == 61000);  // no overflow
    b.factor = 1.5;
    CHECK(AckWaitAfterMs(3, 0, b) == 1500);
  }

  TEST_CASE("redelivery_policy: a message may be sent max_deliveries times") {
    CHECK_FALSE(DeliveriesExhausted(1000000, 0));  // 0: unlimited
    CHECK_FALSE(DeliveriesExhausted(2, 3));
    CHECK(DeliveriesExhausted(3, 3));
    CHECK(DeliveriesExhausted(4, 3));
    CHECK(DeliveriesExhausted(1, 1));
  }

  TEST_CASE("redelivery_policy: dead-letter chains end, or are loops") {
    StanLimits l;
    l.max_deliveries = 3;
    l.dead_letter = "dlq";
    CHECK(DeadLetterLoop(l, "dlq") == "dlq -> dlq");
    l.channels["dlq"].dead_letter = "";
    CHECK(DeadLetterLoop(l, "dlq") == "");
    l.channels["dlq"].dead_letter = "dlq2";
    l.channels["dlq2"].max_deliveries = 0;  // keeps its dead letters: the chain ends
    CHECK(DeadLetterLoop(l, "dlq") == "");
    l.channels["dlq2"].max_deliveries = 1;
    l.channels["dlq2"].dead_letter = "dlq";
    CHECK(DeadLetterLoop(l, "dlq") == "dlq -> dlq2 -> dlq");
  }
}

}  // namespace tandem::server
