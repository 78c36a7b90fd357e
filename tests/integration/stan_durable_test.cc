// stan_durable_test.cc: durables, queue groups and durable queue groups through libnats' STAN
// API: resume after the last ack, redelivery of unacked messages on resume, unsubscribe versus
// close (PROTOCOL.md B.6), duplicate durable registration, hand-over between queue members.
#include <set>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "tests/integration/stan_fixture.h"

namespace tandem::test {
namespace {

void PublishRange(StanConn& sc, const std::string& ch, int from, int to) {
  for (int i = from; i <= to; ++i) REQUIRE(sc.Publish(ch, std::to_string(i)) == NATS_OK);
}

}  // namespace

TEST_SUITE("stan_durable") {
  TEST_CASE("stan_durable: a closed durable resumes after its last ack") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "dc") == NATS_OK);
    PublishRange(sc, "d", 1, 5);
    {
      Collector c;
      StanSubOpts so;
      stanSubOptions_SetDurableName(so, "dur");
      stanSubOptions_DeliverAllAvailable(so);
      StanSubscription sub;
      REQUIRE(sub.Subscribe(sc, "d", &c, so) == NATS_OK);
      REQUIRE(c.WaitCount(5));
      std::this_thread::sleep_for(100ms);  // let the auto-acks arrive
      REQUIRE(stanSubscription_Close(sub) == NATS_OK);
    }
    PublishRange(sc, "d", 6, 8);
    Collector c;
    StanSubOpts so;
    stanSubOptions_SetDurableName(so, "dur");
    stanSubOptions_DeliverAllAvailable(so);  // ignored on resume
    StanSubscription sub;
    REQUIRE(sub.Subscribe(sc, "d", &c, so) == NATS_OK);
    REQUIRE(c.WaitCount(3));
    std::this_thread::sleep_for(200ms);
    auto msgs = c.msgs();
    REQUIRE(msgs.size() == 3);
    CHECK(msgs[0].seq == 6);
    CHECK(msgs[2].seq == 8);
  }

  TEST_CASE("stan_durable: unacked messages are redelivered first on resume") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "dc") == NATS_OK);
    PublishRange(sc, "d", 1, 5);
    {
      Collector c;
      c.manual_ack = true;
      c.ack_limit = 2;
      StanSubOpts so;
      stanSubOptions_SetDurableName(so, "dur");
      stanSubOptions_DeliverAllAvailable(so);
      stanSubOptions_SetManualAckMode(so, true);
      StanSubscription sub;
      REQUIRE(sub.Subscribe(sc, "d", &c, so) == NATS_OK);
      REQUIRE(c.WaitCount(5));
      std::this_thread::sleep_for(100ms);
      REQUIRE(stanSubscription_Close(sub) == NATS_OK);
    }
    PublishRange(sc, "d", 6, 6);
    Collector c;
    StanSubOpts so;
    stanSubOptions_SetDurableName(so, "dur");
    StanSubscription sub;
    REQUIRE(sub.Subscribe(sc, "d", &c, so) == NATS_OK);
    REQUIRE(c.WaitCount(4));
    auto msgs = c.msgs();
    CHECK(msgs[0].seq == 3);
    CHECK(msgs[0].redelivered);
    CHECK(msgs[1].seq == 4);
    CHECK(msgs[2].seq == 5);
    CHECK(msgs[2].redelivered);
    CHECK(msgs[3].seq == 6);
    CHECK_FALSE(msgs[3].redelivered);
  }

  TEST_CASE("stan_durable: unsubscribe deletes the durable") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "dc") == NATS_OK);
    PublishRange(sc, "d", 1, 3);
    {
      Collector c;
      StanSubOpts so;
      stanSubOptions_SetDurableName(so, "dur");
      stanSubOptions_DeliverAllAvailable(so);
      StanSubscription sub;
      REQUIRE(sub.Subscribe(sc, "d", &c, so) == NATS_OK);
      REQUIRE(c.WaitCount(3));
      REQUIRE(stanSubscription_Unsubscribe(sub) == NATS_OK);
    }
    Collector c;
    StanSubOpts so;
    stanSubOptions_SetDurableName(so, "dur");
    stanSubOptions_DeliverAllAvailable(so);  // honoured: a new durable
    StanSubscription sub;
    REQUIRE(sub.Subscribe(sc, "d", &c, so) == NATS_OK);
    REQUIRE(c.WaitCount(3));
    CHECK(c.msgs()[0].seq == 1);
  }

  TEST_CASE("stan_durable: duplicate durable registration") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "dc") == NATS_OK);
    Collector c1, c2;
    StanSubOpts so;
    stanSubOptions_SetDurableName(so, "dur");
    StanSubscription s1, s2;
    REQUIRE(s1.Subscribe(sc, "d", &c1, so) == NATS_OK);
    CHECK(s2.Subscribe(sc, "d", &c2, so) != NATS_OK);
    CHECK(LastError().find("stan: duplicate durable registration") != std::string::npos);
  }

  TEST_CASE("stan_durable: replace_durable closes the first registration instead") {
    StanServerProc srv;
    REQUIRE(srv.Start("streaming:\n  replace_durable: true\n"));
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "dc") == NATS_OK);
    Collector c1, c2;
    StanSubOpts so;
    stanSubOptions_SetDurableName(so, "dur");
    StanSubscription s1, s2;
    REQUIRE(s1.Subscribe(sc, "d", &c1, so) == NATS_OK);
    REQUIRE(s2.Subscribe(sc, "d", &c2, so) == NATS_OK);
    PublishRange(sc, "d", 1, 1);
    REQUIRE(c2.WaitCount(1));
    std::this_thread::sleep_for(100ms);
    CHECK(c1.count() == 0);
  }

  TEST_CASE("stan_durable: a durable survives its connection closing") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    {
      StanConn sc;
      REQUIRE(sc.Connect(srv.url(), "dc") == NATS_OK);
      PublishRange(sc, "d", 1, 2);
      Collector c;
      StanSubOpts so;
      stanSubOptions_SetDurableName(so, "dur");
      stanSubOptions_DeliverAllAvailable(so);
      StanSubscription sub;
      REQUIRE(sub.Subscribe(sc, "d", &c, so) == NATS_OK);
      REQUIRE(c.WaitCount(2));
      std::this_thread::sleep_for(100ms);
      sub.Destroy();
      REQUIRE(sc.Close() == NATS_OK);
    }
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "dc") == NATS_OK);
    PublishRange(sc, "d", 3, 4);
    Collector c;
    StanSubOpts so;
    stanSubOptions_SetDurableName(so, "dur");
    StanSubscription sub;
    REQUIRE(sub.Subscribe(sc, "d", &c, so) == NATS_OK);
    REQUIRE(c.WaitCount(2));
    std::this_thread::sleep_for(100ms);
    REQUIRE(c.count() == 2);
    CHECK(c.msgs()[0].seq == 3);
  }

  TEST_CASE("stan_durable: a queue group shares messages without duplicates") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "qc") == NATS_OK);
    Collector c1, c2;
    StanSubscription s1, s2;
    REQUIRE(s1.Subscribe(sc, "q", &c1, nullptr, "workers") == NATS_OK);
    REQUIRE(s2.Subscribe(sc, "q", &c2, nullptr, "workers") == NATS_OK);
    PublishRange(sc, "q", 1, 100);
    auto end = std::chrono::steady_clock::now() + 10s;
    while (c1.count() + c2.count() < 100 && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(100ms);
    std::set<uint64_t> seen;
    for (auto& m : c1.msgs()) seen.insert(m.seq);
    for (auto& m : c2.msgs()) seen.insert(m.seq);
    CHECK(c1.count() + c2.count() == 100);
    CHECK(seen.size() == 100);
    CHECK(c1.count() > 0);
    CHECK(c2.count() > 0);
  }

  TEST_CASE("stan_durable: a leaving queue member's unacked messages go to the others") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "qc") == NATS_OK);
    Collector lazy, busy;
    lazy.manual_ack = true;
    lazy.ack_limit = 0;
    StanSubOpts lazy_opts;
    stanSubOptions_SetManualAckMode(lazy_opts, true);
    stanSubOptions_SetMaxInflight(lazy_opts, 1);
    StanSubscription s1, s2;
    REQUIRE(s1.Subscribe(sc, "q", &lazy, lazy_opts, "workers") == NATS_OK);
    PublishRange(sc, "q", 1, 1);
    REQUIRE(lazy.WaitCount(1));
    REQUIRE(s2.Subscribe(sc, "q", &busy, nullptr, "workers") == NATS_OK);
    PublishRange(sc, "q", 2, 3);
    REQUIRE(busy.WaitCount(2));
    REQUIRE(stanSubscription_Unsubscribe(s1) == NATS_OK);
    REQUIRE(busy.WaitCount(3, 5s));
    auto msgs = busy.msgs();
    CHECK(msgs[2].seq == 1);
    CHECK(msgs[2].redelivered);
  }

  TEST_CASE("stan_durable: a durable queue group outlives its last member") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "dq") == NATS_OK);
    StanSubOpts so;
    stanSubOptions_SetDurableName(so, "dur");
    stanSubOptions_DeliverAllAvailable(so);
    PublishRange(sc, "dq", 1, 3);
    {
      Collector c;
      StanSubscription sub;
      REQUIRE(sub.Subscribe(sc, "dq", &c, so, "grp") == NATS_OK);
      REQUIRE(c.WaitCount(3));
      std::this_thread::sleep_for(100ms);
      REQUIRE(stanSubscription_Close(sub) == NATS_OK);
    }
    PublishRange(sc, "dq", 4, 5);
    Collector c;
    StanSubscription sub;
    REQUIRE(sub.Subscribe(sc, "dq", &c, so, "grp") == NATS_OK);
    REQUIRE(c.WaitCount(2));
    std::this_thread::sleep_for(100ms);
    REQUIRE(c.count() == 2);
    CHECK(c.msgs()[0].seq == 4);

    SUBCASE("unsubscribing the last member deletes the group") {
      REQUIRE(stanSubscription_Unsubscribe(sub) == NATS_OK);
      sub.Destroy();
      Collector c2;
      StanSubscription sub2;
      REQUIRE(sub2.Subscribe(sc, "dq", &c2, so, "grp") == NATS_OK);
      REQUIRE(c2.WaitCount(5));
      CHECK(c2.msgs()[0].seq == 1);
    }
  }

  TEST_CASE("stan_durable: durable queue name with ':' is refused") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "dq") == NATS_OK);
    StanSubOpts so;
    stanSubOptions_SetDurableName(so, "a:b");
    Collector c;
    StanSubscription sub;
    CHECK(sub.Subscribe(sc, "dq", &c, so, "grp") != NATS_OK);
    CHECK(LastError().find(
              "stan: durable name of a durable queue subscriber can't contain the character ':'") !=
          std::string::npos);
  }
}

}  // namespace tandem::test
