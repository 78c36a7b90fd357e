// Tests for ft/heartbeat: the signed JSON heartbeat round-trips, anything unsigned, signed with
// another key or malformed is rejected, and member tokens depend on key, cluster and group.
#include "ft/heartbeat.h"

#include <string>

#include <doctest/doctest.h>

namespace tandem::ft {
namespace {

const std::string kKey(64, 'a');
const std::string kOtherKey(64, 'b');

}  // namespace

TEST_SUITE("heartbeat") {
TEST_CASE("heartbeat: subject") {
  CHECK(HeartbeatSubject("test-cluster", "g1") == "_STAN.ft.test-cluster.g1");
}

TEST_CASE("heartbeat: round trip of every role") {
  for (Role r : {Role::kStandby, Role::kActivating, Role::kActive, Role::kStopping,
                 Role::kStopped, Role::kFenced}) {
    Heartbeat hb{"node-a", 0x9f86d081884c7d65ull, r, 7, 42, "0123456789abcdef0123456789abcdef"};
    std::string wire = EncodeHeartbeat(hb, kKey);
    Result<Heartbeat> back = DecodeHeartbeat(wire, kKey);
    REQUIRE(back.ok());
    CHECK(back->name == "node-a");
    CHECK(back->instance == 0x9f86d081884c7d65ull);
    CHECK(back->role == r);
    CHECK(back->epoch == 7);
    CHECK(back->seq == 42);
    CHECK(back->store_id == "0123456789abcdef0123456789abcdef");
  }
}

TEST_CASE("heartbeat: encoding is the documented compact JSON, signed last") {
  Heartbeat hb{"a", 1, Role::kActive, 3, 9, ""};
  std::string wire = EncodeHeartbeat(hb, kKey);
  CHECK(wire.find("\"v\":2") != std::string::npos);
  CHECK(wire.find("\"id\":\"0000000000000001\"") != std::string::npos);
  CHECK(wire.find("\"role\":\"active\"") != std::string::npos);
  CHECK(wire.find(' ') == std::string::npos);
  size_t mac = wire.find(",\"mac\":\"");
  REQUIRE(mac != std::string::npos);
  CHECK(wire.size() - mac == 8 + 64 + 2);
}

TEST_CASE("heartbeat: extremes of epoch and seq") {
  Heartbeat hb{"x", ~0ull, Role::kActive, ~0ull, ~0ull, ""};
  Result<Heartbeat> back = DecodeHeartbeat(EncodeHeartbeat(hb, kKey), kKey);
  REQUIRE(back.ok());
  CHECK(back->epoch == ~0ull);
  CHECK(back->seq == ~0ull);
  CHECK(back->instance == ~0ull);
}

TEST_CASE("heartbeat: a payload not signed with the group key is rejected before parsing") {
  Heartbeat hb{"a", 1, Role::kActive, 1000000, 1, ""};
  std::string wire = EncodeHeartbeat(hb, kKey);
  CHECK_FALSE(DecodeHeartbeat(wire, kOtherKey).ok());
  CHECK_FALSE(DecodeHeartbeat(wire, "").ok());  // no key yet: nothing is believed
  // One changed byte anywhere in the signed part breaks the signature.
  for (size_t i = 0; i < wire.find(",\"mac\""); ++i) {
    std::string bent = wire;
    bent[i] = bent[i] == '7' ? '8' : '7';
    CAPTURE(bent);
    CHECK_FALSE(DecodeHeartbeat(bent, kKey).ok());
  }
  // The unsigned version-1 form that any client could send.
  CHECK_FALSE(
      DecodeHeartbeat(
          R"({"v":1,"name":"x","id":"1234567890abcdef","role":"active","epoch":9,"seq":1})", kKey)
          .ok());
  // A key that is not 64 hex digits signs nothing that checks.
  CHECK_FALSE(DecodeHeartbeat(EncodeHeartbeat(hb, "short"), "short").ok());
}

TEST_CASE("heartbeat: bad payloads are rejected") {
  const char* bad[] = {"", "not json", "[1,2]", "{}", R"({"mac":"00"})"};
  for (const char* p : bad) {
    CAPTURE(p);
    Result<Heartbeat> r = DecodeHeartbeat(p, kKey);
    CHECK_FALSE(r.ok());
    CHECK(r.status().IsInvalidArgument());
  }
}

TEST_CASE("heartbeat: member tokens") {
  std::string t = MemberToken(kKey, "c", "g");
  CHECK(t.size() == 64);
  CHECK(t == MemberToken(kKey, "c", "g"));
  CHECK(t != MemberToken(kOtherKey, "c", "g"));
  CHECK(t != MemberToken(kKey, "c2", "g"));
  CHECK(t != MemberToken(kKey, "c", "g2"));
  CHECK(MemberToken("", "c", "g").empty());
  CHECK(TokenMatches(t, t));
  CHECK_FALSE(TokenMatches(t, MemberToken(kOtherKey, "c", "g")));
  CHECK_FALSE(TokenMatches("", ""));
}

}  // TEST_SUITE

}  // namespace tandem::ft
