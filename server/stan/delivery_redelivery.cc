// delivery_redelivery.cc: the delivery engine's AckWait timers, redeliveries, the backlog and
// bounded redelivery.
//
// Each subscription has one TimerQueue deadline at its earliest pending expiry; when it fires,
// every pending message whose expiry is within kAckWaitSlackMs of now is resent in expiry order
// with redelivered = true and an incremented redeliveryCount, and its expiry moves by AckWait
// (plus the channel's redelivery_backoff for each further send: redelivery_policy.h). AckWait
// redeliveries ignore MaxInFlight (they are in flight already). The delivery count is stored
// with the pending row, so it survives a restart or a takeover.
//
// A message sent max_deliveries times leaves the subscription when its AckWait passes instead
// of going out again: appended to the channel's dead-letter channel (the sink, set by the
// streaming layer) in the same batch as its RemovePending, or dropped; counted on the channel.
//
// Plain subscriptions whose client has failed heartbeats are skipped (the deadline moves by
// AckWait). A queue member's redelivery goes to the group's best member, which then owns the
// pending entry. A pending message that the store no longer has (removed by limits) is treated
// as acknowledged. RedeliverAll (restart, takeover, durable resume) queues every pending message
// as a backlog that SendBacklog resends to the same subscription oldest first within MaxInflight
// (each ack makes room for the next), holding new messages back until it is empty.
#include "server/stan/delivery.h"

#include <algorithm>
#include <memory>
#include <set>

#include <spdlog/spdlog.h>

#include "server/stan/queue_group.h"
#include "server/stan/redelivery_policy.h"
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
  for (auto& [seq, p] : sub->pending) {
    if (!p.queued()) due = std::min(due, p.expiry_ms);
  }
  if (due != UINT64_MAX) ArmAckTimer(sub, due);
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
    if (!p.queued() && p.expiry_ms <= now + kAckWaitSlackMs) due.emplace_back(p.expiry_ms, seq);
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

void Delivery::Refill(StanSub* sub) {
  if (sub->backlog) {
    SendBacklog(sub);
  } else if (sub->group != nullptr) {
    SendGroup(sub->group);
  } else {
    SendSub(sub);
  }
}

void Delivery::RedeliverAll(StanSub* sub) {
  for (auto& [seq, p] : sub->pending) {
    if (p.queued()) continue;
    p.set_queued(true);
    ++sub->queued;
  }
  if (!sub->backlog) {
    sub->backlog = true;
    ++sub->hold_new;  // new messages wait until the backlog has gone out
  }
  SendBacklog(sub);
}

void Delivery::SendBacklog(StanSub* sub) {
  const uint64_t id = sub->id(), gen = sub->gen;
  const uint64_t max_deliveries = sub->channel->limits().max_deliveries;
  while (!stopped_ && sub->backlog && !sub->backlog_reading && !sub->offline() &&
         sub->deliverable) {
    if (sub->queued == 0) {
      sub->backlog = false;
      ReleaseHold(sub);
      return;
    }
    if (!GateOpen(sub, kGateRedeliverAll)) return;  // resumed when the inbox has interest
    const size_t max = static_cast<size_t>(std::max(sub->rec.max_in_flight, 1));
    size_t in_flight = sub->pending.size() - sub->queued;
    if (in_flight >= max) return;  // an ack makes room
    const uint64_t now = timers_->now();
    std::vector<uint64_t> seqs;
    // The entries before the queued ones are in flight (at most about MaxInflight of them).
    for (auto& [seq, p] : sub->pending) {
      if (in_flight >= max) break;
      if (!p.queued()) continue;
      p.set_queued(false);
      --sub->queued;
      ++in_flight;
      if (DeliveriesExhausted(p.redeliveries() + 1, max_deliveries)) {
        // Sent often enough before: its ack may still come; its AckWait decides.
        p.expiry_ms = now + static_cast<uint64_t>(sub->rec.ack_wait_s) * 1000;
        ArmAckTimer(sub, p.expiry_ms);
        continue;
      }
      seqs.push_back(seq);
    }
    if (!seqs.empty() && !Redeliver(sub, std::move(seqs), true)) return;  // reading
    if (Find(id, gen) != sub) return;
  }
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

bool Delivery::Redeliver(StanSub* sub, std::vector<uint64_t> seqs, bool all) {
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
    if (!all) Refill(sub);  // what was dead-lettered made room
    return true;
  }
  // Read the missing ones in chunks of nearby sequences; the backlog goes on after the last.
  std::sort(missing.begin(), missing.end());
  auto outstanding = std::make_shared<int>(0);
  std::vector<std::vector<uint64_t>> chunks;
  for (uint64_t seq : missing) {
    if (chunks.empty() || seq - chunks.back().front() >= kReadChunk) chunks.emplace_back();
    chunks.back().push_back(seq);
  }
  *outstanding = static_cast<int>(chunks.size());
  if (all) sub->backlog_reading = true;
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
                       if (*outstanding > 0) return;
                       if (all) s->backlog_reading = false;
                       Refill(s);
                     });
  }
  return false;
}

void Delivery::RedeliverOne(StanSub* sub, uint64_t seq, std::string_view data, bool keep_member) {
  if (stopped_) return;
  auto it = sub->pending.find(seq);
  if (it == sub->pending.end()) return;
  const ResolvedLimits& limits = sub->channel->limits();
  if (DeliveriesExhausted(it->second.redeliveries() + 1, limits.max_deliveries)) {
    DeadLetter(sub, seq, data);
    return;
  }
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
  p.add_redelivery();
  const uint32_t deliveries = p.redeliveries() + 1;
  p.expiry_ms =
      now + AckWaitAfterMs(deliveries, static_cast<uint64_t>(target->rec.ack_wait_s) * 1000,
                           limits.redelivery_backoff);
  // Recorded before the next commit; a new entry gets its count with its AddPending.
  if (p.persisted()) writer_->batch().SetDeliveries(target->id(), seq, deliveries);
  // Copied: the entry is not referenced across the publish (SeqMap may move entries).
  const uint32_t count = p.redeliveries();
  const uint64_t expiry = p.expiry_ms;
  ++counters_.msgs;
  ++counters_.redelivered;
  counters_.bytes += data.size();
  nc_->Publish(target->rec.inbox, "", WithRedelivery(data, count));
  ArmAckTimer(target, expiry);
}

void Delivery::DeadLetter(StanSub* sub, uint64_t seq, std::string_view data) {
  Channel* ch = sub->channel;
  // The append (if any) goes into the current batch first, its RemovePending right after it.
  const bool appended = dead_letter_ && dead_letter_(ch, seq, data);
  DropPending(sub, seq);
  if (appended) {
    ++ch->dead_lettered;
  } else {
    ++ch->max_deliveries_dropped;
  }
  spdlog::debug("stan: channel {}: message {} reached max_deliveries on subscription {}: {}",
                ch->name(), seq, sub->id(), appended ? "dead-lettered" : "dropped");
}

}  // namespace tandem::server
