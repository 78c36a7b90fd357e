// stan_basic_test.cc: the streaming layer driven by libnats' STAN API against the real binary:
// connect (and its errors), publish with PubAcks, subscriptions with every start position,
// manual acks and AckWait redelivery, MaxInFlight, close.
#include <atomic>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "tests/integration/stan/stan_fixture.h"

namespace tandem::test {
namespace {

struct AckCounter {
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::string last_error;
  static void OnAck(const char* guid, const char* error, void* closure) {
    auto* self = static_cast<AckCounter*>(closure);
    if (error != nullptr && *error != 0) {
      self->last_error = error;
      self->failed++;
    } else {
      self->ok++;
    }
  }
  bool WaitOk(int n, std::chrono::milliseconds timeout = 10s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (ok.load() < n && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(2ms);
    return ok.load() >= n;
  }
};

}  // namespace

TEST_SUITE("stan_basic") {
  TEST_CASE_FIXTURE(StanClientFixture,
                    "stan_basic: connect, publish, subscribe from first, close") {
    StartAndConnect("c1");
    for (int i = 1; i <= 10; ++i) REQUIRE(sc.Publish("foo", "m" + std::to_string(i)) == NATS_OK);

    StanSub s;
    REQUIRE(s.FromFirst().Subscribe(sc, "foo") == NATS_OK);
    REQUIRE(s.c.WaitCount(10));
    auto msgs = s.c.msgs();
    for (int i = 0; i < 10; ++i) {
      CHECK(msgs[i].seq == static_cast<uint64_t>(i + 1));
      CHECK(msgs[i].data == "m" + std::to_string(i + 1));
      CHECK_FALSE(msgs[i].redelivered);
      if (i > 0) CHECK(msgs[i].timestamp >= msgs[i - 1].timestamp);
    }
    // New messages reach the live subscription.
    REQUIRE(sc.Publish("foo", "live") == NATS_OK);
    REQUIRE(s.c.WaitCount(11));
    CHECK(s.c.msgs()[10].seq == 11);
    CHECK(s.c.msgs()[10].data == "live");
    CHECK(sc.Close() == NATS_OK);
  }

  TEST_CASE("stan_basic: connect errors") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    StanConn a;
    REQUIRE(a.Connect(srv.url(), "dup") == NATS_OK);
    SUBCASE("duplicate client id of a live client") {
      StanConn b;
      CHECK(b.Connect(srv.url(), "dup") != NATS_OK);
      CHECK(LastError().find("stan: clientID already registered") != std::string::npos);
    }
    SUBCASE("invalid client id") {
      StanConn b;
      CHECK(b.Connect(srv.url(), "bad.id") != NATS_OK);
      CHECK(LastError().find(
                "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed") !=
            std::string::npos);
    }
    SUBCASE("wrong cluster id") {
      StanConn b;
      CHECK(b.Connect(srv.url(), "other", 16384, "no-such-cluster") != NATS_OK);
    }
  }

  TEST_CASE_FIXTURE(StanClientFixture,
                    "stan_basic: async publish gets every PubAck, sequences in order") {
    StartAndConnect("pub");
    AckCounter acks;
    const int n = 5000;
    for (int i = 0; i < n; ++i) {
      std::string d = std::to_string(i);
      REQUIRE(stanConnection_PublishAsync(sc, "bar", d.data(), static_cast<int>(d.size()),
                                          AckCounter::OnAck, &acks) == NATS_OK);
    }
    REQUIRE(acks.WaitOk(n));
    CHECK(acks.failed == 0);

    StanSub s;
    stanSubOptions_StartAtSequence(s.opts, 4990);
    REQUIRE(s.Subscribe(sc, "bar") == NATS_OK);
    REQUIRE(s.c.WaitCount(11));
    CHECK(s.c.msgs().front().seq == 4990);
    CHECK(s.c.msgs().front().data == "4989");
    CHECK(s.c.msgs().back().seq == 5000);
  }

  TEST_CASE_FIXTURE(StanClientFixture,
                    "stan_basic: a subscriber far behind reads from the store, then from memory") {
    StartAndConnect("far");
    AckCounter acks;
    const int n = 40000;  // more than a channel keeps in memory
    auto publish = [&](int from, int to) {
      for (int i = from; i < to; ++i) {
        std::string d = std::to_string(i);
        REQUIRE(stanConnection_PublishAsync(sc, "far", d.data(), static_cast<int>(d.size()),
                                            AckCounter::OnAck, &acks) == NATS_OK);
      }
    };
    publish(0, n);
    REQUIRE(acks.WaitOk(n, 30s));
    StanSub s;
    stanSubOptions_SetMaxInflight(s.FromFirst().opts, 4096);
    REQUIRE(s.Subscribe(sc, "far") == NATS_OK);
    publish(n, n + 2000);  // while it catches up
    REQUIRE(s.c.WaitCount(n + 2000, 30s));
    auto msgs = s.c.msgs();
    bool in_order = true;
    for (size_t i = 0; i < msgs.size(); ++i) {
      if (msgs[i].seq != i + 1 || msgs[i].data != std::to_string(i)) in_order = false;
    }
    CHECK(in_order);
  }

  TEST_CASE_FIXTURE(StanClientFixture, "stan_basic: start positions") {
    StartAndConnect("sp");
    for (int i = 1; i <= 5; ++i) REQUIRE(sc.Publish("pos", std::to_string(i)) == NATS_OK);
    Collector c;
    StanSubOpts so;
    StanSubscription sub;
    uint64_t want_first = 0;
    SUBCASE("new only") { want_first = 6; }
    SUBCASE("last received") {
      stanSubOptions_StartWithLastReceived(so);
      want_first = 5;
    }
    SUBCASE("sequence") {
      stanSubOptions_StartAtSequence(so, 3);
      want_first = 3;
    }
    SUBCASE("sequence past the end is new only") {
      stanSubOptions_StartAtSequence(so, 100);
      want_first = 6;
    }
    SUBCASE("first") {
      stanSubOptions_DeliverAllAvailable(so);
      want_first = 1;
    }
    SUBCASE("time delta covering everything") {
      stanSubOptions_StartAtTimeDelta(so, 60000);
      want_first = 1;
    }
    REQUIRE(sub.Subscribe(sc, "pos", &c, so) == NATS_OK);
    REQUIRE(sc.Publish("pos", "6") == NATS_OK);
    REQUIRE(c.WaitCount(6 - want_first + 1));
    CHECK(c.msgs().front().seq == want_first);
    CHECK(c.msgs().back().seq == 6);
  }

  TEST_CASE_FIXTURE(StanClientFixture,
                    "stan_basic: manual ack, AckWait redelivery with the redelivered flag") {
    StartAndConnect("acker");
    StanSub s;
    s.ManualAck(2);  // the third message is never acked
    stanSubOptions_SetAckWait(s.opts, 1000);
    REQUIRE(s.Subscribe(sc, "red") == NATS_OK);
    for (int i = 1; i <= 3; ++i) REQUIRE(sc.Publish("red", std::to_string(i)) == NATS_OK);
    REQUIRE(s.c.WaitCount(4, 5s));
    auto msgs = s.c.msgs();
    CHECK(msgs[3].seq == 3);
    CHECK(msgs[3].redelivered);
    // Acked ones are not redelivered.
    for (size_t i = 3; i < msgs.size(); ++i) CHECK(msgs[i].seq == 3);
  }

  TEST_CASE_FIXTURE(StanClientFixture,
                    "stan_basic: MaxInFlight stalls the subscription until acks arrive") {
    StartAndConnect("mif");
    for (int i = 1; i <= 10; ++i) REQUIRE(sc.Publish("mif", std::to_string(i)) == NATS_OK);
    StanSub s;
    s.ManualAck(0).FromFirst();  // ack nothing
    stanSubOptions_SetMaxInflight(s.opts, 3);
    REQUIRE(s.Subscribe(sc, "mif") == NATS_OK);
    CHECK(ReceiveSettled(s.c, 3, 300ms).size() == 3);
  }
}

}  // namespace tandem::test
