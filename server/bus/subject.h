// subject.h: NATS subject rules: validation of subjects and queue names, wildcard matching and
// a small allocation-free tokenizer.
//
// Rules, as nats-server applies them: a subject is one or more tokens separated by '.'; no
// token is empty (no leading, trailing or double dots); no space, tab, CR, LF or FF anywhere.
// A token that is exactly "*" matches any one token; a token that is exactly ">" matches one or
// more trailing tokens and must be the last token. A token that merely contains '*' or '>'
// ("foo*", "a>b") is an ordinary literal token. Matching is case-sensitive, byte for byte.
//
// Called by the connection code (SUB and pedantic PUB checks), the sublist and the streaming
// layer (channel names). Pure functions over views; nothing is kept.
//
// Thread safety: stateless, safe from any thread.
#pragma once

#include <cstddef>
#include <string_view>

namespace tandem::server {

// A subject for SUB: wildcard tokens allowed, ">" only last.
bool IsValidSubject(std::string_view subject);
// A subject without wildcard tokens: what PUB (pedantic) and channel-like names need.
bool IsValidLiteralSubject(std::string_view subject);
// A queue group name: non-empty, no whitespace (dots and other bytes allowed, as nats-server).
bool IsValidQueueName(std::string_view queue);
// True when `literal` (a literal subject) is matched by `pattern` (a subject that may hold
// wildcards). "foo.*" matches "foo.bar"; "foo.>" matches "foo.a" and "foo.a.b" but not "foo".
bool SubjectMatches(std::string_view pattern, std::string_view literal);

// Walks the '.'-separated tokens of a subject without allocating:
//   SubjectTokenizer t(subject);
//   for (std::string_view tok; t.Next(&tok);) { ... }
// Empty tokens are returned as such (validation is the caller's business).
class SubjectTokenizer {
 public:
  explicit SubjectTokenizer(std::string_view subject) : rest_(subject), done_(false) {}
  bool Next(std::string_view* token) {
    if (done_) return false;
    const size_t dot = rest_.find('.');
    if (dot == std::string_view::npos) {
      *token = rest_;
      done_ = true;
    } else {
      *token = rest_.substr(0, dot);
      rest_.remove_prefix(dot + 1);
    }
    return true;
  }

 private:
  std::string_view rest_;
  bool done_;
};

// The number of tokens in a subject ("a.b.c" -> 3, "" -> 1).
size_t CountTokens(std::string_view subject);

}  // namespace tandem::server
