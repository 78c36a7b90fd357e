// external_bus.h: the Bus (server/bus/bus.h) of tandem as a client of an external NATS cluster
// (`nats.servers`, --nats-server), used by the streaming layer and the pair's heartbeats instead
// of the embedded core's in-process client.
//
// Engine: libnats (Debian's libnats-dev), not a client of our own. It already does what a
// production client needs and that we would otherwise rewrite and test: reconnect across the
// configured list and the servers the cluster advertises (INFO connect_urls), pings and
// max_pings_out, the reconnect buffer, user/password, token, nkey seed and .creds credentials,
// TLS with a CA and a client certificate, and every subscription restored on reconnect. The
// loop-native PeerLink (server/pair) is a heartbeat link with none of that. libnats' libuv
// adapter is not used: its first attach must happen on the loop thread (a blocking connect
// there, and a failure if the first connection is made by the reconnect thread), and message
// callbacks run on libnats' delivery thread anyway. So libnats runs its own threads, and what
// it hands us comes to the loop thread through one uv_async and a batch queue (the contract:
// handlers run on the loop thread).
//
// Threads and the contract (bus.h):
//   - Message, disconnect, reconnect, closed and discovered-server callbacks run on libnats'
//     threads; each only appends to the batch queue under its mutex and wakes the loop. The loop
//     drains the whole batch per wake-up and calls the handlers in arrival order (one libnats
//     delivery thread for all subscriptions: global delivery, pool of 1, so arrival order is the
//     wire order). A message for a sid unsubscribed meanwhile is dropped.
//   - Publish never blocks: it queues the message for the writer thread, which hands it to
//     libnats (a write that waits for a slow socket waits there, bounded by nats.write_deadline,
//     after which libnats drops the connection and reconnects). While disconnected, libnats
//     keeps what is published in its reconnect buffer (nats.reconnect_buf_size) and sends it
//     after the reconnect; what does not fit is dropped and counted. Publishes leave in the
//     order they were made.
//   - Subscribe and Unsubscribe call libnats on the loop thread (the sid is libnats' own, so it
//     is known before the call returns). They write one SUB/UNSUB line into libnats' buffer;
//     only when that buffer is full and the socket takes nothing can such a call wait, up to
//     the write deadline. A SUB may reach the server before a PUB made just before it.
//   - Pending limits of every subscription are lifted (libnats would otherwise drop messages
//     of a busy subscription as a slow consumer): the loop's queue holds them instead.
//   - sender is always 0 and HasInterest/SubscribedBy keep their defaults (true): a client of
//     a remote cluster cannot know (see bus.h).
//   - No "no responders" notices: the connection tells the server it does not want them, so a
//     request nobody subscribes to gets no answer at all (it times out), as on the embedded core;
//     otherwise an empty status message would reach the request's inbox like a reply.
//
// Start: Connect() blocks until one server of the list answers (each tried once, with
// connect_timeout) or all failed; the caller decides what a failure means (App exits 1, as
// the reference streaming server does when it cannot reach NATS at start). Once connected, a
// lost connection is retried forever by default (max_reconnects -1).
//
// Ownership: borrows the loop. Close(done) before destruction: it closes the connection, stops
// the writer, drops what is queued and closes the uv_async; `done` runs from its close
// callback. The destructor closes the connection; the state libnats' threads call back into is
// kept until the process exits (see the destructor for why libnats is not shut down).
// Thread safety: every public method on the loop thread, except state(), which may be called
// from anywhere.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/bus/bus.h"
#include "server/natsclient/external_options.h"
#include "store/status.h"

namespace tandem::server {

// What monitoring shows of the connection.
struct ExternalConnState {
  std::vector<std::string> servers;  // configured, then discovered, without credentials
  std::string url;                   // the server connected to now ("" while disconnected)
  bool connected = false;
  uint64_t reconnects = 0;         // successful reconnects since the start
  uint64_t disconnects = 0;        // connections lost since the start
  uint64_t dropped_publishes = 0;  // publishes libnats refused (reconnect buffer full, closed)
  uint64_t in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
};

class ExternalBus final : public Bus {
 public:
  ExternalBus(uv_loop_t* loop, ExternalNatsOptions options);
  ~ExternalBus() override;
  ExternalBus(const ExternalBus&) = delete;
  ExternalBus& operator=(const ExternalBus&) = delete;

  // Connects (blocking, see above). An error names the servers and libnats' reason.
  Status Connect();
  // Called on the loop after the connection is lost (false) and back (true).
  void SetOnConnectionChange(std::function<void(bool connected)> cb) { on_change_ = std::move(cb); }
  // Called on the loop when the cluster reports its servers (the first INFO, then each change:
  // libnats' discovered-servers callback); partitioning re-checks its channels then.
  void SetOnDiscoveredServers(std::function<void()> cb) { on_discovered_ = std::move(cb); }
  void Close(std::function<void()> done);
  ExternalConnState state() const;

  // Bus
  uint64_t Subscribe(std::string_view subject, std::string_view queue, Handler handler) override;
  void Unsubscribe(uint64_t sid) override;
  void Publish(std::string_view subject, std::string_view reply, std::string_view payload) override;
  std::string NewInbox() override;

  // What libnats' threads and the writer touch (queue, mutex, counters); internal, named here
  // only so that the libnats callbacks in external_bus.cc can reach it.
  struct Shared;

 private:
  struct Sub;
  static void AsyncCb(uv_async_t* handle) noexcept;
  void Drain();

  uv_loop_t* const loop_;
  const ExternalNatsOptions options_;
  std::shared_ptr<Shared> shared_;
  uv_async_t async_{};
  bool async_open_ = false;
  std::unordered_map<uint64_t, std::unique_ptr<Sub>> subs_;  // by libnats sid
  bool draining_ = false;                                    // Drain is calling handlers
  std::vector<std::unique_ptr<Sub>> retired_;  // unsubscribed during Drain; freed after it
  std::function<void(bool)> on_change_;
  std::function<void()> on_discovered_;
  bool closed_ = false;
};

}  // namespace tandem::server
