// nats_server.h: the embedded NATS core: listener, client connections, subject routing, and the
// in-process clients that the streaming layer and ft/ heartbeats use.
//
// NatsServer owns the listening socket, every ClientConn, the Sublist and the INFO line. Routing
// (Route) runs synchronously on the loop thread: a published message is copied into the outbound
// queue of every matching connection, or handed to an in-process client's handler, before Route
// returns. Outbound queues are handed to the sockets by FlushAll(), which whoever runs the loop
// calls once per loop pass, just before the loop polls (App's before-sleep sequence, last step);
// the core owns no prepare handle of its own. Without FlushAll, bytes queued to network clients
// wait (in-process clients need none: their handlers run inside Route).
//
// An in-process client (internal_client.h) is a connection without a socket and the core's
// implementation of the Bus (server/bus/bus.h). It subscribes and publishes exactly like a
// network client (same subjects, same queue-group rules), so the streaming layer is just another
// NATS client of the core, as it is in the reference server.
//
// Ownership: NatsServer borrows the uv loop. InternalClients are owned by the NatsServer and live
// until Shutdown; callers keep a raw pointer. Views passed to handlers are valid only during the
// call. Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/bus/bus.h"
#include "server/nats/core_options.h"
#include "store/status.h"

typedef struct uv_loop_s uv_loop_t;

namespace tandem::server {

// One open client connection as /connz shows it: a copy, taken on the loop thread.
struct ConnSnapshot {
  uint64_t cid = 0;
  std::string ip;
  int port = 0;
  uint64_t age_ms = 0;   // since the accept
  uint64_t idle_ms = 0;  // since the last bytes read
  uint64_t pending_bytes = 0;
  uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0;
  uint64_t subscriptions = 0;
  std::string name, lang, version;      // from CONNECT
  std::string user;                     // the authenticated user name (or nkey); never a secret
  std::string tls_version, tls_cipher;  // with TLS, once the handshake is done
};

// Counters for monitoring (varz) and metrics.
struct CoreStats {
  uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0;
  uint64_t connections = 0, total_connections = 0, slow_consumers = 0, subscriptions = 0;
};

class NatsServer {
 public:
  NatsServer(uv_loop_t* loop, const CoreOptions& options);
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  // Binds and listens on options.host:port. IOError names the address on failure.
  Status Listen();
  // The bound port (after Listen; useful with port 0).
  int port() const;
  // Stops accepting new connections; existing ones keep working.
  void StopAccepting();
  // Hands what is queued for every connection to its socket. Called once per loop pass; a
  // no-op before Listen and once Shutdown has begun (Shutdown flushes by itself).
  void FlushAll();
  // Flushes what is queued to every connection, closes them all and the listener; `done` runs
  // once every handle is closed.
  void Shutdown(std::function<void()> done);

  // Creates an in-process client (echo on, headers on): the embedded core's implementation of
  // the Bus. Owned by the server.
  Bus* CreateInternalClient(std::string_view name);

  CoreStats stats() const;
  const CoreOptions& options() const;
  // Read-only views for monitoring (/varz, /connz). O(connections) for Connections().
  const std::string& server_id() const;
  std::vector<ConnSnapshot> Connections() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::server
