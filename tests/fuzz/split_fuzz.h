// split_fuzz.h: the driver shared by the protocol fuzz targets: the same bytes fed whole and
// fed in chunks must give the same run.
//
// The first two input bytes pick small limits (so the limit paths are reached), the rest is the
// byte stream. `feed(data, size, limits, cuts)` feeds it cut at the ascending positions `cuts`
// and returns a Run (events, a hash of them, the error). It is called once with no cuts and
// once with cut points from a PRNG seeded by the input; any difference aborts.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <initializer_list>
#include <string_view>
#include <vector>

namespace tandem::fuzz {

// Folds events into a running FNV-1a hash, touching every byte of every view.
struct EventHash {
  uint64_t hash = 1469598103934665603ull;
  size_t events = 0;

  void Mix(uint8_t b) {
    hash ^= b;
    hash *= 1099511628211ull;
  }
  bool Event(char kind, std::initializer_list<std::string_view> parts) {
    ++events;
    Mix(static_cast<uint8_t>(kind));
    for (std::string_view part : parts) {
      Mix(static_cast<uint8_t>(part.size()));
      for (char c : part) Mix(static_cast<uint8_t>(c));
      Mix(0xff);
    }
    return true;
  }
};

template <typename Error>
struct Run {
  uint64_t hash;
  size_t events;
  Error error;
  bool operator==(const Run&) const = default;
};

// Cut points every 1..24 bytes, from a PRNG seeded by the first 64 bytes and the size.
inline std::vector<size_t> PseudoRandomCuts(const uint8_t* data, size_t size) {
  std::vector<size_t> cuts;
  uint64_t x = 0x9e3779b97f4a7c15ull ^ size;
  for (size_t i = 0; i < size && i < 64; ++i) x = (x ^ data[i]) * 0x100000001b3ull;
  size_t pos = 0;
  while (size > 0) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    pos += 1 + x % 24;
    if (pos >= size) break;
    cuts.push_back(pos);
  }
  return cuts;
}

template <typename Limits, typename Feed>
int FuzzWholeVersusSplit(const uint8_t* data, size_t size, Feed feed) {
  if (size < 2) return 0;
  Limits limits;
  limits.max_control_line = 8 + data[0] % 120;
  limits.max_payload = data[1] % 200;
  data += 2;
  size -= 2;
  const auto whole = feed(data, size, limits, std::vector<size_t>{});
  const auto split = feed(data, size, limits, PseudoRandomCuts(data, size));
  if (!(whole == split)) abort();
  return 0;
}

}  // namespace tandem::fuzz
