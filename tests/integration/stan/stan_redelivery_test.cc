// stan_redelivery_test.cc: redelivery within MaxInflight and with backoff, through the real
// binary with libnats: a durable resuming with 1,000 unacknowledged messages and MaxInflight 10
// receives 10 of them, and one more for each ack (not the whole backlog at once, as the
// reference server does); with redelivery_backoff each
// further redelivery of a message waits longer (gaps measured with generous bounds).
#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "tests/integration/stan/stan_fixture.h"

namespace tandem::test {
namespace {

constexpr int kBacklog = 1000;

// A durable "bd" of channel "backlog" (a member of durable queue group `queue` when set) with
// MaxInflight `max_inflight`, acking the first `ack_limit` messages it receives, AckWait 30 s
// (no timer redelivery during the test).
void SubscribeDurable(StanSub& s, stanConnection* sc, int max_inflight, int ack_limit,
                      const char* queue) {
  stanSubOptions_SetMaxInflight(s.opts, max_inflight);
  stanSubOptions_SetAckWait(s.opts, 30000);
  REQUIRE(s.Durable("bd").FromFirst().ManualAck(ack_limit).Subscribe(sc, "backlog", queue) ==
          NATS_OK);
}

// `c` got exactly seqs 1..n, in order, each redelivered.
void CheckBacklogPrefix(Collector& c, size_t n) {
  std::vector<Delivered> got = c.msgs();
  REQUIRE_MESSAGE(got.size() == n, "received ", got.size(), ", expected ", n);
  for (size_t i = 0; i < n; ++i) {
    CHECK(got[i].seq == i + 1);
    CHECK(got[i].redelivered);
  }
}

// Fills the durable "bd" with kBacklog unacked messages, then closes it (it stays, offline; a
// durable queue group whose last member closed stays as its offline shadow).
void MakeBacklog(StanConn& sc, const char* queue) {
  StanSub first;
  SubscribeDurable(first, sc, 2 * kBacklog, 0, queue);
  for (int i = 1; i <= kBacklog; ++i) REQUIRE(sc.Publish("backlog", std::to_string(i)) == NATS_OK);
  REQUIRE(first.c.WaitCount(kBacklog, 20s));
  REQUIRE(stanSubscription_Close(first.sub) == NATS_OK);
}

}  // namespace

TEST_SUITE("stan_redelivery") {
  TEST_CASE("stan_redelivery: a durable resuming with 1,000 unacked gets them within MaxInflight") {
    const char* queue = nullptr;
    SUBCASE("a durable") {}
    SUBCASE("the next member of a durable queue group (issue #1009 of the reference)") {
      queue = "grp";
    }
    StanClientFixture f;
    f.StartAndConnect("resumer");
    MakeBacklog(f.sc, queue);
    {
      StanSub again;  // acks nothing: 10 and no more
      SubscribeDurable(again, f.sc, 10, 0, queue);
      ReceiveSettled(again.c, 10, 1500ms);
      CheckBacklogPrefix(again.c, 10);
      REQUIRE(stanSubscription_Close(again.sub) == NATS_OK);
    }
    StanSub acking;  // acks the first 10: each ack lets one more come, 20 in all
    SubscribeDurable(acking, f.sc, 10, 10, queue);
    ReceiveSettled(acking.c, 20, 1500ms);
    CheckBacklogPrefix(acking.c, 20);
  }

  TEST_CASE("stan_redelivery: redelivery_backoff stretches AckWait for each further redelivery") {
    StanClientFixture f;
    f.StartAndConnect(
        "slow", "limits: {channels: {slow: {redelivery_backoff: {initial: 1s, factor: 2, max: "
                "1500ms}}}}\n");
    StanSub s;
    stanSubOptions_SetAckWait(s.opts, 1000);
    REQUIRE(s.FromFirst().ManualAck(0).Subscribe(f.sc, "slow") == NATS_OK);
    REQUIRE(f.sc.Publish("slow", "x") == NATS_OK);
    REQUIRE(s.c.WaitCount(5, 20s));
    std::vector<Delivered> got = s.c.msgs();
    // AckWait 1s, then 1s + 1s, then 1s + min(2s, 1.5s) twice. Bounds allow for a loaded
    // machine delaying one receipt (without the backoff every gap would be 1s).
    const double expect[] = {1.0, 2.0, 2.5, 2.5};
    for (size_t i = 0; i < 4; ++i) {
      double gap = (got[i + 1].received_us - got[i].received_us) / 1e6;
      CHECK_MESSAGE(gap >= expect[i] - 0.3, "gap ", i, ": ", gap, " s");
      CHECK_MESSAGE(gap <= expect[i] + 1.0, "gap ", i, ": ", gap, " s");
    }
  }
}

}  // namespace tandem::test
