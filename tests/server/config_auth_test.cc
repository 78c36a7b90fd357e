// config_auth_test.cc: the security keys of the configuration (server/config_auth.h): the
// `authorization:` shapes as nats-server writes them, the flags, the `ft:` credentials, and each
// error with its exact message, none of which shows a secret.
#include "server/config.h"

#include <string>

#include <doctest/doctest.h>

#include "tests/support/auth_helpers.h"
#include "tests/support/temp_dir.h"

namespace tandem::server {
namespace {

Config MustParse(std::string_view yaml, const ConfigOverrides& o = {}) {
  auto c = ParseConfig(yaml, o);
  INFO("status: ", c.status().ToString());
  REQUIRE(c.ok());
  return std::move(c).value();
}

std::string ErrorOf(std::string_view yaml, const ConfigOverrides& o = {}) {
  auto c = ParseConfig(yaml, o);
  REQUIRE_FALSE(c.ok());
  return c.status().message();
}

}  // namespace

TEST_SUITE("config_auth") {
  TEST_CASE("config_auth: users, permissions and their shapes") {
    Config c = MustParse(R"(
authorization:
  timeout: 0.5
  default_permissions: {publish: "a.>", subscribe: ["b", "c.*"]}
  users:
    - {user: x, password: y}
    - user: z
      pass: w
      permissions:
        publish: {allow: ["p.>"], deny: "p.secret"}
        allow_responses: {max: 3, expires: 1m}
)");
    const AuthOptions& a = c.core.auth;
    CHECK(a.required());
    CHECK(a.timeout_ms == 500);
    REQUIRE(a.default_permissions);
    CHECK(*a.default_permissions->publish->allow == std::vector<std::string>{"a.>"});
    CHECK(*a.default_permissions->subscribe->allow == std::vector<std::string>{"b", "c.*"});
    REQUIRE(a.users.size() == 2);
    CHECK(a.users[1].password == "w");
    const Permissions& p = *a.users[1].permissions;
    CHECK(p.publish->deny == std::vector<std::string>{"p.secret"});
    CHECK(p.responses->max_msgs == 3);
    CHECK(p.responses->expires_ms == 60000);
    CHECK(MustParse("authorization: {users: [{user: a, password: b, permissions: "
                    "{allow_responses: true}}]}")
              .core.auth.users[0]
              .permissions->responses->max_msgs == 1);
    CHECK(MustParse("authorization: {token: t, timeout: 3s}").core.auth.timeout_ms == 3000);
    // A user may be named by a certificate subject (verify_and_map): spaces are allowed.
    CHECK(MustParse("authorization: {users: [{user: \"CN=bob,O=Example Corp\", password: p}]}")
              .core.auth.users[0]
              .user == "CN=bob,O=Example Corp");
  }

  TEST_CASE("config_auth: flags") {
    ConfigOverrides o;
    o.user = "u";
    o.pass = "p";
    Config c = MustParse("", o);
    CHECK(c.core.auth.user == "u");
    CHECK(c.core.auth.password == "p");
    ConfigOverrides t;
    t.auth = "tok";
    CHECK(MustParse("", t).core.auth.token == "tok");
    ConfigOverrides only_pass;
    only_pass.pass = "p";
    CHECK(ErrorOf("", only_pass) ==
          "config: authorization.user: must be set with authorization.password");
  }

  TEST_CASE("config_auth: errors name the key, never the secret") {
    CHECK(ErrorOf("authorization: {user: u, password: p, token: t}") ==
          "config: authorization: use one of user/password, token or users, not several");
    CHECK(ErrorOf("authorization: {users: [{user: u}]}") ==
          "config: authorization.users[0].password: is missing (only tls.verify_and_map admits a "
          "user without one)");
    CHECK(ErrorOf("authorization: {users: [{user: \"a\\tb\", password: p}]}") ==
          "config: authorization.users[0].user: \"a\\x09b\" must not contain control characters");
    CHECK(ErrorOf("authorization: {users: [{user: u, password: p}, {user: u, password: q}]}") ==
          "config: authorization.users[1]: duplicate user \"u\"");
    CHECK(ErrorOf("authorization: {users: [{nkey: SUAB}]}") ==
          "config: authorization.users[0].nkey: \"SUAB\" is not a user's public nkey (it starts "
          "with 'U')");
    CHECK(ErrorOf("authorization: {users: [{user: u, password: p, permissions: {publish: "
                  "[\"a..b\"]}}]}")
              .rfind("config: authorization.users[0].permissions.publish[0]: \"a..b\" is not a "
                     "valid subject",
                     0) == 0);
    CHECK(ErrorOf("authorization: {users: [{user: u, password: p, permissions: {pub: x}}]}")
              .rfind("config: authorization.users[0].permissions.pub: unknown key", 0) == 0);
    CHECK(ErrorOf("authorization: {timeout: 0}") ==
          "config: authorization.timeout: \"0\" must be above 0 and at most 86400 seconds");
    const std::string e = ErrorOf("authorization: {user: u, password: {x: hunter2}}");
    CHECK(e == "config: authorization.password: expected a string, got a map");
  }

  TEST_CASE("config_auth: a group member needs credentials its core accepts") {
    const std::string users = "authorization: {users: [{user: pair, password: pw}]}\n";
    CHECK(ErrorOf(users + "ft: {group: g, peers: [127.0.0.1:4222]}").rfind(
              "config: ft: the client port requires authorization", 0) == 0);
    CHECK(ErrorOf(users + "ft: {group: g, peers: [127.0.0.1:4222], user: pair, "
                          "password: pX}") ==
          "config: ft: the pair's credentials (ft.user/ft.password, ft.token or "
          "ft.nkey_seed_file) are not accepted by this member's authorization");
    Config ok = MustParse(users + "ft: {group: g, peers: [127.0.0.1:4222], user: pair, "
                                  "password: pw}");
    CHECK(ok.ft.credentials.user == "pair");

    const test::UserNkey key = test::MakeUserNkey();
    test::TempDir dir;
    const std::string file = dir.WriteFile("pair.nk", "# seed\n" + key.seed + "\n");
    Config nk = MustParse("authorization: {users: [{nkey: " + key.pub + "}]}\n" +
                          "ft: {group: g, peers: [127.0.0.1:4222], nkey_seed_file: " + file + "}");
    CHECK(nk.ft.credentials.nkey_seed == key.seed);
    const std::string empty = dir.WriteFile("empty.nk", "nothing here\n");
    CHECK(ErrorOf("ft: {nkey_seed_file: " + empty + "}") ==
          "config: ft.nkey_seed_file: \"" + empty + "\": holds no user nkey seed (\"SU...\")");
  }
}

}  // namespace tandem::server
