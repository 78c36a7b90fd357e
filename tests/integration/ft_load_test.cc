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

FtMemberOptions Member(const TempDir& dir, const std::string& name, int port) {
  FtMemberOptions o;
  o.name = name;
  o.listen = "127.0.0.1:" + std::to_string(port);
  o.peers = {o.listen};
  o.store_dir = dir.Join("store");
  return o;
}

// Waits until `load` acknowledged `more` messages beyond what it had.
bool AcksGrow(const StanLoad& load, uint64_t more, milliseconds timeout) {
  uint64_t target = load.acked() + more;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (load.acked() < target && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  return load.acked() >= target;
}

bool DeliveriesGrow(const StanLoad& load, uint64_t more, milliseconds timeout) {
  uint64_t target = load.delivered() + more;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (load.delivered() < target && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  return load.delivered() >= target;
}

void RunFailovers(int sig, int rounds) {
  TempDir dir;
  int port = FreePort();
  FtMember a(dir.path(), Member(dir, "a", port));
  FtMember b(dir.path(), Member(dir, "b", port));
  REQUIRE(a.Start());
  REQUIRE(a.WaitActive());
  REQUIRE(b.Start());
  REQUIRE(b.WaitStandby());

  StanLoad load("nats://127.0.0.1:" + std::to_string(port), "ft-test", "orders", 400);
  std::string error;
  REQUIRE_MESSAGE(load.Start(&error), error);
  REQUIRE(AcksGrow(load, 100, milliseconds(10000)));

  FtMember* active = &a;
  FtMember* standby = &b;
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
