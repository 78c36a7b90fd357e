// stan_clients.cc: the client registry and server -> client heartbeats.
#include "server/stan/stan_clients.h"

#include <spdlog/spdlog.h>

namespace tandem::server {

// --- ClientRegistry ----------------------------------------------------------------------------

ClientRegistry::ClientRegistry(const StanOptions& options, TimerQueue* timers, Requester* requester)
    : options_(options), timers_(timers), requester_(requester) {}

ClientRegistry::~ClientRegistry() { StopAll(); }

bool ClientRegistry::IsValidClientId(std::string_view id) {
  if (id.empty()) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

StanClient* ClientRegistry::Register(const store::ClientRecord& rec) {
  auto c = std::make_unique<StanClient>();
  c->rec = rec;
  StanClient* raw = c.get();
  by_id_[rec.client_id] = std::move(c);
  if (!rec.conn_id.empty()) by_conn_id_[rec.conn_id] = raw;
  ScheduleHb(raw, options_.hb_interval_ms);
  return raw;
}

bool ClientRegistry::Unregister(const std::string& client_id) {
  auto it = by_id_.find(client_id);
  if (it == by_id_.end()) return false;
  StanClient* c = it->second.get();
  timers_->Cancel(&c->hb_timer);
  auto cit = by_conn_id_.find(c->rec.conn_id);
  if (cit != by_conn_id_.end() && cit->second == c) by_conn_id_.erase(cit);
  by_id_.erase(it);
  return true;
}

StanClient* ClientRegistry::Lookup(std::string_view client_id) const {
  auto it = by_id_.find(client_id);
  return it == by_id_.end() ? nullptr : it->second.get();
}

StanClient* ClientRegistry::LookupByConnId(std::string_view conn_id) const {
  auto it = by_conn_id_.find(conn_id);
  return it == by_conn_id_.end() ? nullptr : it->second;
}

void ClientRegistry::CheckNow(StanClient* c) {
  if (c->hb_outstanding) return;
  timers_->Cancel(&c->hb_timer);
  SendHb(c->rec.client_id);
}

void ClientRegistry::StopAll() {
  for (auto& [id, c] : by_id_) timers_->Cancel(&c->hb_timer);
}

void ClientRegistry::ScheduleHb(StanClient* c, uint64_t delay_ms) {
  timers_->Cancel(&c->hb_timer);
  std::string id = c->rec.client_id;
  c->hb_timer = timers_->AddAfter(delay_ms, [this, id] { SendHb(id); });
}

void ClientRegistry::SendHb(const std::string& client_id) {
  StanClient* c = Lookup(client_id);
  if (c == nullptr) return;
  c->hb_timer = 0;
  c->hb_outstanding = true;
  requester_->Request(c->rec.hb_inbox, "", options_.hb_timeout_ms,
                      [this, client_id](const InboundMsg* reply) { HbResult(client_id, reply); });
}

void ClientRegistry::HbResult(const std::string& client_id, const InboundMsg* reply) {
  StanClient* c = Lookup(client_id);
  if (c == nullptr) return;
  c->hb_outstanding = false;
  if (reply != nullptr) {
    c->hb_failures = 0;
    if (on_reply_) on_reply_(c, reply->sender);
  } else if (++c->hb_failures > options_.hb_fail_count) {
    spdlog::info("stan: client {} missed {} heartbeats, closing it", client_id, c->hb_failures);
    if (on_dead_) on_dead_(client_id);
    return;
  }
  ScheduleHb(c, options_.hb_interval_ms);
}

}  // namespace tandem::server
