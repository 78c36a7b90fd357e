// subject_test.cc: tests of server/bus/subject (validation, wildcard matching, tokenizer), as
// tables checked against the rules nats-server applies (see server/bus/subject.h).
#include "server/bus/subject.h"

#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

namespace tandem::server {
namespace {

struct ValidityCase {
  std::string_view subject;
  bool valid;    // IsValidSubject
  bool literal;  // IsValidLiteralSubject
};

TEST_SUITE("subject") {
  TEST_CASE("subject: validation table") {
    const ValidityCase cases[] = {
        {"foo", true, true},
        {"foo.bar", true, true},
        {"foo.bar.baz", true, true},
        {"_INBOX.abc123.xyz", true, true},
        {"a-b_c.d:e/f", true, true},
        {"\xc3\xa9t\xc3\xa9.x", true, true},  // UTF-8 is fine
        {"*", true, false},
        {">", true, false},
        {"foo.*", true, false},
        {"*.bar", true, false},
        {"foo.*.baz", true, false},
        {"foo.>", true, false},
        {"*.>", true, false},
        {"foo.*.>", true, false},
        // Tokens that only contain wildcard characters are literals in nats-server.
        {"foo*", true, true},
        {"foo.bar*", true, true},
        {"foo.*bar", true, true},
        {"foo>", true, true},
        {"foo.>bar", true, true},
        {"foo.**", true, true},
        {"foo.>>", true, true},
        // Structure errors.
        {"", false, false},
        {".", false, false},
        {".foo", false, false},
        {"foo.", false, false},
        {"foo..bar", false, false},
        {"foo.>.bar", false, false},
        {">.foo", false, false},
        {">.>", false, false},
        // Whitespace anywhere.
        {"foo bar", false, false},
        {"foo\tbar", false, false},
        {"foo\r", false, false},
        {"foo.\n", false, false},
        {"foo.\f.bar", false, false},
        {" ", false, false},
        {"foo. .bar", false, false},
    };
    for (const auto& c : cases) {
      CAPTURE(c.subject);
      CHECK(IsValidSubject(c.subject) == c.valid);
      CHECK(IsValidLiteralSubject(c.subject) == c.literal);
    }
  }

  TEST_CASE("subject: queue names") {
    CHECK(IsValidQueueName("workers"));
    CHECK(IsValidQueueName("q.with.dots"));
    CHECK(IsValidQueueName("q*"));
    CHECK_FALSE(IsValidQueueName(""));
    CHECK_FALSE(IsValidQueueName("a b"));
    CHECK_FALSE(IsValidQueueName("a\tb"));
    CHECK_FALSE(IsValidQueueName("a\r"));
    CHECK_FALSE(IsValidQueueName("\n"));
  }

  struct MatchCase {
    std::string_view pattern;
    std::string_view literal;
    bool match;
  };

  TEST_CASE("subject: matching table") {
    const MatchCase cases[] = {
        {"foo", "foo", true},
        {"foo", "bar", false},
        {"foo", "foo.bar", false},
        {"foo.bar", "foo", false},
        {"foo.bar", "foo.bar", true},
        {"Foo", "foo", false},  // case-sensitive
        {"*", "foo", true},
        {"*", "foo.bar", false},
        {"foo.*", "foo.bar", true},
        {"foo.*", "foo", false},
        {"foo.*", "foo.bar.baz", false},
        {"*.bar", "foo.bar", true},
        {"*.bar", "foo.baz", false},
        {"foo.*.baz", "foo.bar.baz", true},
        {"foo.*.baz", "foo.bar.bax", false},
        {"*.*", "a.b", true},
        {"*.*", "a", false},
        {">", "foo", true},
        {">", "foo.bar.baz", true},
        {"foo.>", "foo.bar", true},
        {"foo.>", "foo.bar.baz", true},
        {"foo.>", "foo", false},
        {"foo.>", "bar.baz", false},
        {"*.>", "a.b", true},
        {"*.>", "a", false},
        {"foo.*.>", "foo.a.b", true},
        {"foo.*.>", "foo.a", false},
        // "foo*" is an ordinary token.
        {"foo*", "foo*", true},
        {"foo*", "foobar", false},
        {"foo.b*", "foo.bar", false},
        {"foo.>x", "foo.a", false},
        {"_INBOX.abc.*", "_INBOX.abc.r1", true},
        {"_INBOX.abc.*", "_INBOX.abd.r1", false},
    };
    for (const auto& c : cases) {
      CAPTURE(c.pattern);
      CAPTURE(c.literal);
      CHECK(SubjectMatches(c.pattern, c.literal) == c.match);
    }
  }

  TEST_CASE("subject: tokenizer") {
    auto tokens = [](std::string_view s) {
      std::vector<std::string> out;
      SubjectTokenizer t(s);
      for (std::string_view tok; t.Next(&tok);) out.emplace_back(tok);
      return out;
    };
    CHECK(tokens("a.bb.ccc") == std::vector<std::string>{"a", "bb", "ccc"});
    CHECK(tokens("foo") == std::vector<std::string>{"foo"});
    CHECK(tokens("") == std::vector<std::string>{""});
    CHECK(tokens("a..b.") == std::vector<std::string>{"a", "", "b", ""});
    CHECK(CountTokens("a.b.c") == 3);
    CHECK(CountTokens("a") == 1);
    CHECK(CountTokens("") == 1);
  }

}  // TEST_SUITE

}  // namespace
}  // namespace tandem::server
