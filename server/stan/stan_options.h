// stan_options.h: the settings of the streaming layer: cluster id, client heartbeats, channel
// limits with per-channel overrides. Filled by config.cc; read by StanServer and Channel. How a
// channel's limits are inherited from the globals and the overrides: server/stan/PROTOCOL.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace tandem::server {

// redelivery_backoff: each further redelivery of a message waits AckWait plus initial,
// initial * factor, initial * factor^2, ... (at most max) for its ack. Off when initial is 0.
struct RedeliveryBackoff {
  int64_t initial_ns = 0;
  int64_t max_ns = 60'000'000'000;
  double factor = 2.0;
  bool enabled() const { return initial_ns > 0; }
};

// A limits entry as written in the config. std::nullopt means "inherit"; 0 means unlimited.
struct LimitsEntry {
  std::optional<uint64_t> max_msgs;
  std::optional<uint64_t> max_bytes;
  std::optional<int64_t> max_age_ns;
  std::optional<uint64_t> max_subs;
  std::optional<int64_t> max_inactivity_ns;
  std::optional<uint64_t> max_deliveries;
  std::optional<std::string> dead_letter;  // "" = none
  std::optional<RedeliveryBackoff> redelivery_backoff;
};

struct StanLimits {
  uint64_t max_channels = 100;
  uint64_t max_msgs = 1000000;
  uint64_t max_bytes = 1024000000;
  int64_t max_age_ns = 0;
  uint64_t max_subs = 1000;
  int64_t max_inactivity_ns = 0;
  // Sends of one message to one subscription without an ack before it leaves the subscription
  // (0 = unlimited), and the channel it then goes to ("" = none: it is dropped).
  uint64_t max_deliveries = 0;
  std::string dead_letter;
  RedeliveryBackoff redelivery_backoff;
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
  // store.deliver: committed: a message goes to subscribers once its transaction has
  // committed, before the fdatasync that makes it durable (its PubAck still waits for that).
  // Lower publish-to-delivery latency; a power loss in between can take back a message that
  // was delivered, and its seq then goes to the next one. Default (synced): after the sync.
  bool deliver_on_commit = false;
  // streaming.partitioning: own only the channels listed under limits.channels (names or
  // wildcards), as a partition among others on one external cluster (partitions.h).
  bool partitioning = false;
  // Connect requests whose heartbeat inbox starts with this are the start-up probes of this
  // group's own members (cluster_id_check.h) and get no answer; "" answers every one.
  std::string own_probe_prefix;
  StanLimits limits;
};

}  // namespace tandem::server
