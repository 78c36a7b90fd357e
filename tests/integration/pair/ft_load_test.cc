// ft_load_test.cc: failovers under a verifying streaming load, with real processes: kill -9 and
// SIGTERM of the active while numbered messages are published and consumed by a durable
// subscriber and a durable queue group. No acknowledged message may be lost, and publishing and
// consuming go on through the new active.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "tests/support/ft_harness.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {
namespace {

using std::chrono::milliseconds;

void RunFailovers(int sig, int rounds) {
  FtPair pair;
  REQUIRE(pair.StartActiveThenStandby());

  StanLoad load("nats://127.0.0.1:" + std::to_string(pair.port), "ft-test", "orders", 400);
  std::string error;
  REQUIRE_MESSAGE(load.Start(&error), error);
  REQUIRE(AcksGrow(load, 100, milliseconds(10000)));

  FtMember* active = &pair.a;
  FtMember* standby = &pair.b;
  for (int round = 0; round < rounds; ++round) {
    CAPTURE(round);
    REQUIRE(active->process().Signal(sig));
    auto rc = active->process().WaitExit();
    REQUIRE(rc.has_value());
    if (sig == SIGTERM) CHECK(*rc == 0);
    REQUIRE(standby->WaitActive(milliseconds(5000)));
    // Publishing and both kinds of subscribers carry on through the new active.
    CHECK(AcksGrow(load, 100, milliseconds(10000)));
    CHECK(DeliveriesGrow(load, 200, milliseconds(10000)));
    REQUIRE(active->Start());
    REQUIRE(active->WaitStandby());
    std::swap(active, standby);
  }
  LoadReport r = load.Settle();
  INFO("published ", r.published, ", acked ", r.acked, ", unacked ", r.unacked, ", duplicates ",
       r.duplicates, ", lost: ", r.first_lost);
  CHECK(r.acked > 200);
  CHECK(r.lost == 0);
}

}  // namespace

TEST_SUITE("ft_load") {

TEST_CASE("ft: kill -9 of the active under load loses no acknowledged message") {
  RunFailovers(SIGKILL, 3);
}

TEST_CASE("ft: SIGTERM handover under load loses no acknowledged message") {
  RunFailovers(SIGTERM, 2);
}

}  // TEST_SUITE

}  // namespace tandem::test
