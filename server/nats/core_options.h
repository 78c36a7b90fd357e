// core_options.h: the settings of the NATS core (listener, limits, pings, INFO contents).
// Filled by config.cc from YAML and flags; read by NatsServer and ClientConn. What each limit
// does on the wire, and the -ERR it sends: server/nats/PROTOCOL.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/nats/auth_options.h"
#include "server/util/tls_options.h"

namespace tandem::server {

class TlsContext;

struct CoreOptions {
  std::string host = "0.0.0.0";
  int port = 4222;                   // 0 picks a free port (tests)
  size_t max_payload = 1024 * 1024;  // advertised in INFO
  size_t max_control_line = 4096;
  int max_connections = 65536;
  // Subscriptions per connection; 0 is unlimited (nats-server's default). The SUB past it gets
  // "-ERR 'maximum subscriptions exceeded'" and is dropped; the connection stays open.
  size_t max_subscriptions = 0;
  size_t max_pending_bytes = 64 * 1024 * 1024;  // per connection, then "slow consumer"
  uint64_t ping_interval_ms = 120000;
  int max_pings_out = 2;
  uint64_t write_deadline_ms = 10000;  // a write pending this long marks a slow consumer
  std::string server_name;
  std::vector<std::string> connect_urls;  // "host:port" entries advertised in INFO
  // Subjects that start with `reserved_prefix` belong to the members of the fault-tolerance
  // group: a connection may publish or subscribe to them, or receive messages on them through
  // a wildcard, only after a CONNECT whose auth_token is `member_token`. Anyone else gets
  // nats-server's permission errors. An empty token admits nobody.
  std::string reserved_prefix = "_STAN.ft.";
  std::string member_token;
  // Client authentication and permissions (`authorization:`); nothing required by default.
  AuthOptions auth;
  // TLS on the client port (`tls:`): every client must speak TLS once INFO is sent.
  TlsOptions tls;
  // Its SSL_CTX, built once when the configuration is read (it checks the files) and shared
  // with the https monitoring port; required when tls.enabled.
  std::shared_ptr<TlsContext> tls_context;
};

}  // namespace tandem::server
