// ft_heartbeat_guard_test.cc: no client can make a member change role or exit. Real pair, raw
// NATS connections to the active's client port:
//
//  - an anonymous client may neither publish nor subscribe on the group's heartbeat subject
//    (nats-server's permission errors; its connection stays open), and a wildcard subscription
//    receives no heartbeat;
//  - a connection that logs in with the member token (as a member would, or a process that
//    stole the identity file) still cannot fence the active: an unsigned claim is dropped, and
//    a signed claim of a higher epoch is checked against the store, which contradicts it.
#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "ft/heartbeat.h"
#include "store/identity.h"
#include "tests/support/ft_harness.h"
#include "tests/support/tandem_process.h"
#include "tests/support/wire_client.h"

namespace tandem::test {
namespace {

using std::chrono::milliseconds;

constexpr char kSubject[] = "_STAN.ft.ft-test.g";

std::string Pub(const std::string& subject, const std::string& payload) {
  return "PUB " + subject + " " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
}

std::string ForgedClaim(const std::string& key) {
  ft::Heartbeat hb;
  hb.name = "intruder";
  hb.instance = 0x1234567890abcdefULL;
  hb.role = ft::Role::kActive;
  hb.epoch = 1000000;
  hb.seq = 1;
  if (key.empty()) {
    return R"({"v":1,"name":"intruder","id":"1234567890abcdef","role":"active","epoch":1000000,"seq":1})";
  }
  return ft::EncodeHeartbeat(hb, key);
}

// The active keeps serving: still running a while later, and its client port answers.
void CheckStillActive(FtPair& pair) {
  std::this_thread::sleep_for(milliseconds(500));
  REQUIRE_MESSAGE(pair.a.process().Running(), pair.a.process().Log());
  WireClient probe;
  CHECK(probe.Handshake(pair.port));
  CHECK(pair.a.process().Log().find("fenced") == std::string::npos);
  CHECK_FALSE(pair.b.IsActive());
}

}  // namespace

TEST_SUITE("ft_heartbeat_guard") {
TEST_CASE("heartbeat guard: an anonymous client cannot publish or subscribe to the group") {
  FtPair pair;
  REQUIRE(pair.StartActiveThenStandby());
  WireClient c;
  REQUIRE(c.Handshake(pair.port));
  for (int i = 0; i < 2; ++i) {
    REQUIRE(c.Send(Pub(kSubject, ForgedClaim(""))));
    CHECK(
        c.Expect("-ERR 'Permissions Violation for Publish to \"_STAN\\.ft\\.ft-test\\.g\"'\r\n"));
  }
  REQUIRE(c.Send("SUB _STAN.ft.> 1\r\n"));
  CHECK(c.Expect("-ERR 'Permissions Violation for Subscription to \"_STAN\\.ft\\.>\"'\r\n"));
  // The connection stays usable, and a catch-all subscription gets messages but no heartbeat
  // (the active sends one every 50 ms).
  REQUIRE(c.Send("SUB > 2\r\nPUB hello 2\r\nhi\r\n"));
  CHECK(c.Expect("MSG hello 2 2\r\nhi\r\n"));
  CHECK(c.ExpectNothing(milliseconds(500)));
  CheckStillActive(pair);
}

TEST_CASE("heartbeat guard: a logged-in member's false claims do not fence the active") {
  FtPair pair;
  REQUIRE(pair.StartActiveThenStandby());
  auto id = store::ReadIdentityFile(pair.dir.Join("store") + "/store.db");
  REQUIRE(id.ok());
  REQUIRE(id->has_value());
  const std::string token = ft::MemberToken((*id)->group_key, "ft-test", "g");
  WireClient c;
  REQUIRE(c.Handshake(pair.port,
                      R"({"verbose":false,"pedantic":false,"auth_token":")" + token + R"("})"));
  // A member may use the subject: it hears the active's heartbeats.
  REQUIRE(c.SendAndPong(std::string("SUB ") + kSubject + " 1\r\n"));
  CHECK(c.Expect("\"role\":\"active\""));
  // Unsigned, signed with another key, and signed with the group's key: none fences.
  REQUIRE(c.SendAndPong(Pub(kSubject, ForgedClaim(""))));
  REQUIRE(c.SendAndPong(Pub(kSubject, ForgedClaim(store::RandomHex(32)))));
  for (int i = 0; i < 3; ++i)
    REQUIRE(c.SendAndPong(Pub(kSubject, ForgedClaim((*id)->group_key))));
  CHECK(
      pair.a.process().WaitForLog("ignoring a claim the store contradicts", milliseconds(5000)));
  CheckStillActive(pair);
}

}  // TEST_SUITE

}  // namespace tandem::test
