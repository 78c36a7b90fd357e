// delivery_queue_group.cc: the delivery engine's queue groups (see delivery.h and
// queue_group.h): one position per group, each message to the best member, and the hand-over of
// a leaving member's unacked messages to the members that remain (round-robin, marked expired
// so that they are redelivered shortly).
#include <algorithm>

#include "server/stan/delivery.h"
#include "server/stan/queue_group.h"

namespace tandem::server {

void Delivery::SendGroup(StanQueueGroup* g) {
  if (stopped_ || g->members.empty()) return;
  Channel* ch = g->members.front()->channel;
  while (true) {
    StanSub* best = FindBest(g, false, nullptr);
    if (best == nullptr) return;  // every member stalled (or not ready)
    uint64_t seq = g->last_sent + 1;
    bool need_read = false;
    const std::string* data = NextMsg(ch, &g->prefetch, &seq, &need_read);
    if (data == nullptr) {
      if (need_read) {
        int64_t ch_id = ch->id();
        std::string name = g->name;
        auto locate = [this, ch_id, name]() -> StanQueueGroup* {
          Channel* c = channels_->LookupById(ch_id);
          if (c == nullptr) return nullptr;
          auto it = c->queues().find(name);
          return it == c->queues().end() ? nullptr : it->second.get();
        };
        StartRead(
            ch, &g->prefetch, seq,
            [locate]() -> Prefetch* {
              StanQueueGroup* q = locate();
              return q ? &q->prefetch : nullptr;
            },
            [this, locate] {
              if (StanQueueGroup* q = locate()) SendGroup(q);
            });
      }
      return;
    }
    g->last_sent = seq;
    best->rec.last_sent = seq;
    DeliverNew(best, seq, *data);
    Served(g, best);
  }
}

void Delivery::Served(StanQueueGroup* g, StanSub* member) {
  // To the back: among members with as few pending messages, the next one is served next.
  auto it = std::find(g->members.begin(), g->members.end(), member);
  if (it != g->members.end()) std::rotate(it, it + 1, g->members.end());
}

StanSub* Delivery::FindBest(StanQueueGroup* g, bool for_redelivery, StanSub* exclude) {
  StanSub* best = nullptr;
  for (StanSub* m : g->members) {
    if (m == exclude || !m->deliverable) continue;
    if (!for_redelivery && (m->stalled() || m->hold_new > 0)) continue;
    StanClient* c = clients_->Lookup(m->rec.client_id);
    if (c != nullptr && c->hb_failures > 0) continue;
    if (best == nullptr || m->pending.size() < best->pending.size()) {
      if (!GateOpen(m, kGateSend)) continue;  // checked last: one lookup in the common case
      best = m;
    }
  }
  return best;
}

bool Delivery::RemoveMember(StanQueueGroup* g, StanSub* member) {
  auto it = std::find(g->members.begin(), g->members.end(), member);
  if (it != g->members.end()) g->members.erase(it);
  if (g->members.empty()) return true;
  // Keep the group's position stored on a remaining member.
  StanSub* keeper = g->members.front();
  if (keeper->rec.last_sent != g->last_sent) {
    keeper->rec.last_sent = g->last_sent;
    MarkDirty(keeper);
  }
  // Hand the unacked messages over round-robin, already expired, redelivered after 100 ms.
  std::vector<uint64_t> seqs;
  for (auto& [seq, p] : member->pending) seqs.push_back(seq);
  uint64_t now = timers_->now();
  size_t i = 0;
  for (uint64_t seq : seqs) {
    StanSub* to = g->members[i++ % g->members.size()];
    MovePending(member, to, seq, now);
  }
  for (StanSub* m : g->members) {
    if (!m->pending.empty()) ArmAckTimer(m, now + kHandOverDelayMs);
  }
  return false;
}

}  // namespace tandem::server
