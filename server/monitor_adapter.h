// monitor_adapter.h: the one place that turns the other layers' types into what monitor/ shows
// (server/monitor/monitor_source.h), so monitor/ includes nothing of them. ProcessMonitorSource
// is the MonitorSource of a running tandem process: it reads the live pieces (NatsServer,
// StanServer, FtNode, Store) that App hands it as they come and go, and turns them into the
// snapshots Monitor renders. MonitorOptionsFrom turns the core's and the streaming layer's
// settings into the MonitorOptions that App hands to Monitor.
//
// Role and state: with an FtNode, the role is the role machine's; the serverz state is
// FT_ACTIVE / FT_STANDBY in an FT group and STANDALONE for an active without a group, FAILED
// once fenced, SHUTDOWN while stopping. Without an FtNode the process is a plain active
// (STANDALONE) once the core serves. Health: an active is healthy while it serves and neither
// the store nor the streaming layer reports an error and every stored message can be read; a
// standby is healthy while it waits for the lock and its last attempt did not find the store
// unusable; anything stopping or fenced is not, and neither is an instance whose store disk is
// short of space (DiskSpace).
//
// Ownership: borrows every piece; App clears a pointer (Set*(nullptr)) before destroying the
// piece. Thread safety: loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "server/monitor/monitor.h"
#include "server/monitor/monitor_source.h"
#include "server/nats/core_options.h"
#include "server/nats/nats_server.h"
#include "server/stan/stan_options.h"

namespace tandem::store {
class Store;
}

namespace tandem::server {

class DiskSpace;
class ExternalBus;
class FtNode;
class StanServer;

// The settings /varz and /streaming/storez print: the core's as configured (durations in
// nanoseconds), and the channel limits resolved the way a channel of each configured name would
// get them (ResolveChannelLimits). now_ns is left unset: the wall clock.
MonitorOptions MonitorOptionsFrom(const CoreOptions& core, const StanOptions& stan);
// One NATS connection for /connz; the snapshot's ages count back from `now_ns` (Unix time).
ConnInfo ConnInfoFrom(const ConnSnapshot& s, int64_t now_ns);
CoreCounters CoreCountersFrom(const CoreStats& s);

class ProcessMonitorSource final : public MonitorSource {
 public:
  struct Options {
    std::string cluster_id;
    std::string version;
    std::string name;   // ft.name or the core's server_name
    std::string group;  // ft.group; empty when not in a group
    int64_t start_ns = 0;
  };

  explicit ProcessMonitorSource(Options options);

  void SetNats(const NatsServer* nats) { nats_ = nats; }
  void SetStan(const StanServer* stan) { stan_ = stan; }
  void SetFt(const FtNode* ft) { ft_ = ft; }
  void SetStore(store::Store* store) { store_ = store; }
  void SetDiskSpace(const DiskSpace* disk) { disk_ = disk; }
  void SetExternal(const ExternalBus* external) { external_ = external; }
  // Called each time this process starts serving as the active.
  void CountTakeover() {
    ++takeovers_;
    last_takeover_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  }

  // MonitorSource
  IdentityInfo identity() const override;
  RoleInfo role() const override;
  std::optional<CoreCounters> core_stats() const override;
  std::vector<ConnInfo> connections() const override;
  StreamingStats streaming_stats() const override;
  std::vector<ChannelInfo> channels(bool with_subs) const override;
  std::optional<ChannelInfo> channel(std::string_view name, bool with_subs) const override;
  std::vector<ClientInfo> clients(bool with_subs) const override;
  std::optional<ClientInfo> client(std::string_view id, bool with_subs) const override;
  uint64_t subscription_count() const override;
  std::optional<ExternalNatsInfo> external_nats() const override;
  store::StoreSpace store_space() const override;
  uint64_t store_syncs() const override;
  store::ReclaimProgress store_reclaim() const override;
  void StartBackup(const std::string& path, store::Store::BackupDone done) override;

 private:
  bool serving() const;
  std::vector<SubscriptionInfo> SubsOfClient(const std::string& client_id) const;

  // Constant after construction.
  const Options options_;
  const std::string server_id_;  // this process's streaming server id (serverz)

  const NatsServer* nats_ = nullptr;
  const StanServer* stan_ = nullptr;
  const FtNode* ft_ = nullptr;
  store::Store* store_ = nullptr;
  const DiskSpace* disk_ = nullptr;
  const ExternalBus* external_ = nullptr;
  uint64_t takeovers_ = 0;
  int64_t last_takeover_ns_ = 0;
};

}  // namespace tandem::server
