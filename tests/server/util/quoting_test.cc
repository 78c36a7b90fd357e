// quoting_test.cc: each output form of quoting.h, byte for byte, so that no caller's text changes
// when one form is edited: the message quote, the C-escaped and hex-escaped protocol snippets and
// JSON string escaping.
#include "server/util/quoting.h"

#include <string>

#include <doctest/doctest.h>

namespace tandem::server {

TEST_SUITE("quoting") {
  TEST_CASE("quoting: Quote escapes quotes, backslashes and control bytes only") {
    CHECK(Quote("abc") == "\"abc\"");
    CHECK(Quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(Quote(std::string("\r\n\t\x01", 4)) == "\"\\x0d\\x0a\\x09\\x01\"");
    CHECK(Quote("\xC3\xA9\x7f") == "\"\xC3\xA9\x7f\"");  // bytes >= 0x7f stay as they are
  }

  TEST_CASE("quoting: AppendCEscaped uses C escapes and hex for the rest") {
    std::string out = "at ";
    AppendCEscaped(&out, std::string("P\r\n\t\"\\\x01\x7f\xff", 9));
    CHECK(out == "at \"P\\r\\n\\t\\\"\\\\\\x01\\x7f\\xff\"");
  }

  TEST_CASE("quoting: QuoteHexEscaped escapes as hex and cuts at max") {
    CHECK(QuoteHexEscaped("MSG\r\n", 40) == "\"MSG\\x0d\\x0a\"");
    CHECK(QuoteHexEscaped("a\"b\\", 40) == "\"a\\x22b\\x5c\"");
    CHECK(QuoteHexEscaped("abcdef", 3) == "\"abc...\"");
    CHECK(QuoteHexEscaped("abc", 3) == "\"abc\"");
  }

  TEST_CASE("quoting: JsonEscape") {
    CHECK(JsonEscape("plain") == "plain");
    CHECK(JsonEscape("a\"b\\c") == "a\\\"b\\\\c");
    CHECK(JsonEscape(std::string("\n\x1f", 2)) == "\\u000a\\u001f");
    CHECK(JsonEscape("\xC3\xA9") == "\xC3\xA9");
  }
}

}  // namespace tandem::server
