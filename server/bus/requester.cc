// requester.cc: request/reply over any Bus; see requester.h.
#include "server/bus/requester.h"

#include <charconv>
#include <string>
#include <utility>

namespace tandem::server {

Requester::Requester(Bus* nc, TimerQueue* timers) : nc_(nc), timers_(timers) {}
Requester::~Requester() = default;

void Requester::Start() {
  prefix_ = nc_->NewInbox() + ".";
  sid_ = nc_->Subscribe(prefix_ + "*", "", [this](const InboundMsg& m) { OnReply(m); });
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
  p.timer = timers_->AddAfter(timeout_ms, [this, token] { Finish(token, nullptr); });
  nc_->Publish(subject, prefix_ + std::to_string(token), payload);
}

void Requester::OnReply(const InboundMsg& m) {
  if (m.subject.size() <= prefix_.size()) return;
  std::string_view tok = m.subject.substr(prefix_.size());
  uint64_t token = 0;
  auto [ptr, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), token);
  if (ec != std::errc() || ptr != tok.data() + tok.size()) return;
  Finish(token, &m);
}

void Requester::Finish(uint64_t token, const InboundMsg* reply) {
  auto it = pending_.find(token);
  if (it == pending_.end()) return;
  Done done = std::move(it->second.done);
  timers_->Cancel(&it->second.timer);
  pending_.erase(it);
  done(reply);
}

}  // namespace tandem::server
