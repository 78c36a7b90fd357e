// bind_address_test.cc: ResolveBindHost keeps literals, resolves names (IPv4 first) and reports
// names that do not resolve; the config reports it against the key.
#include "server/util/bind_address.h"

#include <doctest/doctest.h>

#include "server/config.h"

namespace tandem::server {

TEST_SUITE("bind_address") {
  TEST_CASE("bind_address: literals are kept, localhost binds 127.0.0.1") {
    CHECK(ResolveBindHost("0.0.0.0").value() == "0.0.0.0");
    CHECK(ResolveBindHost("::1").value() == "::1");
    CHECK(ResolveBindHost("::").value() == "::");
    CHECK(ResolveBindHost("localhost").value() == "127.0.0.1");
  }

  TEST_CASE("bind_address: a name that does not resolve is an error") {
    auto r = ResolveBindHost("no-such-host.invalid");
    CHECK_FALSE(r.ok());
  }

  TEST_CASE("bind_address: config resolves listen and http, and names a bad host") {
    auto c = ParseConfig("listen: localhost:4333\nhttp: localhost:8333\n", {});
    REQUIRE(c.ok());
    CHECK(c->core.host == "127.0.0.1");
    CHECK(c->http.host == "127.0.0.1");
    auto bad = ParseConfig("listen: no-such-host.invalid:4333\n", {});
    REQUIRE_FALSE(bad.ok());
    CHECK(
        bad.status().message().rfind(
            "config: listen: \"no-such-host.invalid:4333\": cannot resolve no-such-host.invalid: ",
            0) == 0);
  }
}

}  // namespace tandem::server
