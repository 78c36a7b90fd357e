// ft_auth_test.cc: a pair whose client port requires authentication: the standby's link logs in
// with the `ft:` credentials (user/password, or an nkey seed file signing the nonce), joins, and
// takes over under a streaming load of an authenticated client with nothing acknowledged lost;
// a member whose `ft:` credentials the core would refuse does not start.
#include <signal.h>

#include <chrono>
#include <string>

#include <doctest/doctest.h>

#include "tests/support/auth_helpers.h"
#include "tests/support/ft_harness.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {
namespace {

using std::chrono::milliseconds;

// Members a and b of one group with `auth_yaml` and `ft_yaml` added to both configs.
struct SecuredPair {
  TempDir dir;
  int port = FreePort();
  FtMember a, b;
  SecuredPair(const std::string& auth_yaml, const std::string& ft_yaml)
      : a(dir.path(), With(MemberOptions(dir, "a", port), auth_yaml, ft_yaml)),
        b(dir.path(), With(MemberOptions(dir, "b", port), auth_yaml, ft_yaml)) {}
  static FtMemberOptions With(FtMemberOptions o, const std::string& auth_yaml,
                              const std::string& ft_yaml) {
    o.extra_yaml = auth_yaml;
    o.ft_yaml = ft_yaml;
    return o;
  }
};

constexpr const char* kUsers = R"(authorization:
  users:
    - {user: app, password: app-pw}
    - {user: pair, password: pair-pw}
)";

}  // namespace

TEST_SUITE("ft_auth") {
  TEST_CASE("ft_auth: the standby logs in with ft.user/ft.password and takes over under load") {
    SecuredPair pair(kUsers, "  user: pair\n  password: pair-pw\n");
    REQUIRE(pair.a.Start());
    REQUIRE(pair.a.WaitActive());
    REQUIRE(pair.b.Start());
    REQUIRE_MESSAGE(pair.b.WaitStandby(), pair.b.process().Log());
    REQUIRE_MESSAGE(pair.a.process().WaitForLog("standby b joined"), pair.a.process().Log());
    CHECK(pair.a.process().Log().find("Authorization Violation") == std::string::npos);

    StanLoad load("nats://app:app-pw@127.0.0.1:" + std::to_string(pair.port), "ft-test",
                  "orders", 300);
    std::string error;
    REQUIRE_MESSAGE(load.Start(&error), error);
    REQUIRE(AcksGrow(load, 100, milliseconds(10000)));
    REQUIRE(pair.a.process().Signal(SIGKILL));
    REQUIRE(pair.a.process().WaitExit().has_value());
    REQUIRE(pair.b.WaitActive(milliseconds(5000)));
    CHECK(AcksGrow(load, 100, milliseconds(10000)));
    // The old active comes back as a standby of b, logging in the same way.
    REQUIRE(pair.a.Start());
    REQUIRE(pair.a.WaitStandby());
    CHECK(pair.b.process().WaitForLog("standby a joined"));
    LoadReport r = load.Settle();
    INFO("published ", r.published, ", acked ", r.acked, ", lost: ", r.first_lost);
    CHECK(r.acked > 200);
    CHECK(r.lost == 0);
    CHECK(pair.b.process().Log().find("pair-pw") == std::string::npos);
  }

  TEST_CASE("ft_auth: the standby signs the nonce with ft.nkey_seed_file") {
    const UserNkey key = MakeUserNkey();
    TempDir keys;
    const std::string seed_file = keys.WriteFile("pair.nk", key.seed + "\n");
    SecuredPair pair("authorization:\n  users:\n    - {user: app, password: app-pw}\n"
                     "    - nkey: " + key.pub + "\n",
                     "  nkey_seed_file: " + seed_file + "\n");
    REQUIRE(pair.a.Start());
    REQUIRE(pair.a.WaitActive());
    REQUIRE(pair.b.Start());
    REQUIRE_MESSAGE(pair.b.WaitStandby(), pair.b.process().Log());
    REQUIRE_MESSAGE(pair.a.process().WaitForLog("standby b joined"), pair.a.process().Log());
    REQUIRE(pair.a.process().Signal(SIGTERM));
    REQUIRE(pair.b.WaitActive(milliseconds(5000)));
    CHECK(pair.b.process().Log().find(key.seed) == std::string::npos);
  }

  TEST_CASE("ft_auth: a member without credentials its core accepts does not start") {
    TempDir dir;
    FtMemberOptions none = MemberOptions(dir, "a", FreePort());
    none.extra_yaml = kUsers;
    FtMember a(dir.path(), none);
    REQUIRE(a.Start());
    CHECK(a.process().WaitExit() == 2);
    CHECK_MESSAGE(a.process().Log().find("config: ") != std::string::npos, a.process().Log());
    CHECK(a.process().Log().find("ft: the client port requires authorization") !=
          std::string::npos);

    FtMemberOptions wrong = MemberOptions(dir, "b", FreePort());
    wrong.extra_yaml = kUsers;
    wrong.ft_yaml = "  user: pair\n  password: not-the-pw\n";
    FtMember b(dir.path(), wrong);
    REQUIRE(b.Start());
    CHECK(b.process().WaitExit() == 2);
    CHECK(b.process().Log().find("are not accepted by this member's authorization") !=
          std::string::npos);
    CHECK(b.process().Log().find("not-the-pw") == std::string::npos);
  }
}

}  // namespace tandem::test
