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

  TEST_CASE("value_syntax: a peer may be written as a NATS URL") {
    CHECK(WithoutNatsScheme("nats://127.0.0.1:4222") == "127.0.0.1:4222");
    CHECK(WithoutNatsScheme("tls://h:1") == "h:1");
    CHECK(WithoutNatsScheme("h:1") == "h:1");
    CHECK(WithoutNatsScheme("http://h:1") == "http://h:1");
    auto hp = ParsePeerHostPort("nats://127.0.0.1:4222");
    REQUIRE(hp);
    CHECK(hp->host == "127.0.0.1");
    CHECK(hp->port == 4222);
    hp = ParsePeerHostPort("nats://[::1]:5000");
    REQUIRE(hp);
    CHECK(hp->host == "::1");
    CHECK_FALSE(ParsePeerHostPort("nats://host"));
  }

  TEST_CASE("value_syntax: ParseNatsUrl") {
    auto must = [](std::string_view t) {
      auto r = ParseNatsUrl(t);
      REQUIRE_MESSAGE(r.ok(), r.status().ToString());
      return *r;
    };
    CHECK(must("127.0.0.1:4222") == "nats://127.0.0.1:4222");
    CHECK(must("nats://h1:4223") == "nats://h1:4223");
    CHECK(must("tls://h1:4223") == "tls://h1:4223");
    CHECK(must("nats://h1") == "nats://h1:4222");
    CHECK(must("h1") == "nats://h1:4222");
    CHECK(must("nats://[::1]:5000") == "nats://[::1]:5000");
    CHECK(must("nats://h1:4222/") == "nats://h1:4222");
    for (const char* bad : {"", "nats://", "http://h:1", "nats://h:0", "nats://h:x", "h:70000",
                            ":4222", "nats://a b:1"}) {
      INFO(bad);
      CHECK_FALSE(ParseNatsUrl(bad).ok());
    }
    auto creds = ParseNatsUrl("nats://alice:s3cret@h:4222");
    REQUIRE_FALSE(creds.ok());
    CHECK(creds.status().message().find("s3cret") == std::string::npos);
  }
}

}  // namespace tandem::server
