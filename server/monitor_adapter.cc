// monitor_adapter.cc: ProcessMonitorSource, snapshots of the live process for Monitor (see
// monitor_adapter.h).
#include "server/monitor_adapter.h"

#include <chrono>

#include "ft/role.h"
#include "server/nats/server_info.h"
#include "server/natsclient/external_bus.h"
#include "server/pair/ft_node.h"
#include "server/stan/channel.h"
#include "server/stan/stan_server.h"
#include "server/stan/stan_sub.h"
#include "server/util/disk_space.h"
#include "store/store.h"

namespace tandem::server {

namespace {

int64_t WallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SubscriptionInfo SubInfo(const StanSub& sub, const std::string& channel) {
  SubscriptionInfo s;
  s.channel = channel;
  s.client_id = sub.rec.client_id;
  s.inbox = sub.rec.inbox;
  s.ack_inbox = sub.rec.ack_inbox;
  s.durable_name = sub.rec.durable_name;
  s.queue_name = sub.rec.queue;
  s.is_durable = sub.rec.is_durable;
  s.is_offline = sub.rec.is_offline;
  s.max_inflight = sub.rec.max_in_flight;
  s.ack_wait_s = sub.rec.ack_wait_s;
  s.last_sent = sub.rec.last_sent;
  s.pending_count = sub.pending.size();
  s.is_stalled = !sub.offline() && sub.stalled();
  for (const auto& [seq, p] : sub.pending) s.redelivered += p.redeliveries();
  return s;
}

ChannelInfo ChanInfo(Channel& ch, bool with_subs) {
  ChannelInfo c;
  c.name = ch.name();
  c.msgs = ch.msgs();
  c.bytes = ch.bytes();
  c.first_seq = ch.first_seq();
  c.last_seq = ch.last_seq();
  c.subs_count = ch.subs().size();
  c.read_errors = ch.read_errors;
  c.dead_lettered = ch.dead_lettered;
  c.max_deliveries_dropped = ch.max_deliveries_dropped;
  if (with_subs) {
    for (const auto& [id, sub] : ch.subs()) c.subs.push_back(SubInfo(*sub, ch.name()));
  }
  return c;
}

ChannelLimitsInfo LimitsRow(const ResolvedLimits& r) {
  ChannelLimitsInfo row;
  row.max_msgs = r.store.max_msgs;
  row.max_bytes = r.store.max_bytes;
  row.max_age_ns = r.store.max_age_ns;
  row.max_subs = r.max_subs;
  row.max_inactivity_ns = r.max_inactivity_ns;
  row.max_deliveries = r.max_deliveries;
  row.dead_letter = r.dead_letter;
  row.backoff_initial_ns = r.redelivery_backoff.initial_ns;
  row.backoff_max_ns = r.redelivery_backoff.max_ns;
  row.backoff_factor = r.redelivery_backoff.factor;
  return row;
}

ServerState StateOf(ft::Role role, bool in_group) {
  switch (role) {
    case ft::Role::kActive:
      return in_group ? ServerState::kFtActive : ServerState::kStandalone;
    case ft::Role::kStandby:
    case ft::Role::kActivating:
      return ServerState::kFtStandby;
    case ft::Role::kStopping:
    case ft::Role::kStopped:
      return ServerState::kShutdown;
    case ft::Role::kFenced:
      return ServerState::kFailed;
  }
  return ServerState::kFailed;
}

// Why the streaming layer cannot deliver everything it stores: the channels whose stored
// messages could not be read (delivery_read_damage.cc); "" when there are none. Every role()
// call (each /healthz, /metrics, status) asks, so the walk over all channels happens only once
// some damage was seen.
std::string ReadDamageDetail(const StanServer& stan) {
  if (!stan.channels().read_damage_seen()) return "";
  std::string first;
  size_t more = 0;
  for (const auto& [name, ch] : stan.channels().all()) {
    if (!ch->read_damage) continue;
    if (!first.empty()) {
      ++more;
      continue;
    }
    const Channel::ReadDamage& d = *ch->read_damage;
    first = "store: channel " + name + ": stored messages " + std::to_string(d.from) + ".." +
            std::to_string(d.to) + " cannot be read (" + d.error +
            "); restore the store from a backup";
  }
  if (more > 0) first += " (and " + std::to_string(more) + " more channel(s))";
  return first;
}

}  // namespace

MonitorOptions MonitorOptionsFrom(const CoreOptions& core, const StanOptions& stan) {
  MonitorOptions o;
  o.core.host = core.host;
  o.core.port = core.port;
  o.core.max_connections = core.max_connections;
  o.core.ping_interval_ns = static_cast<int64_t>(core.ping_interval_ms) * 1000000;
  o.core.max_pings_out = core.max_pings_out;
  o.core.max_control_line = core.max_control_line;
  o.core.max_payload = core.max_payload;
  o.core.max_pending_bytes = core.max_pending_bytes;
  o.core.write_deadline_ns = static_cast<int64_t>(core.write_deadline_ms) * 1000000;
  const StanLimits& limits = stan.limits;
  o.limits.max_channels = limits.max_channels;
  StanLimits globals_only = limits;
  globals_only.channels.clear();
  o.limits.global = LimitsRow(ResolveChannelLimits(globals_only, ""));
  for (const auto& [pattern, entry] : limits.channels) {  // a std::map: in name order
    o.limits.channels.emplace_back(pattern, LimitsRow(ResolveChannelLimits(limits, pattern)));
  }
  return o;
}

ConnInfo ConnInfoFrom(const ConnSnapshot& s, int64_t now_ns) {
  ConnInfo c;
  c.cid = s.cid;
  c.ip = s.ip;
  c.port = s.port;
  c.start_ns = now_ns - static_cast<int64_t>(s.age_ms) * 1000000;
  c.last_activity_ns = now_ns - static_cast<int64_t>(s.idle_ms) * 1000000;
  c.pending_bytes = s.pending_bytes;
  c.in_msgs = s.in_msgs;
  c.in_bytes = s.in_bytes;
  c.out_msgs = s.out_msgs;
  c.out_bytes = s.out_bytes;
  c.subscriptions = s.subscriptions;
  c.name = s.name;
  c.lang = s.lang;
  c.version = s.version;
  c.authorized_user = s.user;
  // nats-server writes the version without the protocol name: "1.3".
  c.tls_version = s.tls_version.rfind("TLSv", 0) == 0 ? s.tls_version.substr(4) : s.tls_version;
  c.tls_cipher = s.tls_cipher;
  return c;
}

CoreCounters CoreCountersFrom(const CoreStats& s) {
  CoreCounters c;
  c.in_msgs = s.in_msgs;
  c.in_bytes = s.in_bytes;
  c.out_msgs = s.out_msgs;
  c.out_bytes = s.out_bytes;
  c.connections = s.connections;
  c.total_connections = s.total_connections;
  c.slow_consumers = s.slow_consumers;
  c.subscriptions = s.subscriptions;
  return c;
}

ProcessMonitorSource::ProcessMonitorSource(Options options)
    : options_(std::move(options)), server_id_(MakeServerId()) {}

bool ProcessMonitorSource::serving() const {
  if (ft_ != nullptr) return ft_->serving();  // the role machine's answer, never a copy
  return nats_ != nullptr;
}

IdentityInfo ProcessMonitorSource::identity() const {
  IdentityInfo id;
  id.cluster_id = options_.cluster_id;
  id.server_id = server_id_;
  id.server_name = ft_ != nullptr && options_.name.empty() ? ft_->name() : options_.name;
  id.version = options_.version;
  id.start_ns = options_.start_ns;
  if (nats_ != nullptr) {
    id.core_server_id = nats_->server_id();
    id.client_port = nats_->port();
  }
  return id;
}

RoleInfo ProcessMonitorSource::role() const {
  RoleInfo r;
  r.name = ft_ != nullptr && options_.name.empty() ? ft_->name() : options_.name;
  r.group = options_.group;
  r.takeovers = takeovers_;
  r.last_takeover_ns = last_takeover_ns_;
  r.serving = serving();
  if (ft_ != nullptr) {
    r.role = ft::RoleName(ft_->role());
    r.state = StateOf(ft_->role(), !options_.group.empty());
    r.epoch = ft_->epoch();
    for (const auto& p : ft_->peers()) {
      r.peers.push_back({p.name, ft::RoleName(p.role), p.epoch, p.age_ms, p.alive});
    }
  } else {
    r.role = r.serving ? "active" : "starting";
    r.state = r.serving ? ServerState::kStandalone : ServerState::kShutdown;
    if (store_ != nullptr) r.epoch = store_->epoch();
  }
  if (r.serving) {
    Status health = store_ != nullptr ? store_->health() : Status::OK();
    std::string damage = stan_ != nullptr ? ReadDamageDetail(*stan_) : std::string();
    if (!health.ok()) {
      r.health_detail = "store: " + health.ToString();
    } else if (stan_ != nullptr && stan_->failed()) {
      r.health_detail = "streaming layer stopped after a failed commit";
    } else if (!damage.empty()) {
      r.health_detail = damage;
    } else {
      r.healthy = true;
    }
  } else if (ft_ != nullptr && ft_->role() == ft::Role::kStandby) {
    // Waiting for the lock, hearing (or looking for) the active; not before the first lock
    // attempt answered, nor while the store cannot be used (the member retries, then exits 1:
    // ft/store_failure.h).
    Status store = ft_->store_error();
    if (!store.ok()) {
      r.health_detail = "the store cannot be used: " + store.ToString();
    } else if (!ft_->settled()) {
      r.health_detail = "starting: the first attempt at the store lock has not answered yet";
    } else {
      r.healthy = true;
    }
  } else {
    r.health_detail = "not serving (role " + r.role + ")";
  }
  // A full disk is the first thing to say: it is what keeps a member from the lock, too.
  if (disk_ != nullptr && !disk_->has_room()) {
    r.healthy = false;
    r.health_detail = "store: " + disk_->problem();
  }
  return r;
}

std::optional<CoreCounters> ProcessMonitorSource::core_stats() const {
  if (nats_ == nullptr) return std::nullopt;
  return CoreCountersFrom(nats_->stats());
}

std::optional<ExternalNatsInfo> ProcessMonitorSource::external_nats() const {
  if (external_ == nullptr) return std::nullopt;
  ExternalConnState st = external_->state();
  ExternalNatsInfo e;
  e.url = st.url;
  e.connected = st.connected;
  e.reconnects = st.reconnects;
  e.disconnects = st.disconnects;
  e.dropped_publishes = st.dropped_publishes;
  e.servers = st.servers;
  e.in_msgs = st.in_msgs;
  e.in_bytes = st.in_bytes;
  e.out_msgs = st.out_msgs;
  e.out_bytes = st.out_bytes;
  return e;
}

std::vector<ConnInfo> ProcessMonitorSource::connections() const {
  std::vector<ConnInfo> out;
  if (nats_ == nullptr) return out;
  int64_t now = WallNowNs();
  for (const ConnSnapshot& s : nats_->Connections()) out.push_back(ConnInfoFrom(s, now));
  return out;
}

StreamingStats ProcessMonitorSource::streaming_stats() const {
  StreamingStats st;
  if (stan_ == nullptr) return st;
  st.in_msgs = stan_->stats().in_msgs;
  st.in_bytes = stan_->stats().in_bytes;
  st.out_msgs = stan_->delivery_counters().msgs;
  st.out_bytes = stan_->delivery_counters().bytes;
  st.redeliveries = stan_->delivery_counters().redelivered;
  st.forged_acks = stan_->forged().ack;
  st.forged_unsubscribes = stan_->forged().unsubscribe;
  st.forged_subcloses = stan_->forged().subclose;
  st.forged_closes = stan_->forged().close;
  st.denied_publishes = stan_->stats().denied_publishes;
  st.denied_subscriptions = stan_->stats().denied_subscriptions;
  return st;
}

std::vector<ChannelInfo> ProcessMonitorSource::channels(bool with_subs) const {
  std::vector<ChannelInfo> out;
  if (stan_ == nullptr) return out;
  for (const auto& [name, ch] : stan_->channels().all()) out.push_back(ChanInfo(*ch, with_subs));
  return out;
}

std::optional<ChannelInfo> ProcessMonitorSource::channel(std::string_view name,
                                                         bool with_subs) const {
  if (stan_ == nullptr) return std::nullopt;
  Channel* ch = stan_->channels().Lookup(name);
  if (ch == nullptr) return std::nullopt;
  return ChanInfo(*ch, with_subs);
}

std::vector<SubscriptionInfo> ProcessMonitorSource::SubsOfClient(
    const std::string& client_id) const {
  std::vector<SubscriptionInfo> out;
  for (const auto& [name, ch] : stan_->channels().all()) {
    for (const auto& [id, sub] : ch->subs()) {
      if (!sub->offline() && sub->rec.client_id == client_id) {
        out.push_back(SubInfo(*sub, ch->name()));
      }
    }
  }
  return out;
}

std::vector<ClientInfo> ProcessMonitorSource::clients(bool with_subs) const {
  std::vector<ClientInfo> out;
  if (stan_ == nullptr) return out;
  stan_->clients().ForEach([&](const StanClient& c) {
    ClientInfo info{c.rec.client_id, c.rec.hb_inbox, c.subs.size(), {}};
    if (with_subs) info.subs = SubsOfClient(info.id);
    out.push_back(std::move(info));
  });
  return out;
}

std::optional<ClientInfo> ProcessMonitorSource::client(std::string_view id, bool with_subs) const {
  if (stan_ == nullptr) return std::nullopt;
  StanClient* c = stan_->clients().Lookup(id);
  if (c == nullptr) return std::nullopt;
  ClientInfo info{c->rec.client_id, c->rec.hb_inbox, c->subs.size(), {}};
  if (with_subs) info.subs = SubsOfClient(info.id);
  return info;
}

uint64_t ProcessMonitorSource::subscription_count() const {
  return stan_ == nullptr ? 0 : stan_->subscription_count();
}

store::StoreSpace ProcessMonitorSource::store_space() const {
  return store_ != nullptr ? store_->space() : store::StoreSpace();
}

uint64_t ProcessMonitorSource::store_syncs() const {
  return store_ != nullptr ? store_->syncs() : 0;
}

store::ReclaimProgress ProcessMonitorSource::store_reclaim() const {
  return store_ != nullptr ? store_->reclaim() : store::ReclaimProgress();
}

// Only the active holds a store; a standby's /backup is refused before it gets here.
void ProcessMonitorSource::StartBackup(const std::string& path, store::Store::BackupDone done) {
  if (store_ == nullptr) {
    done(Status::ShutdownInProgress("no store is open: only the active can take a backup"),
         store::BackupResult());
    return;
  }
  store_->Backup(path, std::move(done));
}

}  // namespace tandem::server
