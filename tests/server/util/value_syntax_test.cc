// value_syntax_test.cc: the peer-address syntax (looser than ParseHostPort: a bare IPv6 literal,
// an empty host meaning 127.0.0.1, port 1..65535) and the split at the last ':' it and the FT
// node's address comparison share. ParseHostPort, sizes and durations: config_test.cc.
#include "server/util/value_syntax.h"

#include <doctest/doctest.h>

namespace tandem::server {

TEST_SUITE("value_syntax") {
  TEST_CASE("value_syntax: SplitAtLastColon") {
    auto [h1, p1] = SplitAtLastColon("host:4222");
    CHECK(h1 == "host");
    CHECK(p1 == "4222");
    auto [h2, p2] = SplitAtLastColon("::1:4222");
    CHECK(h2 == "::1");
    CHECK(p2 == "4222");
    auto [h3, p3] = SplitAtLastColon("nocolon");
    CHECK(h3 == "nocolon");
    CHECK(p3.empty());
  }

  TEST_CASE("value_syntax: ParsePeerHostPort accepts the peer forms") {
    auto hp = ParsePeerHostPort("10.0.0.1:4222");
    REQUIRE(hp);
    CHECK(hp->host == "10.0.0.1");
    CHECK(hp->port == 4222);
    hp = ParsePeerHostPort("[::1]:5000");
    REQUIRE(hp);
    CHECK(hp->host == "::1");
    hp = ParsePeerHostPort("::1:5000");
    REQUIRE(hp);
    CHECK(hp->host == "::1");
    CHECK(hp->port == 5000);
    hp = ParsePeerHostPort(":65535");
    REQUIRE(hp);
    CHECK(hp->host == "127.0.0.1");
    CHECK(hp->port == 65535);
    hp = ParsePeerHostPort("name:01");
    REQUIRE(hp);
    CHECK(hp->port == 1);
  }

  TEST_CASE("value_syntax: ParsePeerHostPort refuses what the peer link refused") {
    for (const char* bad : {"host", "host:", "host:0", "host:65536", "host:123456", "host:4x",
                            "host:-1", ""}) {
      INFO(bad);
      CHECK_FALSE(ParsePeerHostPort(bad));
    }
  }
}

}  // namespace tandem::server
