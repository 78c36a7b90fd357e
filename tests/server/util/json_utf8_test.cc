// json_utf8_test.cc: RepairJsonUtf8 replaces what nats-server's JSON reader (Go) replaces, byte
// for byte, and leaves valid input alone.
#include "server/util/json_utf8.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

namespace tandem::server {

TEST_SUITE("json_utf8") {
  TEST_CASE("json_utf8: valid input needs no repair") {
    CHECK_FALSE(RepairJsonUtf8(R"({"name":"plain"})").has_value());
    CHECK_FALSE(RepairJsonUtf8("{\"name\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"}"));
    CHECK_FALSE(RepairJsonUtf8(R"({"name":"\u00e9 \ud83d\ude00 \"\\u\" \\"})"));
    CHECK_FALSE(RepairJsonUtf8(""));
  }

  TEST_CASE("json_utf8: each invalid byte becomes U+FFFD") {
    const std::string r = "\xEF\xBF\xBD";
    CHECK(RepairJsonUtf8("\"a\xFF"
                         "b\"") == "\"a" + r + "b\"");
    // A truncated sequence at the end, a lone continuation byte.
    CHECK(RepairJsonUtf8("\"\xC3\"") == "\"" + r + "\"");
    CHECK(RepairJsonUtf8("\"\x80\"") == "\"" + r + "\"");
    // Truncated three-byte sequence: one replacement per byte, as Go does.
    CHECK(RepairJsonUtf8("\"\xE2\x82x\"") == "\"" + r + r + "x\"");
    // Overlong, encoded surrogate, above U+10FFFF.
    CHECK(RepairJsonUtf8("\"\xC0\xAF\"") == "\"" + r + r + "\"");
    CHECK(RepairJsonUtf8("\"\xED\xA0\x80\"") == "\"" + r + r + r + "\"");
    CHECK(RepairJsonUtf8("\"\xF4\x90\x80\x80\"") == "\"" + r + r + r + r + "\"");
  }

  TEST_CASE("json_utf8: a lone surrogate escape becomes \\ufffd") {
    CHECK(RepairJsonUtf8(R"("a\ud800b")") == R"("a\ufffdb")");
    CHECK(RepairJsonUtf8(R"("\udc00")") == R"("\ufffd")");
    CHECK(RepairJsonUtf8(R"("\ud800\u0041")") == R"("\ufffd\u0041")");
    // An escaped backslash before "u" is not an escape.
    CHECK_FALSE(RepairJsonUtf8(R"("\\ud800")").has_value());
  }

  TEST_CASE("json_utf8: the repaired text parses, with U+FFFD where the bad bytes were") {
    auto fixed = RepairJsonUtf8(
        "{\"name\":\"ab\xFF\xFE"
        "cd\xC3\",\"v\":\"\\ud800\"}");
    REQUIRE(fixed.has_value());
    auto j = nlohmann::json::parse(*fixed, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    CHECK(j["name"] ==
          "ab\xEF\xBF\xBD\xEF\xBF\xBD"
          "cd\xEF\xBF\xBD");
    CHECK(j["v"] == "\xEF\xBF\xBD");
  }
}

}  // namespace tandem::server
