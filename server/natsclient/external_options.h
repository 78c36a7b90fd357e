// external_options.h: the settings of tandem's client connection to an external NATS cluster
// (`nats: {servers: [...], user, password, token, nkey_seed_file, credentials, tls, ...}`, flag
// --nats-server). Filled by the configuration (server/config_nats_client.cc); read by
// ExternalBus (external_bus.h). Plain values; secrets are never logged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/util/tls_options.h"

namespace tandem::server {

struct ExternalNatsOptions {
  // "nats://host:port" or "tls://host:port" (ParseNatsUrl). Empty: no external cluster, the
  // embedded core listens for clients.
  std::vector<std::string> servers;
  std::string name;  // the connection name the cluster shows (default "tandem-<cluster id>")
  // One form of credentials, as nats.go names them: user/password, token, an nkey seed file
  // (nkey_public is derived from it when the configuration is read), or a .creds file (JWT and
  // seed, nats.go's UserCredentials).
  std::string user, password, token;
  std::string nkey_seed_file, nkey_public;
  std::string credentials_file;
  // `nats.tls`: the cluster's CA (the server certificate is verified against it and the host),
  // and the client certificate when the cluster verifies clients.
  TlsClientOptions tls;
  int64_t connect_timeout_ms = 2000;     // per server and attempt (nats.go Timeout)
  int64_t reconnect_wait_ms = 2000;      // between attempts on one server (ReconnectWait)
  int max_reconnects = -1;               // -1: forever (MaxReconnects)
  int64_t reconnect_buf_size = 8 << 20;  // bytes published while disconnected (ReconnectBufSize)
  int64_t ping_interval_ms = 120000;     // nats.ping_interval (PingInterval)
  int max_pings_out = 2;                 // nats.max_pings_out (MaxPingsOutstanding)
  int64_t write_deadline_ms = 10000;     // nats.write_deadline: a stalled socket drops
  bool enabled() const { return !servers.empty(); }
};

}  // namespace tandem::server
