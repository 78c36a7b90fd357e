// subject.cc: subject validation and wildcard matching (see subject.h for the rules).
#include "server/bus/subject.h"

namespace tandem::server {

namespace {

inline bool IsSubjectSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

// Shared by both validators: every token non-empty and free of whitespace, nothing after a
// ">" token; `literal` also rejects the wildcard tokens "*" and ">".
bool CheckSubject(std::string_view subject, bool literal) {
  if (subject.empty()) return false;
  SubjectTokenizer tokens(subject);
  bool seen_fwc = false;
  for (std::string_view t; tokens.Next(&t);) {
    if (t.empty() || seen_fwc) return false;
    if (t.size() == 1) {
      if (t[0] == '*' || t[0] == '>') {
        if (literal) return false;
        seen_fwc = t[0] == '>';
      } else if (IsSubjectSpace(t[0])) {
        return false;
      }
      continue;
    }
    for (const char c : t) {
      if (IsSubjectSpace(c)) return false;
    }
  }
  return true;
}

}  // namespace

bool IsValidSubject(std::string_view subject) { return CheckSubject(subject, /*literal=*/false); }

bool IsValidLiteralSubject(std::string_view subject) {
  return CheckSubject(subject, /*literal=*/true);
}

bool IsValidQueueName(std::string_view queue) {
  if (queue.empty()) return false;
  for (const char c : queue) {
    if (IsSubjectSpace(c)) return false;
  }
  return true;
}

bool SubjectMatches(std::string_view pattern, std::string_view literal) {
  SubjectTokenizer pt(pattern);
  SubjectTokenizer lt(literal);
  std::string_view p;
  std::string_view l;
  while (pt.Next(&p)) {
    if (p.size() == 1 && p[0] == '>') return lt.Next(&l);  // one or more tokens left
    if (!lt.Next(&l)) return false;
    if (p.size() == 1 && p[0] == '*') continue;
    if (p != l) return false;
  }
  return !lt.Next(&l);
}

size_t CountTokens(std::string_view subject) {
  size_t n = 1;
  for (const char c : subject) n += c == '.';
  return n;
}

}  // namespace tandem::server
