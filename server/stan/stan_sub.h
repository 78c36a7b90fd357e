// stan_sub.h: streaming subscriptions and the delivery engine.
//
// A StanSub is one stored subscription: active (its client is connected), an offline durable,
// or the offline "shadow" of a durable queue group. It keeps its pending (sent, unacked)
// messages with their AckWait expiry and redelivery count; it is stalled while
// pending >= max_in_flight.
//
// Delivery sends committed messages in sequence order after last_sent: from the channel's cache
// when they are there, otherwise from the store (Store::ReadMsgs, in chunks, one read in flight
// per subscription or group). Redeliveries append fields 6 and 7 to the stored bytes.
//
// Persistence is coalesced, without waiting for it (a lost ack record costs a redelivery,
// never a message). A delivery is only recorded as a pending row once it has stayed
// unacked for kPersistDelayMs, so the common case (acked quickly) writes no pending row and no
// removal. The stored last_sent is held below the oldest delivery not yet recorded (for a
// queue group, the oldest of any member), so a crash can re-send a recent delivery but never
// skip one. Just before each submission FlushDirty() records what has aged and the position;
// removals of recorded entries are written at once. Rule: stored last_sent never passes an
// unacked delivery that has no pending row.
//
// The Delivery methods live in four files by concern: stan_sub.cc (sending, acks,
// persistence), queue_group.cc (group member choice and hand-over), redelivery.cc (AckWait),
// read_damage.cc (stored messages that cannot be read).
//
// Ownership: a Channel owns its StanSubs and QueueGroups; Delivery borrows everything it is
// given, all of which outlive it. Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/stan/channel.h"
#include "server/stan/delivery_gate.h"
#include "server/bus/bus.h"
#include "server/stan/seq_map.h"
#include "server/stan/stan_clients.h"
#include "server/stan/store_writer.h"
#include "server/util/timer_queue.h"
#include "store/store.h"

namespace tandem::server {

class QueueGroup;

struct PendingMsg {
  uint64_t expiry_ms = 0;     // TimerQueue clock
  uint64_t sent_ms = 0;       // first delivery, TimerQueue clock
  uint32_t redeliveries = 0;  // in memory only, reset on restart and takeover
  bool persisted = false;     // an AddPending for it has been written
};

// Messages read from the store ahead of delivery. The last read covered [from, to]: every
// stored message of that range is in `msgs` (the others were removed by limits).
struct Prefetch {
  bool loading = false;
  uint64_t from = 0, to = 0;
  std::deque<store::MsgRecord> msgs;
};

class StanSub {
 public:
  StanSub(const store::SubRecord& rec, Channel* channel) : rec(rec), channel(channel) {}
  StanSub(const StanSub&) = delete;
  StanSub& operator=(const StanSub&) = delete;

  uint64_t id() const { return rec.id; }
  uint64_t gen = 0;  // incarnation, set by Delivery::Index; stale callbacks compare it
  bool offline() const { return rec.is_offline; }
  bool stalled() const { return pending.size() >= static_cast<size_t>(rec.max_in_flight); }

  store::SubRecord rec;  // rec.pending is not used after recovery; `pending` is the truth
  Channel* const channel;
  QueueGroup* group = nullptr;
  uint64_t ack_sid = 0;  // internal subscription on rec.ack_inbox while active
  SeqMap<PendingMsg> pending;  // sent and unacked, by seq (server/stan/seq_map.h)
  // Deliverable once the SubscriptionResponse went out; held while pending messages of a
  // resumed durable or a restart are being redelivered.
  bool deliverable = false;
  int hold_new = 0;
  TimerQueue::Id ack_timer = 0;
  uint64_t ack_timer_due = 0;
  Prefetch prefetch;  // non-queue subscriptions only
  // Coalesced persistence (see FlushDirty).
  bool dirty = false;
  bool last_sent_dirty = false;
  std::deque<uint64_t> new_pending;  // deliveries without a pending row yet, ascending
  uint64_t stored_last_sent = 0;     // the last_sent the store has (or will have)
  TimerQueue::Id persist_timer = 0;
};

class Delivery {
 public:
  static constexpr size_t kReadChunk = 512;
  static constexpr uint64_t kAckWaitSlackMs = 15;
  static constexpr uint64_t kHandOverDelayMs = 100;
  static constexpr uint64_t kPersistDelayMs = 100;

  Delivery(Bus* nc, store::Store* store, StoreWriter* writer, TimerQueue* timers,
           ClientRegistry* clients, ChannelRegistry* channels);

  // Sub index by id (every stored subscription).
  void Index(StanSub* sub) {
    sub->gen = ++gen_;
    subs_[sub->id()] = sub;
  }
  void Unindex(StanSub* sub);
  StanSub* Find(uint64_t id) const;
  StanSub* Find(uint64_t id, uint64_t gen) const;

  // Messages handed to subscribers (first deliveries and redeliveries), for monitoring.
  struct Counters {
    uint64_t msgs = 0, bytes = 0, redelivered = 0;
  };
  const Counters& counters() const { return counters_; }
  size_t count() const { return subs_.size(); }

  // --- sending (stan_sub.cc) ---
  // Sends what the channel's active subscriptions and groups can take now.
  void SendAvailable(Channel* ch);
  void SendSub(StanSub* sub);
  // Processes an Ack that arrived on `sub`'s ack inbox.
  void OnAck(StanSub* sub, uint64_t seq);
  // Persistence.
  void MarkDirty(StanSub* sub);
  // `force` records every pending delivery (graceful stop, a subscription going offline).
  void FlushDirty(bool force = false);
  void FlushSub(StanSub* sub, bool force = false);
  // Removes a pending entry, writing a RemovePending when it had been persisted.
  void DropPending(StanSub* sub, uint64_t seq);
  // Moves a pending entry to another subscription (queue groups), recorded at once.
  void MovePending(StanSub* from, StanSub* to, uint64_t seq, uint64_t expiry_ms);

  // --- queue groups (queue_group.cc) ---
  void SendGroup(QueueGroup* g);
  // The member to send to next: the first, in the group's order, of those with the fewest
  // pending messages that can take one. Changes nothing (callers may only be asking).
  StanSub* FindBest(QueueGroup* g, bool for_redelivery, StanSub* exclude);
  // Moves `member` to the back of the group's order after it was sent a message.
  void Served(QueueGroup* g, StanSub* member);
  // Removes an active member; hands its unacked messages to the others. Returns true when the
  // group is now empty of active members.
  bool RemoveMember(QueueGroup* g, StanSub* member);

  // --- redelivery (redelivery.cc) ---
  void ArmAckTimer(StanSub* sub, uint64_t due_ms);
  void RearmAckTimer(StanSub* sub);
  // Redelivers every pending message now (restart, durable resume), holding new messages back
  // until all have been sent.
  void RedeliverAll(StanSub* sub);
  void CancelTimers(StanSub* sub);

  // Time for timestamps, overridable by tests.
  int64_t NowNs() const;
  // After Stop nothing is sent any more (reads completing during shutdown are dropped).
  void Stop() {
    stopped_ = true;
    gate_.Stop();
  }

  // --- interest gate (delivery_gate.cc) ---
  // Why a subscription waits for its inbox to have interest (DeliveryGate reason bits).
  static constexpr uint32_t kGateSend = 1, kGateRedeliverAll = 2, kGateAckTimer = 4;
  // True when `sub` may be sent to now; otherwise `reason` resumes when it may.
  bool GateOpen(StanSub* sub, uint32_t reason);
  const DeliveryGate& gate() const { return gate_; }

 private:
  void Publish(StanSub* sub, uint64_t seq, std::string_view data, bool redelivery);
  void DeliverNew(StanSub* sub, uint64_t seq, std::string_view data);
  // The committed message `seq` of `ch`, from the cache or `pf`; advances *seq over messages
  // removed by limits. nullptr when it must be read first (a read is then started) or when
  // nothing is available.
  const std::string* NextMsg(Channel* ch, Prefetch* pf, uint64_t* seq, bool* need_read);
  // Reads from the store into the Prefetch that `locate` returns (nullptr when its owner is
  // gone), then calls `resume`.
  void StartRead(Channel* ch, Prefetch* pf, uint64_t from, std::function<Prefetch*()> locate,
                 std::function<void()> resume);
  void OnAckTimer(uint64_t sub_id, uint64_t gen);
  // A read of `ch`'s stored messages [from, to] failed: reported once per channel, counted, and
  // the range is not read again (read_damage.cc).
  void ReadFailed(Channel* ch, uint64_t from, uint64_t to, const Status& s);
  // True when `seq` of `ch` lies in its unreadable range.
  static bool Damaged(const Channel* ch, uint64_t seq);
  // Redelivers the pending `seqs`; with `all` (restart, resume) to the same subscription and
  // releasing its hold on new messages at the end.
  void Redeliver(StanSub* sub, std::vector<uint64_t> seqs, bool all);
  void RedeliverOne(StanSub* sub, uint64_t seq, std::string_view data, bool keep_member);
  void ReleaseHold(StanSub* sub);
  // Drops acked or recorded deliveries from the front of new_pending.
  void TrimNewPending(StanSub* sub);
  void OnGateOpen(uint64_t id, uint64_t gen, uint32_t reasons);

  Bus* const nc_;
  store::Store* const store_;
  StoreWriter* const writer_;
  TimerQueue* const timers_;
  ClientRegistry* const clients_;
  ChannelRegistry* const channels_;
  DeliveryGate gate_;
  std::unordered_map<uint64_t, StanSub*> subs_;
  std::vector<uint64_t> dirty_;
  uint64_t gen_ = 0;
  Counters counters_;
  bool stopped_ = false;
};

}  // namespace tandem::server
