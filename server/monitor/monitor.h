// monitor.h: the monitoring endpoints of tandem and its Prometheus metrics.
//
// Monitor turns MonitorSource snapshots into HTTP answers and registers them on an HttpServer:
//   /healthz                200 {"status":"ok"} while serving or while a healthy standby,
//                           503 {"status":"unavailable","error":...} otherwise
//   /varz, /connz           nats-server's core field names; connz takes offset and limit
//   /metrics                Prometheus text format (MetricsRegistry)
//   /streaming              a small HTML index
//   /streaming/serverz      nats-streaming-server's fields plus ours: role, epoch,
//                           ft_group, name, takeovers and peers (standbys seen by the active,
//                           or the active seen by a standby) with their heartbeat age
//   /streaming/storez, /streaming/clientsz, /streaming/channelsz   as nats-streaming-server:
//                           offset, limit, subs=1, client= / channel=, 404 "Client <id> not found"
//                           / "Channel <name> not found"
//   /streaming/isFTActive   200 when this instance is FT_ACTIVE, 204 otherwise
//   /, /dashboard.css, /dashboard.js   the live dashboard (dashboard.h)
//   /backup                 online backup of the store, off unless configured
//                           (backup_endpoint.h)
// JSON is pretty-printed with two spaces, Content-Type application/json,
// Access-Control-Allow-Origin: *; a callback= parameter wraps it as JSONP like nats-server.
// Times are RFC 3339 (UTC, nanoseconds; time_format.h), durations in storez limits and in varz
// are integer nanoseconds.
// An instance that is not serving (a standby) answers /healthz, /metrics,
// /streaming/serverz and /streaming/isFTActive; the other endpoints give 503 and say so.
//
// Metrics are collected when /metrics is scraped, from the same snapshots, except the commit
// histograms that the streaming layer's store writer feeds through RecordCommit() after every
// committed batch. Every field of every endpoint, and every metric: server/monitor/ENDPOINTS.md.
//
// Ownership: borrows the source and the registry, which must outlive it; after
// RegisterRoutes, the HttpServer holds handlers that point to this Monitor, so the Monitor
// must outlive the HttpServer's Shutdown. Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "server/monitor/backup_endpoint.h"
#include "server/monitor/http_server.h"
#include "server/monitor/metrics.h"
#include "server/monitor/monitor_source.h"

namespace tandem::server {

// What the process was configured with, as Monitor prints it; the process fills it from its
// option structs (server/monitor_adapter.h), tests fill it by hand.
struct MonitorOptions {
  CoreSettings core;  // reported by /varz
  LimitsInfo limits;  // reported by /streaming/storez
  std::string store_type = "SQL";
  // `backup.dir`: where /backup writes copies of the store; empty: backups are off.
  std::string backup_dir;
  // Wall clock, nanoseconds since the Unix epoch; replaced by tests.
  std::function<int64_t()> now_ns;
};

class Monitor {
 public:
  static constexpr int kDefaultListLimit = 1024;

  Monitor(MonitorSource* source, MetricsRegistry* metrics, MonitorOptions options);
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Adds every endpoint above to `http` (kept to report its port in /varz).
  void RegisterRoutes(HttpServer* http);

  // The store writer's commit hook: one commit of `batches` WriteBatches (always 1: each batch
  // is its own transaction) holding `ops` operations took `latency_ns` from its submission to
  // the store until its completion was seen on the loop.
  void RecordCommit(uint64_t batches, uint64_t ops, int64_t latency_ns);

  HttpResponse Healthz(const HttpRequest& req) const;
  HttpResponse Varz(const HttpRequest& req) const;
  HttpResponse Connz(const HttpRequest& req) const;
  HttpResponse Metrics(const HttpRequest& req) const;
  HttpResponse StreamingIndex(const HttpRequest& req) const;
  HttpResponse Serverz(const HttpRequest& req) const;
  HttpResponse Storez(const HttpRequest& req) const;
  HttpResponse Clientsz(const HttpRequest& req) const;
  HttpResponse Channelsz(const HttpRequest& req) const;
  HttpResponse IsFtActive(const HttpRequest& req) const;

 private:
  void InstallCollectors();
  void CollectFt() const;
  void CollectCore() const;
  void CollectStreaming() const;
  void CollectExternal() const;
  HttpResponse NotServing(const RoleInfo& role) const;
  int64_t Now() const;

  MonitorSource* const source_;
  MetricsRegistry* const metrics_;
  const MonitorOptions options_;
  HttpServer* http_ = nullptr;
  BackupEndpoint backup_;

  // Commit metrics, fed by RecordCommit on the hot path.
  Counter* commits_ = nullptr;
  Histogram* commit_seconds_ = nullptr;
  Histogram* commit_batches_ = nullptr;
  Histogram* commit_ops_ = nullptr;
};

}  // namespace tandem::server
