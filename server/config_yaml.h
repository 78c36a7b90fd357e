// config_yaml.h: the pieces of the YAML walk that every section reader of the configuration
// shares (config.cc, config_auth.cc): the "config: <where>: <what>" message, the scalar value
// parsers, and the map walk that refuses unknown and duplicate keys. Only the configuration
// readers include it; it brings yaml-cpp, whose exceptions are caught in ParseConfig.
#pragma once

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "server/bus/subject.h"
#include "server/util/value_syntax.h"
#include "store/status.h"

namespace tandem::server::config_yaml {

// ---- messages ----------------------------------------------------------------------------

// The final message: `config: <where>: <what>`.
inline Status At(std::string_view where, std::string_view what) {
  return Status::InvalidArgument(fmt::format("config: {}: {}", where, what));
}
inline Status At(std::string_view where, const Status& phrase) {
  return At(where, phrase.message());
}

inline std::string Join(std::initializer_list<std::string_view> items) {
  std::string out;
  for (auto item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// ---- value parsers (phrases) ---------------------------------------------------------------

inline Result<uint64_t> ParseCount(std::string_view text, uint64_t min, uint64_t max) {
  auto v = ParseUint(text);
  if (!v.ok()) return v.status();
  if (*v < min) return Phrase(text, fmt::format("must be at least {}", min));
  if (*v > max) return Phrase(text, fmt::format("must be at most {}", max));
  return v;
}

inline Result<bool> ParseBool(std::string_view text) {
  std::string t(text);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "no" || t == "off") return false;
  return Phrase(text, "is not a boolean (true or false)");
}

// Durations in whole milliseconds for the options that keep milliseconds; > 0.
inline Result<uint64_t> ParsePositiveMs(std::string_view text) {
  auto ns = ParseDurationNs(text);
  if (!ns.ok()) return ns.status();
  if (*ns == 0) return Phrase(text, "must be greater than 0");
  if (*ns < 1000000) return Phrase(text, "must be at least 1ms");
  return static_cast<uint64_t>(*ns / 1000000);
}

// nats-server's timeouts (`authorization.timeout`, `tls.timeout`): a bare number is seconds
// (`2`, `0.5`), anything else a duration (`500ms`, `2s`); at most 86400 seconds, in ms (a
// nonzero value is at least 1 ms). 0 is accepted only with `zero_means_none` (no deadline).
inline Result<uint64_t> ParseTimeoutMs(std::string_view text, bool zero_means_none) {
  const std::string t(text);
  char* end = nullptr;
  errno = 0;
  const double seconds = std::strtod(t.c_str(), &end);
  if (!t.empty() && end == t.c_str() + t.size() && errno == 0) {
    const bool low = zero_means_none ? !(seconds >= 0) : !(seconds > 0);
    if (low || seconds > 86400) {
      return Phrase(text, zero_means_none ? "must be at least 0 and at most 86400 seconds"
                                          : "must be above 0 and at most 86400 seconds");
    }
    const auto ms = static_cast<uint64_t>(seconds * 1000 + 0.5);
    return ms == 0 && seconds > 0 ? 1 : ms;
  }
  auto ns = ParseDurationNs(text);
  if (!ns.ok()) {
    return Phrase(text, "is not a duration (seconds, or a number with a unit: 500ms, 2s)");
  }
  if (*ns == 0 && zero_means_none) return uint64_t{0};
  return ParsePositiveMs(text);
}

// A channel name or pattern, or a subject prefix, by the NATS subject rules (subject.h).
inline Status CheckSubject(std::string_view text, bool wildcards) {
  if (!IsValidSubject(text)) {
    return Phrase(text,
                  "is not a valid subject (non-empty tokens separated by '.', no "
                  "whitespace, '>' only last)");
  }
  if (!wildcards && !IsValidLiteralSubject(text)) return Phrase(text, "must not contain wildcards");
  return Status::OK();
}

inline Status CheckPrintable(std::string_view text) {
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) ||
        std::iscntrl(static_cast<unsigned char>(c))) {
      return Phrase(text, "must not contain whitespace");
    }
  }
  return Status::OK();
}

// ---- the YAML walk -------------------------------------------------------------------------

inline std::string KeyPath(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}

inline const char* KindName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a value";
  }
}

// The text of a scalar node. `what` names the expected value for the error ("a number").
inline Result<std::string> ScalarOf(const YAML::Node& n, std::string_view path,
                                    std::string_view what) {
  if (n.IsScalar()) return n.Scalar();
  return At(path, fmt::format("expected {}, got {}", what, KindName(n)));
}

// A string key: null reads as the empty string.
inline Result<std::string> StringOf(const YAML::Node& n, std::string_view path) {
  if (n.IsNull()) return std::string();
  return ScalarOf(n, path, "a string");
}

// Iterates a map, rejecting duplicate keys and keys not in `allowed`; calls f(key, value, path).
template <typename F>
inline Status ForEachKey(const YAML::Node& map, std::string_view path,
                         std::initializer_list<std::string_view> allowed, F&& f) {
  if (map.IsNull()) return Status::OK();
  if (!map.IsMap()) {
    return At(path.empty() ? "(top level)" : path,
              fmt::format("expected a map, got {}", KindName(map)));
  }
  std::set<std::string> seen;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar())
      return At(path.empty() ? "(top level)" : path, "keys must be plain names");
    const std::string& key = kv.first.Scalar();
    std::string kp = KeyPath(path, key);
    if (!seen.insert(key).second) return At(kp, "duplicate key");
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return At(kp, fmt::format("unknown key (known: {})", Join(allowed)));
    }
    Status s = f(key, kv.second, kp);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

// Reads a scalar and runs a setter on it; wraps the setter's phrase with the key path.
template <typename Set>
inline Status Apply(const YAML::Node& n, std::string_view path, std::string_view what, Set&& set) {
  auto text = ScalarOf(n, path, what);
  if (!text.ok()) return text.status();
  Status s = set(*text);
  return s.ok() ? s : At(path, s);
}

template <typename T, typename Parse>
inline Status ApplyTo(const YAML::Node& n, std::string_view path, std::string_view what,
                      Parse&& parse, T& out) {
  return Apply(n, path, what, [&](const std::string& text) -> Status {
    auto v = parse(text);
    if (!v.ok()) return v.status();
    out = static_cast<T>(*v);
    return Status::OK();
  });
}

inline auto Count(uint64_t min, uint64_t max) {
  return [min, max](std::string_view t) { return ParseCount(t, min, max); };
}
inline constexpr uint64_t kIntMax = INT_MAX;
inline constexpr uint64_t kU64Max = UINT64_MAX;

}  // namespace tandem::server::config_yaml
