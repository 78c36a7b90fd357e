// value_syntax.h: the value syntaxes shared by the configuration file, the command-line flags
// and the `status` command (sizes, durations, HOST:PORT), and the one quoting rule of error
// messages. Each parser returns InvalidArgument whose message is a phrase about the text without
// a key path, e.g. `"5x" is not a duration`; the caller puts the key in front.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/status.h"

namespace tandem::server {

// `text` in double quotes, with `"` and `\` escaped and control bytes as \xNN: safe to put in
// a log line or an error message whatever the input held.
std::string Quote(std::string_view text);
// InvalidArgument("<quoted text> <what>"): `"abc" is not a number`.
Status Phrase(std::string_view text, std::string_view what);

// A decimal unsigned number, no sign, no spaces.
Result<uint64_t> ParseUint(std::string_view text);
// Sizes: 1000, 64KB (10^3), 64KiB (2^10), MB/MiB, GB/GiB, TB/TiB; a bare number is bytes.
Result<uint64_t> ParseSize(std::string_view text);
// Durations: 0, 500ms, 30s, 5m, 24h, 1h30m, 1.5s (units ns, us, ms, s, m, h). Never negative.
Result<int64_t> ParseDurationNs(std::string_view text);
// "HOST:PORT", "[IPv6]:PORT" or ":PORT" (host 0.0.0.0). Port 0..65535.
struct HostPort {
  std::string host;
  int port = 0;
};
Result<HostPort> ParseHostPort(std::string_view text);
// Formats "HOST:PORT", bracketing an IPv6 host.
std::string FormatHostPort(std::string_view host, int port);

}  // namespace tandem::server
