// stan_crash_test.cc: crash safety. The server is killed with SIGKILL (under load, with pending
// acks, with durables and queue groups, with limits) and restarted on the same store; the same
// libnats connections reconnect and carry on. Every acknowledged message must be there, and
// unacknowledged deliveries come back with redelivered = true.
#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "tests/integration/stan/stan_fixture.h"

namespace tandem::test {
namespace {

void PublishRange(StanConn& sc, const std::string& ch, int from, int to) {
  for (int i = from; i <= to; ++i) REQUIRE(sc.PublishRetry(ch, std::to_string(i)) == NATS_OK);
}

std::vector<Delivered> ReadAll(StanServerProc& srv, const std::string& client,
                               const std::string& channel, size_t expect) {
  StanConn sc;
  REQUIRE(sc.Connect(srv.url(), client) == NATS_OK);
  StanSub s;
  stanSubOptions_SetMaxInflight(s.FromFirst().opts, 100000);
  REQUIRE(s.Subscribe(sc, channel) == NATS_OK);
  s.c.WaitCount(expect, 20s);
  std::this_thread::sleep_for(200ms);
  return s.c.msgs();
}

}  // namespace

TEST_SUITE("stan_crash") {
  TEST_CASE("stan_crash: every acknowledged publish survives kill -9 under load") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    constexpr int kThreads = 4;
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::set<std::string> acked;
    std::vector<std::thread> pubs;
    std::atomic<int> total{0};
    for (int t = 0; t < kThreads; ++t) {
      pubs.emplace_back([&, t] {
        StanConn sc;
        if (sc.Connect(srv.url(), "load" + std::to_string(t), 16384, "test-cluster", 2000) !=
            NATS_OK)
          return;
        for (int i = 0; !stop.load(); ++i) {
          std::string d = std::to_string(t) + "-" + std::to_string(i);
          if (sc.Publish("crash", d) == NATS_OK) {
            std::lock_guard<std::mutex> l(mu);
            acked.insert(d);
            total++;
          }
        }
      });
    }
    auto wait_total = [&](int n) {
      auto end = std::chrono::steady_clock::now() + 20s;
      while (total.load() < n && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(5ms);
      return total.load() >= n;
    };
    REQUIRE(wait_total(200));
    REQUIRE(srv.Restart9());
    int after_first = total.load();
    REQUIRE(wait_total(after_first + 200));  // the same connections go on after the restart
    REQUIRE(srv.Restart9());
    stop = true;
    for (auto& th : pubs) th.join();

    std::set<std::string> acked_copy;
    {
      std::lock_guard<std::mutex> l(mu);
      acked_copy = acked;
    }
    auto msgs = ReadAll(srv, "reader", "crash", acked_copy.size());
    std::set<std::string> stored;
    uint64_t prev = 0;
    for (auto& m : msgs) {
      stored.insert(m.data);
      CHECK(m.seq == prev + 1);  // no gaps, no reuse of sequences across restarts
      prev = m.seq;
    }
    size_t missing = 0;
    for (auto& d : acked_copy) missing += stored.count(d) == 0;
    CHECK(missing == 0);
    CHECK(stored.size() >= acked_copy.size());
  }

  TEST_CASE_FIXTURE(
      StanClientFixture,
      "stan_crash: pending acks of a live subscription are redelivered after kill -9") {
    StartAndConnect("client");
    StanSub s;
    // The redelivery at restart may reach the client before it has reconnected; AckWait then
    // brings the messages back.
    stanSubOptions_SetAckWait(s.ManualAck(3).opts, 2000);
    bool queue = false;
    SUBCASE("durable") { s.Durable("dur"); }
    SUBCASE("plain") {}
    SUBCASE("durable queue member") {
      s.Durable("dur");
      queue = true;
    }
    REQUIRE(s.Subscribe(sc, "p", queue ? "grp" : nullptr) == NATS_OK);
    Collector& c = s.c;
    PublishRange(sc, "p", 1, 5);
    REQUIRE(c.WaitCount(5));
    std::this_thread::sleep_for(300ms);  // the acks of 1..3 reach the store
    REQUIRE(srv.Restart9());
    auto redelivered = [](uint64_t seq) {
      return [seq](const Delivered& d) { return d.seq == seq && d.redelivered; };
    };
    CHECK(c.WaitFor(redelivered(4), 15s));
    CHECK(c.WaitFor(redelivered(5), 15s));
    // And the subscription goes on with new messages; acked ones never come back.
    PublishRange(sc, "p", 6, 6);
    CHECK(c.WaitFor([](const Delivered& d) { return d.seq == 6 && !d.redelivered; }, 10s));
    for (auto& m : c.msgs()) {
      if (m.redelivered) CHECK(m.seq >= 4);
    }
  }

  TEST_CASE_FIXTURE(StanClientFixture, "stan_crash: durable queue group resumes after kill -9") {
    StartAndConnect("qclient");
    StanSub s1, s2;
    REQUIRE(s1.Durable("dur").Subscribe(sc, "dq", "grp") == NATS_OK);
    REQUIRE(s2.Durable("dur").Subscribe(sc, "dq", "grp") == NATS_OK);
    PublishRange(sc, "dq", 1, 20);
    REQUIRE(WaitTotal(s1.c, s2.c, 20, 15s));
    std::this_thread::sleep_for(200ms);
    REQUIRE(srv.Restart9());
    // Publishing through the restarted server reaches the group, without replaying 1..20.
    PublishRange(sc, "dq", 21, 40);
    REQUIRE(WaitTotal(s1.c, s2.c, 40, 15s));
    std::this_thread::sleep_for(200ms);
    CHECK(SeqsOf(s1.c, s2.c).size() == 40);
    CHECK(s1.c.count() + s2.c.count() == 40);
  }

  TEST_CASE("stan_crash: limits trimming and sequences survive kill -9") {
    StanServerProc srv;
    std::string yaml = "limits:\n  max_msgs: 10\n";
    REQUIRE(srv.Start(yaml));
    {
      StanConn sc;
      REQUIRE(sc.Connect(srv.url(), "lim") == NATS_OK);
      PublishRange(sc, "l", 1, 25);
      sc.Destroy();
    }
    REQUIRE(srv.Restart9(yaml));
    {
      StanConn sc;
      REQUIRE(sc.Connect(srv.url(), "lim2") == NATS_OK);
      PublishRange(sc, "l", 26, 26);
    }
    auto msgs = ReadAll(srv, "reader", "l", 10);
    REQUIRE(msgs.size() == 10);
    CHECK(msgs.front().seq == 17);
    CHECK(msgs.front().data == "17");
    CHECK(msgs.back().seq == 26);
  }

  TEST_CASE("stan_crash: a time-delta start after a restart is found in the store") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    {
      StanConn sc;
      REQUIRE(sc.Connect(srv.url(), "old") == NATS_OK);
      PublishRange(sc, "td", 1, 3);
      std::this_thread::sleep_for(2s);
      PublishRange(sc, "td", 4, 5);
      sc.Destroy();
    }
    REQUIRE(srv.Restart9());  // the restarted server has nothing in memory
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "new") == NATS_OK);
    StanSub s;
    stanSubOptions_StartAtTimeDelta(s.opts, 1200);
    REQUIRE(s.Subscribe(sc, "td") == NATS_OK);
    auto msgs = ReceiveSettled(s.c, 2, 200ms);
    REQUIRE(msgs.size() == 2);
    CHECK(msgs[0].seq == 4);
    CHECK(msgs[1].seq == 5);
  }

  TEST_CASE_FIXTURE(StanClientFixture, "stan_crash: max_age removes old messages") {
    StartAndConnect("aged", "limits:\n  max_age: 300ms\n");
    PublishRange(sc, "age", 1, 3);
    std::this_thread::sleep_for(1500ms);
    PublishRange(sc, "age", 4, 4);
    StanSub s;
    REQUIRE(s.FromFirst().Subscribe(sc, "age") == NATS_OK);
    auto msgs = ReceiveSettled(s.c, 1, 200ms);
    for (auto& m : msgs) CHECK(m.seq >= 3);  // the store may keep the newest expired one
    CHECK(msgs.back().seq == 4);
  }

  TEST_CASE("stan_crash: SIGTERM under load drains the batches in flight and exits 0") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    std::atomic<int> acked{0};
    std::atomic<bool> stop{false};
    std::thread pub([&] {
      StanConn sc;
      if (sc.Connect(srv.url(), "term", 16384, "test-cluster", 2000) != NATS_OK) return;
      for (int i = 0; !stop.load(); ++i) {
        if (sc.Publish("term", std::to_string(i)) != NATS_OK) break;
        acked++;
      }
    });
    auto end = std::chrono::steady_clock::now() + 10s;
    while (acked.load() < 100 && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(5ms);
    auto status = srv.Term();
    stop = true;
    pub.join();
    REQUIRE(status.has_value());
    CHECK(*status == 0);
    int n = acked.load();
    REQUIRE(srv.Start());
    auto msgs = ReadAll(srv, "reader", "term", static_cast<size_t>(n));
    CHECK(msgs.size() >= static_cast<size_t>(n));
  }

  TEST_CASE_FIXTURE(StanClientFixture,
                    "stan_crash: a registered client stays registered across kill -9") {
    StartAndConnect("stay");
    PublishRange(sc, "s", 1, 1);
    REQUIRE(srv.Restart9());
    // Its publishes (validated by connID) still work, and the ID is still taken.
    PublishRange(sc, "s", 2, 2);
    StanConn other;
    CHECK(other.Connect(srv.url(), "stay") != NATS_OK);
    CHECK(LastError().find("stan: clientID already registered") != std::string::npos);
  }
}

}  // namespace tandem::test
