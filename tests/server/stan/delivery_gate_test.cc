// delivery_gate_test.cc: the interest gate on a fake clock: open at once with interest, a wait
// that resumes when interest appears (with every reason given), the bound after which it gives
// up, a new incarnation starting a new wait, and Forget/Stop.
#include "server/stan/delivery_gate.h"

#include <uv.h>

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
  std::set<std::string> interest;
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
