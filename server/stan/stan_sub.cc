// stan_sub.cc: sending messages to subscriptions in order, acks, MaxInFlight, and the
// coalesced persistence of positions and pending sets.
#include "server/stan/stan_sub.h"

#include <algorithm>
#include <ctime>

#include <spdlog/spdlog.h>

#include "server/stan/queue_group.h"

namespace tandem::server {

Delivery::Delivery(Bus* nc, store::Store* store, StoreWriter* writer, TimerQueue* timers,
                   ClientRegistry* clients, ChannelRegistry* channels)
    : nc_(nc),
      store_(store),
      writer_(writer),
      timers_(timers),
      clients_(clients),
      channels_(channels),
      gate_(nc, timers) {
  gate_.SetOnOpen([this](uint64_t id, uint64_t gen, uint32_t why) { OnGateOpen(id, gen, why); });
}

void Delivery::Unindex(StanSub* sub) {
  CancelTimers(sub);
  timers_->Cancel(&sub->persist_timer);
  gate_.Forget(sub->id());
  auto it = subs_.find(sub->id());
  if (it != subs_.end() && it->second == sub) subs_.erase(it);
}

StanSub* Delivery::Find(uint64_t id) const {
  auto it = subs_.find(id);
  return it == subs_.end() ? nullptr : it->second;
}

StanSub* Delivery::Find(uint64_t id, uint64_t gen) const {
  StanSub* s = Find(id);
  return s != nullptr && s->gen == gen ? s : nullptr;
}

int64_t Delivery::NowNs() const {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// --- sending -----------------------------------------------------------------------------------

void Delivery::SendAvailable(Channel* ch) {
  for (auto& [id, sub] : ch->subs()) {
    if (sub->group == nullptr && !sub->offline()) SendSub(sub.get());
  }
  for (auto& [name, g] : ch->queues()) SendGroup(g.get());
}

void Delivery::SendSub(StanSub* sub) {
  if (stopped_ || !sub->deliverable || sub->hold_new > 0 || sub->offline() || sub->group != nullptr)
    return;
  if (!GateOpen(sub, kGateSend)) return;
  Channel* ch = sub->channel;
  while (!sub->stalled()) {
    uint64_t seq = sub->rec.last_sent + 1;
    bool need_read = false;
    const std::string* data = NextMsg(ch, &sub->prefetch, &seq, &need_read);
    if (data == nullptr) {
      if (need_read) {
        uint64_t id = sub->id(), gen = sub->gen;
        StartRead(
            ch, &sub->prefetch, seq,
            [this, id, gen]() -> Prefetch* {
              StanSub* s = Find(id, gen);
              return s ? &s->prefetch : nullptr;
            },
            [this, id, gen] {
              if (StanSub* s = Find(id, gen)) SendSub(s);
            });
      }
      return;
    }
    sub->rec.last_sent = seq;
    sub->last_sent_dirty = true;
    DeliverNew(sub, seq, *data);
  }
}

const std::string* Delivery::NextMsg(Channel* ch, Prefetch* pf, uint64_t* seq, bool* need_read) {
  *need_read = false;
  uint64_t s = std::max(*seq, ch->first_seq());
  while (true) {
    if (s > ch->committed_seq()) return nullptr;
    if (const CachedMsg* m = ch->Lookup(s)) {
      pf->msgs.clear();
      *seq = s;
      return &m->data;
    }
    if (pf->to == 0 || s < pf->from || s > pf->to) {
      if (pf->loading || Damaged(ch, s)) return nullptr;  // damaged: wait there, never skip
      *seq = s;
      *need_read = true;
      return nullptr;
    }
    while (!pf->msgs.empty() && pf->msgs.front().seq < s) pf->msgs.pop_front();
    if (!pf->msgs.empty() && pf->msgs.front().seq <= pf->to) {
      *seq = pf->msgs.front().seq;  // the ones in between were removed by limits
      if (*seq > ch->committed_seq()) return nullptr;
      return &pf->msgs.front().data;
    }
    s = pf->to + 1;  // nothing stored in the rest of the read range
  }
}

void Delivery::StartRead(Channel* ch, Prefetch* pf, uint64_t from,
                         std::function<Prefetch*()> locate, std::function<void()> resume) {
  if (pf->loading) return;
  pf->loading = true;
  uint64_t committed = ch->committed_seq();
  uint64_t to = std::max(from, std::min(from + kReadChunk - 1, committed));
  store_->ReadMsgs(ch->id(), from, kReadChunk,
                   [this, ch_id = ch->id(), from, to, committed, locate = std::move(locate),
                    resume = std::move(resume)](Result<std::vector<store::MsgRecord>> r) {
                     if (!r.ok()) {
                       if (Channel* c = channels_->LookupById(ch_id))
                         ReadFailed(c, from, to, r.status());
                     }
                     Prefetch* p = locate();
                     if (p == nullptr) return;
                     p->loading = false;
                     if (!r.ok()) return;
                     auto& msgs = r.value();
                     p->msgs.clear();
                     p->from = from;
                     p->to =
                         msgs.size() == kReadChunk ? msgs.back().seq : std::max(committed, from);
                     for (auto& m : msgs) p->msgs.push_back(std::move(m));
                     resume();
                   });
}

void Delivery::DeliverNew(StanSub* sub, uint64_t seq, std::string_view data) {
  uint64_t expiry = timers_->now() + static_cast<uint64_t>(sub->rec.ack_wait_s) * 1000;
  PendingMsg& p = sub->pending[seq];
  p.expiry_ms = expiry;
  p.sent_ms = timers_->now();
  sub->new_pending.push_back(seq);
  MarkDirty(sub);
  ++counters_.msgs;
  counters_.bytes += data.size();
  nc_->Publish(sub->rec.inbox, "", data);
  ArmAckTimer(sub, expiry);
}

// --- acks --------------------------------------------------------------------------------------

void Delivery::OnAck(StanSub* sub, uint64_t seq) {
  StanSub* owner = nullptr;
  if (sub->pending.count(seq)) {
    owner = sub;
  } else if (sub->group != nullptr) {
    for (StanSub* m : sub->group->members) {
      if (m->pending.count(seq)) {
        owner = m;
        break;
      }
    }
  }
  if (owner == nullptr) return;  // unknown or already acked: ignored, acks get no reply
  bool was_stalled = owner->stalled();
  DropPending(owner, seq);
  if (!was_stalled) return;
  if (owner->group != nullptr) {
    SendGroup(owner->group);
  } else {
    SendSub(owner);
  }
}

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
  for (uint64_t id : dirty_) {
    if (StanSub* s = Find(id)) FlushSub(s, force);
  }
  dirty_.clear();
}

void Delivery::TrimNewPending(StanSub* sub) {
  auto& q = sub->new_pending;
  while (!q.empty()) {
    auto it = sub->pending.find(q.front());
    if (it != sub->pending.end() && !it->second.persisted) return;
    q.pop_front();
  }
}

void Delivery::FlushSub(StanSub* sub, bool force) {
  if (!sub->dirty && !force) return;
  sub->dirty = false;
  store::WriteBatch& b = writer_->batch();
  uint64_t now = timers_->now();
  auto& q = sub->new_pending;
  while (!q.empty()) {
    auto it = sub->pending.find(q.front());
    if (it != sub->pending.end() && !it->second.persisted) {
      if (!force && it->second.sent_ms + kPersistDelayMs > now) break;
      b.AddPending(sub->id(), q.front());
      it->second.persisted = true;
    }
    q.pop_front();
  }
  // The stored position stays below every delivery that has no pending row yet.
  uint64_t floor = sub->rec.last_sent;
  if (!q.empty()) floor = std::min(floor, q.front() - 1);
  if (sub->group != nullptr) {
    for (StanSub* m : sub->group->members) {
      if (m == sub) continue;
      TrimNewPending(m);
      if (!m->new_pending.empty()) floor = std::min(floor, m->new_pending.front() - 1);
    }
  }
  if (floor != sub->stored_last_sent) {
    b.UpdateLastSent(sub->id(), floor);
    sub->stored_last_sent = floor;
  }
  sub->last_sent_dirty = false;
  if (!q.empty() && !timers_->pending(sub->persist_timer)) {
    uint64_t due = sub->pending[q.front()].sent_ms + kPersistDelayMs;
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
  if (it->second.persisted) writer_->batch().RemovePending(sub->id(), seq);
  sub->pending.erase(it);
}

void Delivery::MovePending(StanSub* from, StanSub* to, uint64_t seq, uint64_t expiry_ms) {
  auto it = from->pending.find(seq);
  uint32_t count = it == from->pending.end() ? 0 : it->second.redeliveries;
  uint64_t sent = it == from->pending.end() ? timers_->now() : it->second.sent_ms;
  DropPending(from, seq);
  PendingMsg& p = to->pending[seq];
  p.expiry_ms = expiry_ms;
  p.sent_ms = sent;
  p.redeliveries = std::max(p.redeliveries, count);
  if (!p.persisted) {
    // Recorded at once: the message may be below the group's stored position already.
    writer_->batch().AddPending(to->id(), seq);
    p.persisted = true;
  }
}

}  // namespace tandem::server
