// value_syntax.h: the value syntaxes shared by the configuration file, the command-line flags,
// the `status` command and the pair's peer addresses (sizes, durations, HOST:PORT); the quoting
// rule of their error messages is Quote (quoting.h). Each parser returns InvalidArgument whose
// message is a phrase about the text without a key path, e.g. `"5x" is not a duration`; the caller
// puts the key in front.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/util/quoting.h"
#include "store/status.h"

namespace tandem::server {

// InvalidArgument("<quoted text> <what>"): `"abc" is not a number`.
Status Phrase(std::string_view text, std::string_view what);

// A decimal unsigned number, no sign, no spaces.
Result<uint64_t> ParseUint(std::string_view text);
// A configured size with an optional unit: 1000, 64KB (10^3), 64KiB (2^10), MB/MiB, GB/GiB,
// TB/TiB; a bare number is bytes. (A size on the NATS wire is plain digits: wire_size.h.)
Result<uint64_t> ParseSizeWithUnit(std::string_view text);
// Durations: 0, 500ms, 30s, 5m, 24h, 1h30m, 1.5s (units ns, us, ms, s, m, h). Never negative.
Result<int64_t> ParseDurationNs(std::string_view text);
// "HOST:PORT", "[IPv6]:PORT" or ":PORT" (host 0.0.0.0). Port 0..65535.
struct HostPort {
  std::string host;
  int port = 0;
};
Result<HostPort> ParseHostPort(std::string_view text);
// The text before and after the last ':' (port empty, host all of `text`, when there is no
// ':'). No check of either part; brackets stay.
struct HostPortText {
  std::string_view host;
  std::string_view port;
};
HostPortText SplitAtLastColon(std::string_view text);
// The looser syntax of a peer's address (ft.peers, as the peer link dials it): "host:port",
// "[v6]:port" or "v6-literal:port" (the port is after the last ':'), port 1..65535 in at most
// five digits, brackets removed, an empty host meaning 127.0.0.1. nullopt when malformed.
std::optional<HostPort> ParsePeerHostPort(std::string_view text);
// A NATS address may be written as a URL, as NATS users write it everywhere: "nats://host:port"
// (and "tls://host:port") name the same address as "host:port". Returns `text` without that
// scheme; anything else is returned unchanged.
std::string_view WithoutNatsScheme(std::string_view text);
// A NATS server URL of an external cluster (nats.servers, --nats-server): "host:port",
// "nats://host:port" or "tls://host:port", port 1..65535 (4222 when left out, as in the NATS
// clients); returned as "nats://host:port" or "tls://host:port". Credentials inside the URL
// ("nats://user:pass@host") are refused: they would show wherever the URL is shown.
Result<std::string> ParseNatsUrl(std::string_view text);
// Formats "HOST:PORT", bracketing an IPv6 host.
std::string FormatHostPort(std::string_view host, int port);

}  // namespace tandem::server
