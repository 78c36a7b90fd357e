// stan_max_age_test.cc: max_age through the real binary: each channel's messages go when they
// are max_age old, by the channel's own limit (limits.channels), a message that came later on
// the same channel stays until its own time, and after a kill -9 the recovered messages still
// expire. The server schedules each channel by its oldest message (stan_server_expiry.cc);
// these cases hold whatever the schedule's details.
#include <chrono>
#include <set>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "tests/integration/stan/stan_fixture.h"

namespace tandem::test {
namespace {

// The sequences stored on `ch` now, found by publishing a marker and reading the channel from
// its first message up to that marker (the marker's own sequence is left out).
std::set<uint64_t> StoredSeqs(StanConn& sc, const std::string& ch) {
  const std::string marker = "marker-" + std::to_string(std::chrono::steady_clock::now()
                                                            .time_since_epoch()
                                                            .count());
  REQUIRE(sc.PublishRetry(ch, marker) == NATS_OK);
  StanSub s;
  REQUIRE(s.FromFirst().Subscribe(sc.sc, ch) == NATS_OK);
  REQUIRE(s.c.WaitFor([&](const Delivered& d) { return d.data == marker; }));
  std::set<uint64_t> seqs;
  for (auto& d : s.c.msgs()) {
    if (d.data != marker) seqs.insert(d.seq);
  }
  s.sub.Destroy();
  return seqs;
}

void Publish(StanConn& sc, const std::string& ch, int n) {
  for (int i = 0; i < n; ++i) REQUIRE(sc.PublishRetry(ch, "m" + std::to_string(i)) == NATS_OK);
}

}  // namespace

TEST_SUITE("stan_max_age") {

TEST_CASE_FIXTURE(StanClientFixture, "stan_max_age: each channel expires by its own max_age") {
  StartAndConnect("ages", "limits:\n  max_age: 1h\n  channels:\n    short: {max_age: 1s}\n");
  Publish(sc, "short", 3);
  Publish(sc, "long", 3);
  std::this_thread::sleep_for(2500ms);
  CHECK(StoredSeqs(sc, "short").empty());  // all three were 1 s old 1.5 s ago
  CHECK(StoredSeqs(sc, "long") == std::set<uint64_t>{1, 2, 3});
}

TEST_CASE_FIXTURE(StanClientFixture,
                  "stan_max_age: a later message on the same channel stays until its own time") {
  StartAndConnect("later", "limits:\n  max_age: 3s\n");
  Publish(sc, "c", 1);  // seq 1, expires at ~3 s
  std::this_thread::sleep_for(2000ms);
  Publish(sc, "c", 1);  // seq 2, expires at ~5 s
  std::this_thread::sleep_for(2000ms);
  CHECK(StoredSeqs(sc, "c") == std::set<uint64_t>{2});  // the marker is seq 3
  std::this_thread::sleep_for(4500ms);                  // past seq 2's and the marker's time
  CHECK(StoredSeqs(sc, "c").empty());
}

TEST_CASE_FIXTURE(StanClientFixture, "stan_max_age: recovered messages expire after a kill -9") {
  StartAndConnect("recovered", "limits:\n  max_age: 2s\n");
  Publish(sc, "r", 3);
  Publish(sc, "other", 2);
  REQUIRE(srv.Restart9("limits:\n  max_age: 2s\n"));
  std::this_thread::sleep_for(3000ms);
  CHECK(StoredSeqs(sc, "r").empty());
  CHECK(StoredSeqs(sc, "other").empty());
}

}  // TEST_SUITE

}  // namespace tandem::test
