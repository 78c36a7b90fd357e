// value_syntax.cc: the value syntaxes of the configuration, the flags, the status command and
// the peer addresses (sizes, durations, HOST:PORT); see value_syntax.h.
#include "server/util/value_syntax.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <string>

#include <fmt/format.h>

namespace tandem::server {
namespace {

// The multiplier of a lower-case size unit, 0 when it is none: "" and "b" are bytes; k, m, g, t
// are powers of 1000 and ki, mi, gi, ti powers of 1024, each with an optional "b".
uint64_t UnitMultiplier(std::string_view u) {
  if (u.empty() || u == "b") return 1;
  if (u.back() == 'b') u.remove_suffix(1);
  const size_t power = std::string_view("kmgt").find(u.front()) + 1;  // 0 when not found
  const bool binary = u.size() == 2 && u[1] == 'i';
  if (power == 0 || (u.size() != 1 && !binary)) return 0;
  uint64_t mult = 1;
  for (size_t i = 0; i < power; ++i) mult *= binary ? 1024 : 1000;
  return mult;
}

}  // namespace

// A phrase about a value, without the key: `"abc" is not a number`.
Status Phrase(std::string_view text, std::string_view what) {
  return Status::InvalidArgument(fmt::format("{} {}", Quote(text), what));
}

Result<uint64_t> ParseUint(std::string_view text) {
  if (!text.empty() && text[0] == '-') return Phrase(text, "must not be negative");
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ptr != text.data() + text.size()) return Phrase(text, "is not a number");
  if (ec == std::errc::result_out_of_range) return Phrase(text, "is too large");
  return v;
}

Result<uint64_t> ParseSizeWithUnit(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (!text.empty() && text[0] == '-') return Phrase(text, "must not be negative");
  if (i == 0) return Phrase(text, "is not a size (like 1000, 64KB, 64KiB, 1MiB)");
  auto n = ParseUint(text.substr(0, i));
  if (!n.ok()) return Phrase(text, "is too large");
  std::string unit(text.substr(i));
  if (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  const uint64_t mult = UnitMultiplier(unit);
  if (mult == 0) return Phrase(text, "is not a size (like 1000, 64KB, 64KiB, 1MiB)");
  if (*n > UINT64_MAX / mult) return Phrase(text, "is too large");
  return *n * mult;
}

Result<int64_t> ParseDurationNs(std::string_view text) {
  constexpr std::string_view kHint = "is not a duration (like 0, 500ms, 30s, 5m, 24h, 1h30m)";
  if (text == "0") return int64_t{0};
  if (!text.empty() && text[0] == '-') return Phrase(text, "must not be negative");
  if (text.empty()) return Phrase(text, kHint);
  struct Unit {
    std::string_view name;
    int64_t ns;
  };
  static constexpr Unit kUnits[] = {
      {"ns", 1},
      {"us", 1000},
      {"\xC2\xB5s", 1000},
      {"ms", 1000000},
      {"s", 1000000000LL},
      {"m", 60 * 1000000000LL},
      {"h", 3600 * 1000000000LL},
  };
  __int128 total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view whole = text.substr(start, i - start);
    std::string_view frac;
    if (i < text.size() && text[i] == '.') {
      size_t fs = ++i;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
      frac = text.substr(fs, i - fs);
    }
    if (whole.empty() && frac.empty()) return Phrase(text, kHint);
    size_t us = i;
    while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) && text[i] != '.')
      ++i;
    std::string_view unit = text.substr(us, i - us);
    if (unit.empty()) return Phrase(text, "is not a duration (missing unit, like 30s)");
    const Unit* u = nullptr;
    for (const auto& cand : kUnits) {
      if (cand.name == unit) u = &cand;
    }
    if (!u) return Phrase(text, kHint);
    if (whole.size() > 12) return Phrase(text, "is too large");
    __int128 w = 0;
    for (char c : whole) w = w * 10 + (c - '0');
    total += w * u->ns;
    __int128 scale = u->ns;
    for (char c : frac) {
      scale /= 10;
      if (scale == 0) break;
      total += (c - '0') * scale;
    }
    if (total > INT64_MAX) return Phrase(text, "is too large");
  }
  return static_cast<int64_t>(total);
}

Result<HostPort> ParseHostPort(std::string_view text) {
  constexpr std::string_view kHint = "is not HOST:PORT";
  HostPort hp;
  std::string_view port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Phrase(text, kHint);
    }
    hp.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
    if (hp.host.empty()) return Phrase(text, kHint);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Phrase(text, kHint);
    std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos)
      return Phrase(text, "is not HOST:PORT (write an IPv6 host as [::1]:4222)");
    hp.host = host.empty() ? "0.0.0.0" : std::string(host);
    port = text.substr(colon + 1);
  }
  for (char c : hp.host) {
    if (std::isspace(static_cast<unsigned char>(c)) ||
        std::iscntrl(static_cast<unsigned char>(c))) {
      return Phrase(text, kHint);
    }
  }
  uint64_t p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ptr != port.data() + port.size() || ec != std::errc()) {
    return Phrase(text, "is not HOST:PORT (the port is not a number)");
  }
  if (p > 65535) return Phrase(text, "has a port outside 1..65535");
  hp.port = static_cast<int>(p);
  return hp;
}

HostPortText SplitAtLastColon(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return {text, {}};
  return {text.substr(0, colon), text.substr(colon + 1)};
}

std::string_view WithoutNatsScheme(std::string_view text) {
  for (std::string_view scheme : {"nats://", "tls://"}) {
    if (text.substr(0, scheme.size()) == scheme) return text.substr(scheme.size());
  }
  return text;
}

Result<std::string> ParseNatsUrl(std::string_view text) {
  std::string_view scheme = "nats://";
  if (text.substr(0, 6) == "tls://") scheme = "tls://";
  std::string_view rest = WithoutNatsScheme(text);
  if (rest.find("://") != std::string_view::npos) {
    return Phrase(text, "is not a NATS URL (nats://HOST:PORT, tls://HOST:PORT or HOST:PORT)");
  }
  if (rest.find('@') != std::string_view::npos) {
    return Status::InvalidArgument(
        "a URL with credentials is refused (it would be shown in logs and monitoring); give "
        "them as nats.user and nats.password, or nats.token");
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string with_port(rest);
  // No port, or a bare IPv6 literal in brackets: the NATS default port.
  if (!with_port.empty() && (with_port.find(':') == std::string::npos || with_port.back() == ']')) {
    with_port += ":4222";
  }
  auto hp = ParseHostPort(with_port);
  if (!hp.ok() || hp->port == 0 || with_port.front() == ':') {
    return Phrase(text, "is not a NATS URL (nats://HOST:PORT, tls://HOST:PORT or HOST:PORT)");
  }
  return fmt::format("{}{}", scheme, FormatHostPort(hp->host, hp->port));
}

std::optional<HostPort> ParsePeerHostPort(std::string_view text) {
  text = WithoutNatsScheme(text);
  if (text.find(':') == std::string_view::npos) return std::nullopt;
  auto [host, port] = SplitAtLastColon(text);
  if (port.empty() || port.size() > 5) return std::nullopt;
  int n = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n < 1 || n > 65535) return std::nullopt;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return HostPort{host.empty() ? "127.0.0.1" : std::string(host), n};
}

std::string FormatHostPort(std::string_view host, int port) {
  if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

}  // namespace tandem::server
