// delivery_persistence.cc: the delivery engine's coalesced persistence (see delivery.h): a
// delivery gets a pending row only once it stayed unacked for kPersistDelayMs; the stored
// last_sent is held below the oldest delivery without a row (for a queue group, the oldest of
// any member); removals of recorded entries are written at once. The streaming layer calls
// FlushDirty just before each batch is sealed, so what aged during the pass goes with it, at
// most kPersistPerBatch rows a batch (oldest first per subscription; the subscriptions left
// over stay dirty, first in line for the next batch). While the store lags, deliveries wait
// longer for their rows and most are acked before they get one: neither row nor removal is
// written, so the store's work and the batches' memory stop growing with the delivery rate.
#include <algorithm>

#include "server/stan/delivery.h"
#include "server/stan/queue_group.h"

namespace tandem::server {

// --- persistence -------------------------------------------------------------------------------

void Delivery::MarkDirty(StanSub* sub) {
  if (sub->dirty) return;
  sub->dirty = true;
  dirty_.push_back(sub->id());
}

void Delivery::FlushDirty(bool force) {
  if (force) {
    for (auto& [id, sub] : subs_) MarkDirty(sub);
  }
  // FlushSub marks the subscriptions the budget left over dirty again, into the emptied dirty_.
  flushing_.swap(dirty_);
  size_t budget = kPersistPerBatch;
  for (uint64_t id : flushing_) {
    if (StanSub* s = Find(id)) FlushSub(s, force, force ? nullptr : &budget);
  }
  flushing_.clear();
}

SeqMap<PendingMsg>::iterator Delivery::FirstUnrecorded(StanSub* sub) {
  auto end = sub->pending.end();
  if (sub->unrecorded == 0) return end;
  auto it = sub->pending.lower_bound(sub->unrecorded);
  while (it != end && it->second.persisted()) ++it;
  sub->unrecorded = it == end ? 0 : it->first;
  return it;
}

void Delivery::FlushSub(StanSub* sub, bool force, size_t* budget) {
  if (!sub->dirty && !force) return;
  sub->dirty = false;
  store::WriteBatch& b = writer_->batch();
  uint64_t now = timers_->now();
  bool over_budget = false;
  const auto end = sub->pending.end();
  auto it = FirstUnrecorded(sub);
  while (it != end) {
    if (!it->second.persisted()) {
      if (!force && it->second.age_ms(now) < kPersistDelayMs) break;
      if (budget != nullptr && *budget == 0) {
        over_budget = true;
        break;
      }
      if (budget != nullptr) --*budget;
      b.AddPending(sub->id(), it->first, it->second.redeliveries() + 1);
      it->second.set_persisted(true);
    }
    ++it;
  }
  sub->unrecorded = it == end ? 0 : it->first;  // the first entry left without a row
  // The stored position stays below every delivery that has no pending row yet.
  uint64_t floor = sub->rec.last_sent;
  if (sub->unrecorded != 0) floor = std::min(floor, sub->unrecorded - 1);
  if (sub->group != nullptr) {
    for (StanSub* m : sub->group->members) {
      if (m == sub) continue;
      FirstUnrecorded(m);
      if (m->unrecorded != 0) floor = std::min(floor, m->unrecorded - 1);
    }
  }
  if (floor != sub->stored_last_sent) {
    b.UpdateLastSent(sub->id(), floor);
    sub->stored_last_sent = floor;
  }
  if (over_budget) {
    MarkDirty(sub);  // aged already: its rows go with the next batch
  } else if (sub->unrecorded != 0 && !timers_->pending(sub->persist_timer)) {
    uint64_t due = now + kPersistDelayMs - std::min(it->second.age_ms(now), kPersistDelayMs);
    uint64_t id = sub->id(), gen = sub->gen;
    sub->persist_timer = timers_->AddAt(due, [this, id, gen] {
      if (StanSub* s = Find(id, gen)) {
        s->persist_timer = 0;
        MarkDirty(s);
      }
    });
  }
}

void Delivery::DropPending(StanSub* sub, uint64_t seq) {
  auto it = sub->pending.find(seq);
  if (it == sub->pending.end()) return;
  if (it->second.persisted()) writer_->batch().RemovePending(sub->id(), seq);
  if (it->second.queued()) --sub->queued;
  sub->pending.erase(it);
}

void Delivery::MovePending(StanSub* from, StanSub* to, uint64_t seq, uint64_t expiry_ms) {
  auto it = from->pending.find(seq);
  const bool found = it != from->pending.end();
  const uint32_t count = found ? it->second.redeliveries() : 0;
  const uint32_t sent = found ? it->second.sent_bits() : 0;
  DropPending(from, seq);
  PendingMsg& p = to->pending[seq];
  p.expiry_ms = expiry_ms;
  if (found) {
    p.set_sent_bits(sent);
  } else {
    p.set_sent(timers_->now());
  }
  p.set_redeliveries(std::max(p.redeliveries(), count));
  if (!p.persisted()) {
    // Recorded at once: the message may be below the group's stored position already.
    writer_->batch().AddPending(to->id(), seq, p.redeliveries() + 1);
    p.set_persisted(true);
  } else {
    writer_->batch().SetDeliveries(to->id(), seq, p.redeliveries() + 1);
  }
}

}  // namespace tandem::server
