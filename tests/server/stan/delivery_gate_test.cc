// delivery_gate_test.cc: the interest gate on a fake clock: open at once with interest, a wait
// that resumes when interest appears (with every reason given), the bound after which it gives
// up, a new incarnation starting a new wait, Forget/Stop, and the unbounded wait for a backlogged
// connection to drain.
#include "server/stan/delivery_gate.h"

#include <uv.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/server/stan/stan_fakes.h"

namespace tandem::server {
namespace {

class InterestClient : public test::FakeBus {
 public:
  bool HasInterest(std::string_view subject) override {
    ++lookups;
    return interest.count(std::string(subject)) != 0;
  }
  bool Backlogged(std::string_view subject) override {
    return backlogged.count(std::string(subject)) != 0;
  }
  void WhenDrained(std::string_view subject, std::function<void()> fn) override {
    drain_waiters.emplace(std::string(subject), std::move(fn));
  }
  // The core's side: the connection drained, its waiters run (possibly inside a publish).
  void Drain(const std::string& subject) {
    backlogged.erase(subject);
    auto [from, to] = drain_waiters.equal_range(subject);
    std::vector<std::function<void()>> w;
    for (auto it = from; it != to; ++it) w.push_back(std::move(it->second));
    drain_waiters.erase(from, to);
    for (auto& fn : w) fn();
  }
  std::set<std::string> interest;
  std::set<std::string> backlogged;
  std::multimap<std::string, std::function<void()>> drain_waiters;
  int lookups = 0;
};

struct Opened {
  uint64_t id, gen;
  uint32_t reasons;
};

}  // namespace

TEST_SUITE("delivery_gate") {
  TEST_CASE("delivery_gate: waits for interest, then resumes with every reason") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
      TimerQueue timers(&loop);
      InterestClient nc;
      DeliveryGate gate(&nc, &timers);
      std::vector<Opened> opened;
      gate.SetOnOpen([&](uint64_t id, uint64_t gen, uint32_t r) {
        opened.push_back({id, gen, r});
      });

      SUBCASE("interest: open at once, one lookup") {
        nc.interest.insert("in.1");
        CHECK(gate.Ready(1, 1, "in.1", 2000, 1));
        CHECK(nc.lookups == 1);
        CHECK(gate.waiting() == 0);
      }
      SUBCASE("no interest: resumes when it appears") {
        CHECK_FALSE(gate.Ready(1, 1, "in.1", 2000, 1));
        CHECK_FALSE(gate.Ready(1, 1, "in.1", 2000, 2));
        CHECK(gate.waiting() == 1);
        timers.TEST_Advance(DeliveryGate::kRecheckMs);
        CHECK(opened.empty());
        nc.interest.insert("in.1");
        timers.TEST_Advance(DeliveryGate::kRecheckMs);
        REQUIRE(opened.size() == 1);
        CHECK(opened[0].id == 1);
        CHECK(opened[0].gen == 1);
        CHECK(opened[0].reasons == 3);
        CHECK(gate.waiting() == 0);
        CHECK(gate.Ready(1, 1, "in.1", 2000, 1));
      }
      SUBCASE("the bound: gives up, then open until interest comes and goes again") {
        CHECK_FALSE(gate.Ready(1, 1, "in.1", 500, 4));
        timers.TEST_Advance(480);
        CHECK(opened.empty());
        timers.TEST_Advance(40);
        REQUIRE(opened.size() == 1);
        CHECK(opened[0].reasons == 4);
        CHECK(gate.waiting() == 0);
        CHECK(gate.Ready(1, 1, "in.1", 500, 1));  // gave up: behaves as without a gate
        nc.interest.insert("in.1");
        CHECK(gate.Ready(1, 1, "in.1", 500, 1));
        nc.interest.clear();
        CHECK_FALSE(gate.Ready(1, 1, "in.1", 500, 1));  // a new wait
      }
      SUBCASE("a new incarnation starts a new wait") {
        CHECK_FALSE(gate.Ready(1, 1, "in.1", 100, 1));
        timers.TEST_Advance(120);
        REQUIRE(opened.size() == 1);
        CHECK(gate.Ready(1, 1, "in.1", 100, 1));
        CHECK_FALSE(gate.Ready(1, 2, "in.1", 100, 1));
      }
      SUBCASE("a backlogged connection: waits, unbounded, until it drains") {
        nc.interest.insert("in.1");
        nc.backlogged.insert("in.1");
        CHECK_FALSE(gate.Ready(1, 1, "in.1", 500, 1));
        CHECK_FALSE(gate.Ready(1, 1, "in.1", 500, 4));
        CHECK(nc.drain_waiters.size() == 1);  // the Bus is asked once
        CHECK(gate.draining() == 1);
        timers.TEST_Advance(5000);  // no bound: a slow reader is not given up on
        CHECK(opened.empty());
        nc.Drain("in.1");
        CHECK(opened.empty());  // never inside the Bus's call: from a timer
        timers.TEST_Advance(0);
        REQUIRE(opened.size() == 1);
        CHECK(opened[0].id == 1);
        CHECK(opened[0].reasons == 5);
        CHECK(gate.draining() == 0);
        CHECK(gate.Ready(1, 1, "in.1", 500, 1));
      }
      SUBCASE("a drain reported after Forget, Stop or the gate's end does nothing") {
        nc.interest = {"in.1", "in.2"};
        nc.backlogged = {"in.1", "in.2"};
        CHECK_FALSE(gate.Ready(1, 1, "in.1", 500, 1));
        CHECK_FALSE(gate.Ready(2, 1, "in.2", 500, 1));
        gate.Forget(1);
        nc.Drain("in.1");
        timers.TEST_Advance(0);
        CHECK(opened.empty());
        CHECK(gate.draining() == 1);
        gate.Stop();
        CHECK(gate.draining() == 0);
        nc.Drain("in.2");
        timers.TEST_Advance(0);
        CHECK(opened.empty());
        {
          DeliveryGate gone(&nc, &timers);
          nc.backlogged = {"in.3"};
          nc.interest.insert("in.3");
          CHECK_FALSE(gone.Ready(3, 1, "in.3", 500, 1));
        }
        nc.Drain("in.3");  // the waiter outlived the gate: it must not touch it
        timers.TEST_Advance(0);
        CHECK(opened.empty());
      }
      SUBCASE("Forget and Stop drop the waits") {
        CHECK_FALSE(gate.Ready(1, 1, "in.1", 2000, 1));
        CHECK_FALSE(gate.Ready(2, 1, "in.2", 2000, 1));
        gate.Forget(1);
        CHECK(gate.waiting() == 1);
        gate.Stop();
        CHECK(gate.waiting() == 0);
        CHECK(gate.Ready(3, 1, "in.3", 2000, 1));  // stopped: never waits
        nc.interest.insert("in.2");
        timers.TEST_Advance(3000);
        CHECK(opened.empty());
      }
      timers.Close();
      uv_run(&loop, UV_RUN_DEFAULT);
    }
    CHECK(uv_loop_close(&loop) == 0);
  }
}

}  // namespace tandem::server
