// delivery_redelivery.cc: the delivery engine's AckWait timers and redeliveries.
//
// Each subscription has one TimerQueue deadline at its earliest pending expiry; when it fires,
// every pending message whose expiry is within kAckWaitSlackMs of now is resent in expiry order
// with redelivered = true and an incremented redeliveryCount, and its expiry moves by AckWait.
// Redeliveries ignore MaxInFlight; a sequence's redeliveryCount lives in memory only (reset on
// restart and takeover).
//
// Plain subscriptions whose client has failed heartbeats are skipped (the deadline moves by
// AckWait). A queue member's redelivery goes to the group's best member, which then owns the
// pending entry. A pending message that the store no longer has (removed by limits) is treated
// as acknowledged. RedeliverAll (restart, takeover, durable resume) resends every pending
// message to the same subscription and holds new messages back until it is done.
#include "server/stan/delivery.h"

#include <algorithm>
#include <memory>
#include <set>

#include <spdlog/spdlog.h>

#include "server/stan/queue_group.h"
#include "server/stan/stan_codec.h"

namespace tandem::server {

void Delivery::ArmAckTimer(StanSub* sub, uint64_t due_ms) {
  if (timers_->pending(sub->ack_timer) && sub->ack_timer_due <= due_ms) return;
  timers_->Cancel(&sub->ack_timer);
  sub->ack_timer_due = due_ms;
  uint64_t id = sub->id(), gen = sub->gen;
  sub->ack_timer = timers_->AddAt(due_ms, [this, id, gen] { OnAckTimer(id, gen); });
}

void Delivery::RearmAckTimer(StanSub* sub) {
  timers_->Cancel(&sub->ack_timer);
  if (sub->pending.empty()) return;
  uint64_t due = UINT64_MAX;
  for (auto& [seq, p] : sub->pending) due = std::min(due, p.expiry_ms);
  ArmAckTimer(sub, due);
}

void Delivery::CancelTimers(StanSub* sub) { timers_->Cancel(&sub->ack_timer); }

void Delivery::OnAckTimer(uint64_t sub_id, uint64_t gen) {
  StanSub* sub = Find(sub_id, gen);
  if (sub == nullptr) return;
  sub->ack_timer = 0;
  if (sub->offline() || !sub->deliverable) return;
  uint64_t now = timers_->now();
  uint64_t ack_wait_ms = static_cast<uint64_t>(sub->rec.ack_wait_s) * 1000;
  if (sub->group == nullptr) {
    StanClient* c = clients_->Lookup(sub->rec.client_id);
    if (c != nullptr && c->hb_failures > 0) {
      ArmAckTimer(sub, now + ack_wait_ms);
      return;
    }
  }
  // Nobody listens on the inbox (a client reconnecting): wait for it, bounded (delivery_gate.h).
  // A queue member's messages go to a member that has interest, if there is one.
  bool member_open = sub->group != nullptr && FindBest(sub->group, true, nullptr) != nullptr;
  if (!member_open && !GateOpen(sub, kGateAckTimer)) return;
  std::vector<std::pair<uint64_t, uint64_t>> due;  // (expiry, seq)
  for (auto& [seq, p] : sub->pending) {
    if (p.expiry_ms <= now + kAckWaitSlackMs) due.emplace_back(p.expiry_ms, seq);
  }
  std::sort(due.begin(), due.end());
  std::vector<uint64_t> seqs;
  seqs.reserve(due.size());
  for (auto& [e, seq] : due) {
    // Push the expiry now so that a slow store read cannot make the same entry fire twice.
    sub->pending[seq].expiry_ms = now + ack_wait_ms;
    seqs.push_back(seq);
  }
  Redeliver(sub, std::move(seqs), false);
  if (Find(sub_id, gen) == sub) RearmAckTimer(sub);
}

void Delivery::RedeliverAll(StanSub* sub) {
  std::vector<uint64_t> seqs;
  for (auto& [seq, p] : sub->pending) seqs.push_back(seq);
  ++sub->hold_new;
  if (!GateOpen(sub, kGateRedeliverAll)) return;  // new messages are held meanwhile
  Redeliver(sub, std::move(seqs), true);
}

void Delivery::ReleaseHold(StanSub* sub) {
  if (sub->hold_new > 0) --sub->hold_new;
  if (sub->hold_new > 0) return;
  if (sub->group != nullptr) {
    SendGroup(sub->group);
  } else {
    SendSub(sub);
  }
}

void Delivery::Redeliver(StanSub* sub, std::vector<uint64_t> seqs, bool all) {
  Channel* ch = sub->channel;
  std::vector<uint64_t> missing;
  for (uint64_t seq : seqs) {
    if (!sub->pending.count(seq)) continue;
    if (seq < ch->first_seq()) {
      DropPending(sub, seq);  // removed by limits: counts as acked
      continue;
    }
    if (const CachedMsg* m = ch->Lookup(seq)) {
      RedeliverOne(sub, seq, m->data, all);
    } else {
      missing.push_back(seq);
    }
  }
  if (missing.empty()) {
    if (all) ReleaseHold(sub);
    return;
  }
  // Read the missing ones in chunks of nearby sequences; release the hold after the last.
  std::sort(missing.begin(), missing.end());
  auto outstanding = std::make_shared<int>(0);
  std::vector<std::vector<uint64_t>> chunks;
  for (uint64_t seq : missing) {
    if (chunks.empty() || seq - chunks.back().front() >= kReadChunk) chunks.emplace_back();
    chunks.back().push_back(seq);
  }
  *outstanding = static_cast<int>(chunks.size());
  uint64_t id = sub->id(), gen = sub->gen;
  for (auto& chunk : chunks) {
    uint64_t from = chunk.front();
    size_t count = chunk.back() - chunk.front() + 1;
    store_->ReadMsgs(ch->id(), from, count,
                     [this, id, gen, all, outstanding,
                      want = std::move(chunk)](Result<std::vector<store::MsgRecord>> r) {
                       --*outstanding;
                       StanSub* s = Find(id, gen);
                       if (s == nullptr) return;
                       if (!r.ok()) {
                         ReadFailed(s->channel, want.front(), want.back(), r.status());
                       } else {
                         std::set<uint64_t> found;
                         for (auto& m : r.value()) {
                           if (!std::binary_search(want.begin(), want.end(), m.seq)) continue;
                           found.insert(m.seq);
                           if (s->pending.count(m.seq)) RedeliverOne(s, m.seq, m.data, all);
                         }
                         for (uint64_t seq : want) {
                           if (!found.count(seq) && seq < s->channel->first_seq())
                             DropPending(s, seq);
                         }
                       }
                       if (all && *outstanding == 0) ReleaseHold(s);
                     });
  }
}

void Delivery::RedeliverOne(StanSub* sub, uint64_t seq, std::string_view data, bool keep_member) {
  if (stopped_) return;
  StanSub* target = sub;
  uint64_t now = timers_->now();
  if (sub->group != nullptr && !keep_member) {
    StanSub* best = FindBest(sub->group, true, nullptr);
    if (best != nullptr && best != sub) {
      MovePending(sub, best, seq, now);
      target = best;
    }
    if (best != nullptr) Served(sub->group, best);
  }
  PendingMsg& p = target->pending[seq];
  ++p.redeliveries;
  p.expiry_ms = now + static_cast<uint64_t>(target->rec.ack_wait_s) * 1000;
  // Copied: the entry is not referenced across the publish (SeqMap may move entries).
  const uint32_t count = p.redeliveries;
  const uint64_t expiry = p.expiry_ms;
  ++counters_.msgs;
  ++counters_.redelivered;
  counters_.bytes += data.size();
  nc_->Publish(target->rec.inbox, "", WithRedelivery(data, count));
  ArmAckTimer(target, expiry);
}

}  // namespace tandem::server
