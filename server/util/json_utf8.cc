// json_utf8.cc: the UTF-8 repair pass of json_utf8.h.
#include "server/util/json_utf8.h"

#include <cstdint>

namespace tandem::server {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the valid UTF-8 sequence at json[i], or 0 if the byte there does not start
// one. Overlong forms, surrogates (U+D800..U+DFFF) and values above U+10FFFF are invalid.
size_t ValidSequence(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  if (c < 0x80) return 1;
  size_t len = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return len;
}

// The value of the 4 hex digits at s[i], or -1.
int Hex4(std::string_view s, size_t i) {
  if (i + 4 > s.size()) return -1;
  int v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    char c = s[k];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

bool IsHigh(int u) { return u >= 0xD800 && u <= 0xDBFF; }
bool IsLow(int u) { return u >= 0xDC00 && u <= 0xDFFF; }

}  // namespace

std::optional<std::string> RepairJsonUtf8(std::string_view json) {
  std::string out;
  bool repaired = false;
  size_t copied = 0;  // json[0, copied) is in `out` already (once repaired)
  auto replace = [&](size_t at, size_t len, std::string_view with) {
    if (!repaired) out.reserve(json.size() + 16);
    repaired = true;
    out.append(json.substr(copied, at - copied));
    out.append(with);
    copied = at + len;
  };
  bool in_string = false;
  size_t i = 0;
  while (i < json.size()) {
    char c = json[i];
    if (static_cast<uint8_t>(c) >= 0x80) {
      size_t len = ValidSequence(json, i);
      if (len == 0) {
        replace(i, 1, kReplacement);
        len = 1;
      }
      i += len;
      continue;
    }
    if (c == '"') {
      in_string = !in_string;
    } else if (in_string && c == '\\' && i + 1 < json.size()) {
      if (json[i + 1] == 'u') {
        int u = Hex4(json, i + 2);
        if (IsHigh(u) && i + 7 < json.size() && json[i + 6] == '\\' && json[i + 7] == 'u' &&
            IsLow(Hex4(json, i + 8))) {
          i += 12;  // a valid pair
          continue;
        }
        if (IsHigh(u) || IsLow(u)) {
          replace(i, 6, "\\ufffd");
          i += 6;
          continue;
        }
      }
      i += 2;  // the escaped character, whatever it is (the parser judges it)
      continue;
    }
    ++i;
  }
  if (!repaired) return std::nullopt;
  out.append(json.substr(copied));
  return out;
}

}  // namespace tandem::server
