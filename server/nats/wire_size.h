// wire_size.h: a size argument of the NATS protocol (PUB/HPUB/MSG/HMSG byte counts, an UNSUB
// max): plain decimal digits, no sign, no unit, at most 18 of them so that it fits an int64
// without overflow checks. Shared by the core parser and the peer link's reader. (A size in the
// configuration has units: ParseSizeWithUnit in server/util/value_syntax.h.)
//
// Thread safety: a pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tandem::server {

inline constexpr size_t kMaxWireSizeDigits = 18;

// The value; -1 when empty or not all digits, -2 when all digits but more than 18 of them (a
// size no payload limit allows).
inline int64_t ParseWireSize(std::string_view s) {
  if (s.empty()) return -1;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
  }
  if (s.size() > kMaxWireSizeDigits) return -2;
  int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

}  // namespace tandem::server
