// stan_clients.h: registered streaming clients (by clientID and by connID), the server ->
// client heartbeats that decide a client is gone (missing client pings never do).
//
// Heartbeats: every hb_interval after the previous check, an empty request goes to the client's
// heartbeat inbox; no reply within hb_timeout increments the client's failure count, a reply
// resets it. When the count exceeds hb_fail_count, on_dead(client_id) runs (the server closes the
// client as a CloseRequest would).
//
// Ownership: the registry owns the clients; it borrows the Bus and the TimerQueue,
// which outlive it. Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "server/bus/requester.h"
#include "server/stan/stan_options.h"
#include "server/util/timer_queue.h"
#include "store/store.h"

namespace tandem::server {

struct StanClient {
  store::ClientRecord rec;
  std::set<uint64_t> subs;  // ids of its subscriptions (active ones only)
  int hb_failures = 0;
  bool hb_outstanding = false;
  TimerQueue::Id hb_timer = 0;
  // The NATS connection last proven to act for the client (server/stan/session_guard.h); 0 when
  // unknown (after a restart). Memory only.
  uint64_t owner_conn = 0;
  // The user that connection authenticated as (Bus::UserOf); empty without authentication or
  // when unknown. Memory only, like owner_conn.
  std::string owner_user;
};

class ClientRegistry {
 public:
  ClientRegistry(const StanOptions& options, TimerQueue* timers, Requester* requester);
  ~ClientRegistry();
  ClientRegistry(const ClientRegistry&) = delete;
  ClientRegistry& operator=(const ClientRegistry&) = delete;

  void SetOnDead(std::function<void(const std::string& client_id)> fn) { on_dead_ = std::move(fn); }
  // Told of every heartbeat reply with the connection that sent it (InboundMsg::sender).
  void SetOnReply(std::function<void(StanClient* c, uint64_t sender)> fn) {
    on_reply_ = std::move(fn);
  }

  // `^[a-zA-Z0-9_-]+$`
  static bool IsValidClientId(std::string_view id);

  // Adds a client and starts its heartbeats. REQUIRES: not registered.
  StanClient* Register(const store::ClientRecord& rec);
  // Removes a client (its heartbeats stop). Returns false when unknown.
  bool Unregister(const std::string& client_id);
  StanClient* Lookup(std::string_view client_id) const;
  StanClient* LookupByConnId(std::string_view conn_id) const;

  // Sends a heartbeat now (used when a ping arrives from a client with failed heartbeats).
  void CheckNow(StanClient* c);
  void StopAll();

  size_t size() const { return by_id_.size(); }
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (auto& [id, c] : by_id_) fn(*c);
  }

  // A duplicate-ID check is running for these IDs: a second connect with one of them fails at
  // once with "clientID already registered".
  std::set<std::string> checking;

 private:
  void ScheduleHb(StanClient* c, uint64_t delay_ms);
  void SendHb(const std::string& client_id);
  void HbResult(const std::string& client_id, const InboundMsg* reply);

  const StanOptions options_;
  TimerQueue* const timers_;
  Requester* const requester_;
  std::function<void(const std::string&)> on_dead_;
  std::function<void(StanClient*, uint64_t)> on_reply_;
  // Transparent hashing: lookups by string_view (every publish) do not allocate.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::unique_ptr<StanClient>, Hash, std::equal_to<>> by_id_;
  std::unordered_map<std::string, StanClient*, Hash, std::equal_to<>> by_conn_id_;
};

}  // namespace tandem::server
