// stan_options.h: the settings of the streaming layer: cluster id, client heartbeats, channel
// limits with per-channel overrides. Filled by config.cc; read by StanServer and Channel. How a
// channel's limits are inherited from the globals and the overrides: server/stan/PROTOCOL.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace tandem::server {

// A limits entry as written in the config. std::nullopt means "inherit"; 0 means unlimited.
struct LimitsEntry {
  std::optional<uint64_t> max_msgs;
  std::optional<uint64_t> max_bytes;
  std::optional<int64_t> max_age_ns;
  std::optional<uint64_t> max_subs;
  std::optional<int64_t> max_inactivity_ns;
};

struct StanLimits {
  uint64_t max_channels = 100;
  uint64_t max_msgs = 1000000;
  uint64_t max_bytes = 1024000000;
  int64_t max_age_ns = 0;
  uint64_t max_subs = 1000;
  int64_t max_inactivity_ns = 0;
  // Per-channel overrides keyed by channel name or wildcard (foo.*, foo.>).
  std::map<std::string, LimitsEntry> channels;
};

struct StanOptions {
  std::string cluster_id = "test-cluster";
  std::string discover_prefix = "_STAN.discover";
  uint64_t hb_interval_ms = 30000;  // server -> client heartbeat period
  uint64_t hb_timeout_ms = 10000;   // wait for a heartbeat reply
  int hb_fail_count = 10;           // missed replies before the client is closed
  bool replace_durable = false;
  StanLimits limits;
};

}  // namespace tandem::server
