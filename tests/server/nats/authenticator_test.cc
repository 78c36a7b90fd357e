// authenticator_test.cc: the CONNECT credential check of server/nats/auth.h without a socket:
// each form of authorization, bcrypt (hashed here with libxcrypt) and its remembered digest,
// nkey users with a nonce, and which permissions each user gets.
#include "server/nats/auth.h"

#include <doctest/doctest.h>

#include "tests/support/auth_helpers.h"

namespace tandem::server {

TEST_SUITE("authenticator") {
  TEST_CASE("authenticator: nothing configured admits everyone, without permissions") {
    Authenticator auth(AuthOptions{});
    CHECK_FALSE(auth.required());
    auto r = auth.Check({}, "");
    REQUIRE(r);
    CHECK(r->permissions == nullptr);
  }

  TEST_CASE("authenticator: single user, token") {
    AuthOptions one;
    one.user = "u";
    one.password = "p";
    Authenticator a(one);
    CHECK(a.required());
    CHECK(a.Check({"u", "p", "", "", ""}, ""));
    CHECK_FALSE(a.Check({"u", "q", "", "", ""}, ""));
    CHECK_FALSE(a.Check({"v", "p", "", "", ""}, ""));
    CHECK_FALSE(a.Check({"u", "", "", "", ""}, ""));

    AuthOptions tok;
    tok.token = "t0k";
    Authenticator t(tok);
    CHECK(t.Check({"", "", "t0k", "", ""}, ""));
    CHECK_FALSE(t.Check({"", "", "t0K", "", ""}, ""));
    CHECK_FALSE(t.Check({"", "", "", "", ""}, ""));
  }

  TEST_CASE("authenticator: users with plain and bcrypt passwords, nkeys, permissions") {
    const test::UserNkey key = test::MakeUserNkey();
    const std::string hash = test::BcryptHash("secret");
    REQUIRE_FALSE(hash.empty());
    CHECK(IsBcrypt(hash));
    AuthOptions o;
    Permissions mine;
    mine.publish = SubjectRules{std::vector<std::string>{"mine.>"}, {}};
    Permissions defaults;
    defaults.subscribe = SubjectRules{std::vector<std::string>{"public.>"}, {}};
    o.default_permissions = defaults;
    o.users.push_back(AuthUser{"plain", "pw", "", mine});
    o.users.push_back(AuthUser{"hashed", hash, "", std::nullopt});
    o.users.push_back(AuthUser{"", "", key.pub, std::nullopt});
    Authenticator a(o);
    CHECK(a.nonce_required());

    auto plain = a.Check({"plain", "pw", "", "", ""}, "n");
    REQUIRE(plain);
    CHECK(plain->user == "plain");
    REQUIRE(plain->permissions != nullptr);
    CHECK_FALSE(plain->permissions->CanPublish("other"));

    for (int i = 0; i < 2; ++i) {  // the second time from the remembered digest
      auto hashed = a.Check({"hashed", "secret", "", "", ""}, "n");
      REQUIRE(hashed);
      REQUIRE(hashed->permissions != nullptr);  // default_permissions
      CHECK_FALSE(hashed->permissions->CanSubscribe("private"));
    }
    CHECK_FALSE(a.Check({"hashed", "secreT", "", "", ""}, "n"));
    CHECK_FALSE(a.Check({"hashed", hash, "", "", ""}, "n"));

    auto seed = DecodeUserSeed(key.seed);
    REQUIRE(seed.ok());
    const std::string nonce = Authenticator::MakeNonce();
    CHECK(nonce.size() == 15);
    auto nk = a.Check({"", "", "", key.pub, SignNonce(*seed, nonce)}, nonce);
    REQUIRE(nk);
    CHECK(nk->user == key.pub);
    CHECK_FALSE(a.Check({"", "", "", key.pub, SignNonce(*seed, "other")}, nonce));
    CHECK_FALSE(a.Check({"", "", "", test::MakeUserNkey().pub, SignNonce(*seed, nonce)}, nonce));

    CHECK(a.FindUser("plain"));
    CHECK_FALSE(a.FindUser("nobody"));
  }
}

}  // namespace tandem::server
