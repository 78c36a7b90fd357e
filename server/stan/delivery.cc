// delivery.cc: the delivery engine's core (see delivery.h): the subscription index, sending
// committed messages to plain subscriptions in order (cache or store reads), MaxInFlight, acks,
// and what resumes when a delivery inbox gets interest. Persistence is in
// delivery_persistence.cc, queue groups in delivery_queue_group.cc, AckWait in
// delivery_redelivery.cc, unreadable stored messages in delivery_read_damage.cc.
#include "server/stan/delivery.h"

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
  size_t unchecked = 0;  // bytes sent since the gate was last asked
  while (!sub->stalled()) {
    if (unchecked >= kGateCheckBytes) {
      unchecked = 0;
      if (!GateOpen(sub, kGateSend)) return;  // backlogged: resumes when its connection drains
    }
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
    unchecked += data->size();
    DeliverNew(sub, seq, *data);
  }
}

const std::string* Delivery::NextMsg(Channel* ch, Prefetch* pf, uint64_t* seq, bool* need_read) {
  *need_read = false;
  uint64_t s = std::max(*seq, ch->first_seq());
  while (true) {
    if (s > ch->committed_seq()) return nullptr;
    if (const CachedMsg* m = ch->Lookup(s)) {
      pf->clear();
      *seq = s;
      return &m->data;
    }
    if (pf->to == 0 || s < pf->from || s > pf->to) {
      if (pf->loading || Damaged(ch, s)) return nullptr;  // damaged: wait there, never skip
      *seq = s;
      *need_read = true;
      return nullptr;
    }
    while (!pf->empty() && pf->front().seq < s) pf->pop_front();
    if (!pf->empty() && pf->front().seq <= pf->to) {
      *seq = pf->front().seq;  // the ones in between were removed by limits
      if (*seq > ch->committed_seq()) return nullptr;
      return &pf->front().data;
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
                     p->from = from;
                     p->to =
                         msgs.size() == kReadChunk ? msgs.back().seq : std::max(committed, from);
                     p->msgs = std::move(msgs);
                     p->next = 0;
                     resume();
                   });
}

void Delivery::DeliverNew(StanSub* sub, uint64_t seq, std::string_view data) {
  uint64_t expiry = timers_->now() + static_cast<uint64_t>(sub->rec.ack_wait_s) * 1000;
  PendingMsg& p = sub->pending[seq];
  p.expiry_ms = expiry;
  p.set_sent(timers_->now());
  if (sub->unrecorded == 0 || seq < sub->unrecorded) sub->unrecorded = seq;
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
  if (owner->backlog) return SendBacklog(owner);  // new messages wait for the backlog
  if (!was_stalled) return;
  if (owner->group != nullptr) {
    SendGroup(owner->group);
  } else {
    SendSub(owner);
  }
}

// --- waiting for interest (the DeliveryGate's side) -------------------------------------------

bool Delivery::GateOpen(StanSub* sub, uint32_t reason) {
  uint64_t bound = std::min<uint64_t>(DeliveryGate::kMaxWaitMs,
                                      static_cast<uint64_t>(sub->rec.ack_wait_s) * 1000);
  return gate_.Ready(sub->id(), sub->gen, sub->rec.inbox, bound, reason);
}

void Delivery::OnGateOpen(uint64_t id, uint64_t gen, uint32_t reasons) {
  StanSub* sub = Find(id, gen);
  if (sub == nullptr || stopped_ || sub->offline()) return;
  if (reasons & kGateRedeliverAll) {
    SendBacklog(sub);  // its hold on new messages stays until the backlog is sent
    if (Find(id, gen) != sub) return;
  }
  if (reasons & kGateAckTimer) {
    OnAckTimer(id, gen);
    if (Find(id, gen) != sub) return;
  }
  if (reasons & kGateSend) {
    if (sub->group != nullptr) {
      SendGroup(sub->group);
    } else {
      SendSub(sub);
    }
  }
}

}  // namespace tandem::server
