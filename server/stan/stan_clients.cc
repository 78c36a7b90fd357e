// stan_clients.cc: the client registry, server -> client heartbeats and the request helper.
#include "server/stan/stan_clients.h"

#include <charconv>

#include <spdlog/spdlog.h>

namespace tandem::server {

// --- Requester ---------------------------------------------------------------------------------

Requester::Requester(InternalClient* nc, TimerQueue* timers) : nc_(nc), timers_(timers) {}
Requester::~Requester() = default;

void Requester::Start() {
  prefix_ = nc_->NewInbox() + ".";
  sid_ = nc_->Subscribe(prefix_ + "*", "", [this](const InboundMsg& m) { OnReply(m.subject); });
}

void Requester::Stop() {
  if (sid_ != 0) nc_->Unsubscribe(sid_);
  sid_ = 0;
  for (auto& [token, p] : pending_) timers_->Cancel(&p.timer);
  pending_.clear();
}

void Requester::Request(std::string_view subject, std::string_view payload, uint64_t timeout_ms,
                        Done done) {
  uint64_t token = next_token_++;
  Pending& p = pending_[token];
  p.done = std::move(done);
  p.timer = timers_->AddAfter(timeout_ms, [this, token] { Finish(token, false); });
  nc_->Publish(subject, prefix_ + std::to_string(token), payload);
}

void Requester::OnReply(std::string_view subject) {
  if (subject.size() <= prefix_.size()) return;
  std::string_view tok = subject.substr(prefix_.size());
  uint64_t token = 0;
  auto [ptr, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), token);
  if (ec != std::errc() || ptr != tok.data() + tok.size()) return;
  Finish(token, true);
}

void Requester::Finish(uint64_t token, bool replied) {
  auto it = pending_.find(token);
  if (it == pending_.end()) return;
  Done done = std::move(it->second.done);
  timers_->Cancel(&it->second.timer);
  pending_.erase(it);
  done(replied);
}

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
                      [this, client_id](bool replied) { HbResult(client_id, replied); });
}

void ClientRegistry::HbResult(const std::string& client_id, bool replied) {
  StanClient* c = Lookup(client_id);
  if (c == nullptr) return;
  c->hb_outstanding = false;
  if (replied) {
    c->hb_failures = 0;
  } else if (++c->hb_failures > options_.hb_fail_count) {
    spdlog::info("stan: client {} missed {} heartbeats, closing it", client_id, c->hb_failures);
    if (on_dead_) on_dead_(client_id);
    return;
  }
  ScheduleHb(c, options_.hb_interval_ms);
}

}  // namespace tandem::server
