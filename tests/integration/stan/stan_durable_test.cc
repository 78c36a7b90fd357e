// stan_durable_test.cc: durables, queue groups and durable queue groups through libnats' STAN
// API: resume after the last ack, redelivery of unacked messages on resume, unsubscribe versus
// close (unsubscribe deletes a durable, close keeps it), duplicate durable registration,
// hand-over between queue members.
#include <set>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "tests/integration/stan/stan_fixture.h"

namespace tandem::test {
namespace {

void PublishRange(StanConn& sc, const std::string& ch, int from, int to) {
  for (int i = from; i <= to; ++i) REQUIRE(sc.Publish(ch, std::to_string(i)) == NATS_OK);
}

// Waits for `n` deliveries on `s`, lets their acks reach the server, then closes the
// subscription (which keeps its durable).
void ReceiveThenClose(StanSub& s, size_t n) {
  REQUIRE(s.c.WaitCount(n));
  std::this_thread::sleep_for(100ms);  // let the acks arrive
  REQUIRE(stanSubscription_Close(s.sub) == NATS_OK);
}

}  // namespace

TEST_SUITE("stan_durable") {
  TEST_CASE_FIXTURE(StanClientFixture,
                    "stan_durable: a closed durable resumes after its last ack") {
    StartAndConnect("dc");
    PublishRange(sc, "d", 1, 5);
    {
      StanSub first;
      REQUIRE(first.Durable("dur").FromFirst().Subscribe(sc, "d") == NATS_OK);
      ReceiveThenClose(first, 5);
    }
    PublishRange(sc, "d", 6, 8);
    StanSub resumed;
    resumed.Durable("dur").FromFirst();  // FromFirst is ignored on resume
    REQUIRE(resumed.Subscribe(sc, "d") == NATS_OK);
    auto msgs = ReceiveSettled(resumed.c, 3, 200ms);
    REQUIRE(msgs.size() == 3);
    CHECK(msgs[0].seq == 6);
    CHECK(msgs[2].seq == 8);
  }

  TEST_CASE_FIXTURE(StanClientFixture,
                    "stan_durable: unacked messages are redelivered first on resume") {
    StartAndConnect("dc");
    PublishRange(sc, "d", 1, 5);
    {
      StanSub first;
      REQUIRE(first.Durable("dur").FromFirst().ManualAck(2).Subscribe(sc, "d") == NATS_OK);
      ReceiveThenClose(first, 5);
    }
    PublishRange(sc, "d", 6, 6);
    StanSub resumed;
    REQUIRE(resumed.Durable("dur").Subscribe(sc, "d") == NATS_OK);
    REQUIRE(resumed.c.WaitCount(4));
    auto msgs = resumed.c.msgs();
    CHECK(msgs[0].seq == 3);
    CHECK(msgs[0].redelivered);
    CHECK(msgs[1].seq == 4);
    CHECK(msgs[2].seq == 5);
    CHECK(msgs[2].redelivered);
    CHECK(msgs[3].seq == 6);
    CHECK_FALSE(msgs[3].redelivered);
  }

  TEST_CASE_FIXTURE(StanClientFixture, "stan_durable: unsubscribe deletes the durable") {
    StartAndConnect("dc");
    PublishRange(sc, "d", 1, 3);
    {
      StanSub first;
      REQUIRE(first.Durable("dur").FromFirst().Subscribe(sc, "d") == NATS_OK);
      REQUIRE(first.c.WaitCount(3));
      REQUIRE(stanSubscription_Unsubscribe(first.sub) == NATS_OK);
    }
    StanSub again;
    again.Durable("dur").FromFirst();  // honoured: a new durable
    REQUIRE(again.Subscribe(sc, "d") == NATS_OK);
    REQUIRE(again.c.WaitCount(3));
    CHECK(again.c.msgs()[0].seq == 1);
  }

  TEST_CASE_FIXTURE(StanClientFixture, "stan_durable: duplicate durable registration") {
    StartAndConnect("dc");
    StanSub s1, s2;
    REQUIRE(s1.Durable("dur").Subscribe(sc, "d") == NATS_OK);
    CHECK(s2.Durable("dur").Subscribe(sc, "d") != NATS_OK);
    CHECK(LastError().find("stan: duplicate durable registration") != std::string::npos);
  }

  TEST_CASE_FIXTURE(StanClientFixture,
                    "stan_durable: replace_durable closes the first registration instead") {
    StartAndConnect("dc", "streaming:\n  replace_durable: true\n");
    StanSub s1, s2;
    REQUIRE(s1.Durable("dur").Subscribe(sc, "d") == NATS_OK);
    REQUIRE(s2.Durable("dur").Subscribe(sc, "d") == NATS_OK);
    PublishRange(sc, "d", 1, 1);
    REQUIRE(s2.c.WaitCount(1));
    std::this_thread::sleep_for(100ms);
    CHECK(s1.c.count() == 0);
  }

  TEST_CASE("stan_durable: a durable survives its connection closing") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    {
      StanConn sc;
      REQUIRE(sc.Connect(srv.url(), "dc") == NATS_OK);
      PublishRange(sc, "d", 1, 2);
      StanSub first;
      REQUIRE(first.Durable("dur").FromFirst().Subscribe(sc, "d") == NATS_OK);
      REQUIRE(first.c.WaitCount(2));
      std::this_thread::sleep_for(100ms);
      first.sub.Destroy();
      REQUIRE(sc.Close() == NATS_OK);
    }
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "dc") == NATS_OK);
    PublishRange(sc, "d", 3, 4);
    StanSub resumed;
    REQUIRE(resumed.Durable("dur").Subscribe(sc, "d") == NATS_OK);
    auto msgs = ReceiveSettled(resumed.c, 2, 100ms);
    REQUIRE(msgs.size() == 2);
    CHECK(msgs[0].seq == 3);
  }

  TEST_CASE_FIXTURE(StanClientFixture,
                    "stan_durable: a queue group shares messages without duplicates") {
    StartAndConnect("qc");
    Collector c1, c2;
    StanSubscription s1, s2;
    REQUIRE(s1.Subscribe(sc, "q", &c1, nullptr, "workers") == NATS_OK);
    REQUIRE(s2.Subscribe(sc, "q", &c2, nullptr, "workers") == NATS_OK);
    PublishRange(sc, "q", 1, 100);
    WaitTotal(c1, c2, 100, 10s);
    std::this_thread::sleep_for(100ms);
    std::set<uint64_t> seen = SeqsOf(c1, c2);
    CHECK(c1.count() + c2.count() == 100);
    CHECK(seen.size() == 100);
    CHECK(c1.count() > 0);
    CHECK(c2.count() > 0);
  }

  TEST_CASE_FIXTURE(StanClientFixture,
                    "stan_durable: a leaving queue member's unacked messages go to the others") {
    StartAndConnect("qc");
    StanSub lazy;
    lazy.ManualAck(0);
    stanSubOptions_SetMaxInflight(lazy.opts, 1);
    Collector busy;
    StanSubscription busy_sub;
    REQUIRE(lazy.Subscribe(sc, "q", "workers") == NATS_OK);
    PublishRange(sc, "q", 1, 1);
    REQUIRE(lazy.c.WaitCount(1));
    REQUIRE(busy_sub.Subscribe(sc, "q", &busy, nullptr, "workers") == NATS_OK);
    PublishRange(sc, "q", 2, 3);
    REQUIRE(busy.WaitCount(2));
    REQUIRE(stanSubscription_Unsubscribe(lazy.sub) == NATS_OK);
    REQUIRE(busy.WaitCount(3, 5s));
    auto msgs = busy.msgs();
    CHECK(msgs[2].seq == 1);
    CHECK(msgs[2].redelivered);
  }

  TEST_CASE_FIXTURE(StanClientFixture,
                    "stan_durable: a durable queue group outlives its last member") {
    StartAndConnect("dq");
    PublishRange(sc, "dq", 1, 3);
    {
      StanSub first;
      REQUIRE(first.Durable("dur").FromFirst().Subscribe(sc, "dq", "grp") == NATS_OK);
      ReceiveThenClose(first, 3);
    }
    PublishRange(sc, "dq", 4, 5);
    StanSub member;
    REQUIRE(member.Durable("dur").FromFirst().Subscribe(sc, "dq", "grp") == NATS_OK);
    auto msgs = ReceiveSettled(member.c, 2, 100ms);
    REQUIRE(msgs.size() == 2);
    CHECK(msgs[0].seq == 4);

    SUBCASE("unsubscribing the last member deletes the group") {
      REQUIRE(stanSubscription_Unsubscribe(member.sub) == NATS_OK);
      member.sub.Destroy();
      StanSub again;
      REQUIRE(again.Durable("dur").FromFirst().Subscribe(sc, "dq", "grp") == NATS_OK);
      REQUIRE(again.c.WaitCount(5));
      CHECK(again.c.msgs()[0].seq == 1);
    }
  }

  TEST_CASE_FIXTURE(StanClientFixture, "stan_durable: durable queue name with ':' is refused") {
    StartAndConnect("dq");
    StanSub s;
    CHECK(s.Durable("a:b").Subscribe(sc, "dq", "grp") != NATS_OK);
    CHECK(LastError().find(
              "stan: durable name of a durable queue subscriber can't contain the character ':'") !=
          std::string::npos);
  }
}

}  // namespace tandem::test
