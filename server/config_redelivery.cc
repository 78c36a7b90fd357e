// config_redelivery.cc: the bounded-redelivery keys of `limits:` and their cross-check (see
// config_redelivery.h). Errors use the shared "config: <where>: <what>" form (config_yaml.h).
#include "server/config_redelivery.h"

#include <cstdlib>
#include <string_view>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "server/config_yaml.h"
#include "server/stan/channel.h"

namespace tandem::server {

using namespace config_yaml;  // NOLINT: the shared walk helpers (config_yaml.h)

namespace {

Result<double> ParseFactor(std::string_view text) {
  std::string t(text);
  char* end = nullptr;
  const double f = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || !(f >= 1) || f > 1000) {
    return Phrase(text, "is not a factor (a number from 1 to 1000)");
  }
  return f;
}

// `redelivery_backoff: {initial, max, factor}` (stan_options.h); `initial: 0` turns it off.
Status LoadBackoff(const YAML::Node& map, std::string_view path, RedeliveryBackoff& b) {
  Status s = ForEachKey(
      map, path, {"initial", "max", "factor"},
      [&](const std::string& k, const YAML::Node& v, const std::string& kp) -> Status {
        if (k == "factor") return ApplyTo(v, kp, "a number", ParseFactor, b.factor);
        return ApplyTo(v, kp, "a duration", ParseDurationNs, k == "max" ? b.max_ns : b.initial_ns);
      });
  if (s.ok() && b.enabled() && b.max_ns < b.initial_ns) {
    return At(KeyPath(path, "max"), "must be at least initial");
  }
  return s;
}

// A dead_letter value: a channel name (or "" for none).
Status ApplyDeadLetter(const YAML::Node& v, std::string_view kp, std::string& out) {
  auto text = StringOf(v, kp);
  if (!text.ok()) return text.status();
  if (!text->empty() && !ChannelRegistry::IsValidName(*text)) {
    return At(kp, Phrase(*text, "is not a channel name (no wildcards, no empty tokens)"));
  }
  out = *text;
  return Status::OK();
}

}  // namespace

Status LoadRedeliveryKey(const std::string& k, const YAML::Node& v, const std::string& kp,
                         uint64_t& max_deliveries, std::string& dead_letter,
                         RedeliveryBackoff& backoff) {
  if (k == "max_deliveries")
    return ApplyTo(v, kp, "a number", Count(0, UINT32_MAX), max_deliveries);
  if (k == "dead_letter") return ApplyDeadLetter(v, kp, dead_letter);
  return LoadBackoff(v, kp, backoff);
}

// No channel's dead letters may come back to it (DeadLetterLoop, channel.h).
Status CheckDeadLetters(const StanLimits& l) {
  auto check = [&](const std::string& key, const std::string& target) -> Status {
    if (target.empty()) return Status::OK();
    std::string loop = DeadLetterLoop(l, target);
    if (loop.empty()) return Status::OK();
    return At(key, fmt::format("{}: dead letters would go round in a loop ({}); give {} its own "
                               "dead_letter (\"\" for none) or max_deliveries: 0",
                               Quote(target), loop, target));
  };
  Status s = check("limits.dead_letter", l.dead_letter);
  for (const auto& [name, e] : l.channels) {
    if (!s.ok() || !e.dead_letter) continue;
    const std::string key = fmt::format("limits.channels.{}.dead_letter", Quote(name));
    if (*e.dead_letter == name) return At(key, Phrase(name, "is the channel itself"));
    s = check(key, *e.dead_letter);
  }
  return s;
}

}  // namespace tandem::server
