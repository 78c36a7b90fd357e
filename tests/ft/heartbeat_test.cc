// Tests for ft/heartbeat: the JSON heartbeat round-trips, and anything else is rejected.
#include "ft/heartbeat.h"

#include <doctest/doctest.h>

namespace tandem::ft {

TEST_SUITE("heartbeat") {

TEST_CASE("heartbeat: subject") {
  CHECK(HeartbeatSubject("test-cluster", "g1") == "_STAN.ft.test-cluster.g1");
}

TEST_CASE("heartbeat: round trip of every role") {
  for (Role r : {Role::kStandby, Role::kActivating, Role::kActive, Role::kStopping,
                 Role::kStopped, Role::kFenced}) {
    Heartbeat hb{"node-a", 0x9f86d081884c7d65ull, r, 7, 42};
    std::string wire = EncodeHeartbeat(hb);
    Result<Heartbeat> back = DecodeHeartbeat(wire);
    REQUIRE(back.ok());
    CHECK(back->name == "node-a");
    CHECK(back->instance == 0x9f86d081884c7d65ull);
    CHECK(back->role == r);
    CHECK(back->epoch == 7);
    CHECK(back->seq == 42);
  }
}

TEST_CASE("heartbeat: encoding is the documented compact JSON") {
  Heartbeat hb{"a", 1, Role::kActive, 3, 9};
  std::string wire = EncodeHeartbeat(hb);
  CHECK(wire.find("\"v\":1") != std::string::npos);
  CHECK(wire.find("\"id\":\"0000000000000001\"") != std::string::npos);
  CHECK(wire.find("\"role\":\"active\"") != std::string::npos);
  CHECK(wire.find(' ') == std::string::npos);
}

TEST_CASE("heartbeat: extremes of epoch and seq") {
  Heartbeat hb{"x", ~0ull, Role::kActive, ~0ull, ~0ull};
  Result<Heartbeat> back = DecodeHeartbeat(EncodeHeartbeat(hb));
  REQUIRE(back.ok());
  CHECK(back->epoch == ~0ull);
  CHECK(back->seq == ~0ull);
  CHECK(back->instance == ~0ull);
}

TEST_CASE("heartbeat: unknown members are ignored") {
  auto r = DecodeHeartbeat(
      R"({"v":1,"name":"b","id":"00000000000000ff","role":"standby","epoch":0,"seq":1,"x":[1]})");
  REQUIRE(r.ok());
  CHECK(r->instance == 0xff);
}

TEST_CASE("heartbeat: bad payloads are rejected") {
  const char* bad[] = {
      "",
      "not json",
      "[1,2]",
      R"({"v":2,"name":"b","id":"00000000000000ff","role":"standby","epoch":0,"seq":1})",
      R"({"name":"b","id":"00000000000000ff","role":"standby","epoch":0,"seq":1})",
      R"({"v":1,"name":"","id":"00000000000000ff","role":"standby","epoch":0,"seq":1})",
      R"({"v":1,"name":7,"id":"00000000000000ff","role":"standby","epoch":0,"seq":1})",
      R"({"v":1,"name":"b","id":"ff","role":"standby","epoch":0,"seq":1})",
      R"({"v":1,"name":"b","id":"00000000000000FG","role":"standby","epoch":0,"seq":1})",
      R"({"v":1,"name":"b","id":"00000000000000ff","role":"boss","epoch":0,"seq":1})",
      R"({"v":1,"name":"b","id":"00000000000000ff","role":"standby","epoch":-1,"seq":1})",
      R"({"v":1,"name":"b","id":"00000000000000ff","role":"standby","epoch":1.5,"seq":1})",
      R"({"v":1,"name":"b","id":"00000000000000ff","role":"standby","epoch":"1","seq":1})",
      R"({"v":1,"name":"b","id":"00000000000000ff","role":"standby","epoch":1})",
      R"({"v":1,"name":"b","id":"00000000000000ff","role":"standby","epoch":1,"seq":1)",
  };
  for (const char* p : bad) {
    CAPTURE(p);
    Result<Heartbeat> r = DecodeHeartbeat(p);
    CHECK_FALSE(r.ok());
    CHECK(r.status().IsInvalidArgument());
  }
}

}  // TEST_SUITE

}  // namespace tandem::ft
