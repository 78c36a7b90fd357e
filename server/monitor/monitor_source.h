// monitor_source.h: what the monitoring endpoints show, as plain structs of monitor/'s own, and
// the interface through which they read the live part of it.
//
// Monitor (server/monitor/monitor.h) knows nothing of NatsServer, the streaming layer, the
// store or the ft role machine, and includes none of their headers: it asks a MonitorSource,
// which the top of server/ implements over those pieces (server/monitor_adapter.h) and which
// tests fake, and it prints the settings it is handed in MonitorOptions (CoreSettings,
// LimitsInfo below). Every call returns a copy made on the loop thread; nothing here points
// back into live state. Field names and meanings are those of the reference NATS Streaming
// server's /streaming endpoints and nats-server's /varz and /connz, so existing dashboards and
// tools read them unchanged; each endpoint's fields are listed in server/monitor/ENDPOINTS.md.
//
// Ownership: plain values; the source is borrowed by Monitor and must outlive it.
// Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/store.h"

namespace tandem::server {

// One streaming subscription (Subscriptionz). `channel` is the channel's name.
struct SubscriptionInfo {
  std::string channel;
  std::string client_id;  // for offline durables, the last owner
  std::string inbox;
  std::string ack_inbox;
  std::string durable_name;  // empty if not durable
  std::string queue_name;    // empty if no queue group; "durable:group" for durable queues
  bool is_durable = false;
  bool is_offline = false;
  int32_t max_inflight = 0;
  int32_t ack_wait_s = 0;
  uint64_t last_sent = 0;
  uint64_t pending_count = 0;  // delivered, not yet acknowledged
  bool is_stalled = false;     // pending_count reached max_inflight
  uint64_t redelivered = 0;    // redeliveries so far (metrics only)
};

struct ChannelInfo {
  std::string name;
  uint64_t msgs = 0;
  uint64_t bytes = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t subs_count = 0;              // every subscription, offline durables included
  uint64_t read_errors = 0;             // failed reads of its stored messages (a damaged store)
  uint64_t dead_lettered = 0;           // reached max_deliveries, appended to its dead_letter
  uint64_t max_deliveries_dropped = 0;  // reached max_deliveries, no dead-letter channel
  std::vector<SubscriptionInfo> subs;   // filled only when asked for
};

struct ClientInfo {
  std::string id;
  std::string hb_inbox;
  uint64_t subs_count = 0;
  std::vector<SubscriptionInfo> subs;  // filled only when asked for
};

// One NATS connection for /connz (nats-server field names).
struct ConnInfo {
  uint64_t cid = 0;
  std::string ip;
  int port = 0;
  int64_t start_ns = 0;          // Unix time of the accept
  int64_t last_activity_ns = 0;  // Unix time of the last inbound op
  uint64_t pending_bytes = 0;
  uint64_t in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
  uint64_t subscriptions = 0;
  std::string name, lang, version;
  std::string authorized_user;          // the user name only, never a secret
  std::string tls_version, tls_cipher;  // "1.3", "TLS_AES_128_GCM_SHA256"; empty without TLS
};

// The NATS core's counters since it started (/varz, metrics); bytes are payload bytes.
struct CoreCounters {
  uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0;
  uint64_t connections = 0, total_connections = 0;  // open now, accepted since the start
  uint64_t slow_consumers = 0;  // connections closed or flagged as slow consumers
  uint64_t subscriptions = 0;
};

// The NATS core's settings as /varz reports them; durations in nanoseconds.
struct CoreSettings {
  std::string host;
  int port = 0;  // as configured; /varz prefers the bound port (IdentityInfo::client_port)
  int max_connections = 0;
  int64_t ping_interval_ns = 0;
  int max_pings_out = 0;
  uint64_t max_control_line = 0;
  uint64_t max_payload = 0;
  uint64_t max_pending_bytes = 0;  // per connection
  int64_t write_deadline_ns = 0;
};

// The limits a channel gets, resolved (nothing left to inherit); 0 is unlimited.
struct ChannelLimitsInfo {
  uint64_t max_msgs = 0;
  uint64_t max_bytes = 0;
  int64_t max_age_ns = 0;
  uint64_t max_subs = 0;
  int64_t max_inactivity_ns = 0;
  uint64_t max_deliveries = 0;  // bounded redelivery (tandem's own)
  std::string dead_letter;
  int64_t backoff_initial_ns = 0;  // 0: no redelivery backoff
  int64_t backoff_max_ns = 0;
  double backoff_factor = 0;
};

// The channel limits as /streaming/storez reports them: the globals, then one row per
// configured entry (a channel name or wildcard) in name order, each as a channel of exactly
// that name would get it.
struct LimitsInfo {
  uint64_t max_channels = 0;
  ChannelLimitsInfo global;
  std::vector<std::pair<std::string, ChannelLimitsInfo>> channels;
};

// A member of the pair as this instance last heard it.
struct PeerInfo {
  std::string name;
  std::string role;  // "standby", "active", "stopping", ...
  uint64_t epoch = 0;
  int64_t heartbeat_age_ms = 0;
  bool alive = false;
};

// Serverz `state` values.
enum class ServerState { kStandalone, kFtActive, kFtStandby, kFailed, kShutdown };
const char* ServerStateName(ServerState state);

struct RoleInfo {
  ServerState state = ServerState::kStandalone;
  std::string role = "active";  // ft::RoleName() of this instance
  std::string name;             // this instance's name in the group
  std::string group;            // empty when not in an FT group
  uint64_t epoch = 0;
  uint64_t takeovers = 0;        // times this process became active
  int64_t last_takeover_ns = 0;  // wall clock (ns since the epoch) of the latest; 0: none
  std::vector<PeerInfo> peers;   // standbys (on the active) or the active (on a standby)
  bool serving = false;          // the client port is bound and the streaming layer is up
  bool healthy = false;          // see Monitor::Healthz
  std::string health_detail;     // why not healthy, one line
};

struct IdentityInfo {
  std::string cluster_id;
  std::string server_id;       // the streaming server's id (serverz, storez, ...)
  std::string core_server_id;  // the NATS core's id from INFO (varz, connz); empty if not serving
  int client_port = 0;         // the bound client port; 0 if not serving
  std::string server_name;
  std::string version;
  int64_t start_ns = 0;  // Unix time the process started
};

// Streaming-level traffic: messages stored (in) and delivered to subscribers (out).
struct StreamingStats {
  uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0;
  uint64_t redeliveries = 0;
  // Requests refused because their sender does not act for the client, per kind (the rule is
  // in server/stan/session_guard.h).
  uint64_t forged_acks = 0, forged_unsubscribes = 0, forged_subcloses = 0, forged_closes = 0;
  // Publishes and subscriptions refused by the channel permissions.
  uint64_t denied_publishes = 0, denied_subscriptions = 0;
};

// The connection to an external NATS cluster (nats.servers), when tandem is its client.
struct ExternalNatsInfo {
  std::string url;  // the server connected to now; "" while disconnected
  bool connected = false;
  uint64_t reconnects = 0;           // successful reconnects since the start
  uint64_t disconnects = 0;          // connections lost since the start
  uint64_t dropped_publishes = 0;    // publishes refused (reconnect buffer full)
  std::vector<std::string> servers;  // configured and discovered
  uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0;
};

class MonitorSource {
 public:
  virtual ~MonitorSource() = default;

  virtual IdentityInfo identity() const = 0;
  virtual RoleInfo role() const = 0;
  // The NATS core's counters; nullopt while not serving (a standby has no client port).
  virtual std::optional<CoreCounters> core_stats() const = 0;
  virtual std::vector<ConnInfo> connections() const = 0;

  // The streaming layer. Asked only while serving.
  virtual StreamingStats streaming_stats() const = 0;
  virtual std::vector<ChannelInfo> channels(bool with_subs) const = 0;
  virtual std::optional<ChannelInfo> channel(std::string_view name, bool with_subs) const = 0;
  virtual std::vector<ClientInfo> clients(bool with_subs) const = 0;
  virtual std::optional<ClientInfo> client(std::string_view id, bool with_subs) const = 0;
  // Every subscription, offline durables and offline durable queue groups included.
  virtual uint64_t subscription_count() const = 0;
  // The external cluster's connection; nullopt with the embedded core (the default).
  virtual std::optional<ExternalNatsInfo> external_nats() const { return std::nullopt; }

  // The store file's size and free pages (storez, /metrics). Asked only while serving.
  virtual store::StoreSpace store_space() const { return {}; }
  // fdatasyncs that made the store's commits durable since it opened (/metrics).
  virtual uint64_t store_syncs() const { return 0; }
  // The reclaim of deleted channels' messages by the store (storez, /metrics).
  virtual store::ReclaimProgress store_reclaim() const { return {}; }
  // Has the active's store write a checked copy to `path` (store::Store::Backup); `done` runs
  // on the loop thread.
  virtual void StartBackup(const std::string& path, store::Store::BackupDone done) {
    done(Status::InvalidArgument("no store to back up"), store::BackupResult());
  }
};

}  // namespace tandem::server
