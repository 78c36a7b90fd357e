// delivery.h: the delivery engine of the streaming layer: what is sent to which subscription,
// when, and what of it is persisted.
//
// What it owns: the index of every stored subscription by id (with an incarnation number, so
// that callbacks of a closed or resumed subscription are ignored), the AckWait timers, the
// coalesced persistence of positions and pending sets, the interest gate (delivery_gate.h) and
// the delivery counters. It borrows the subscriptions (StanSub, stan_sub.h), the queue groups
// (queue_group.h), the channels and their caches, the Bus, the store and the StoreWriter.
//
// Invariants:
// - Only committed messages are sent (up to Channel::committed_seq), in sequence order after
//   last_sent: from the channel's cache when they are there, otherwise from the store
//   (Store::ReadMsgs, in chunks of kReadChunk, one read in flight per subscription or group).
//   Redeliveries append fields 6 and 7 to the stored bytes. A message removed by limits is
//   skipped; an unreadable range stops the channel's subscriptions before it.
// - MaxInflight: a subscription with max_in_flight pending (sent, unacked) messages is stalled
//   and gets no new message until an ack frees a slot; AckWait redeliveries ignore the limit
//   (they are in flight already), the backlog of a restart or a resume respects it.
// - Bounded redelivery: a message sent max_deliveries times to a subscription without an ack
//   leaves its pending set when its AckWait passes, dead-lettered or dropped
//   (redelivery_policy.h); each further redelivery may wait longer (redelivery_backoff). A queue
//   group sends each message to its best member (fewest pending, not stalled, heartbeats fine)
//   and stops while every member is stalled.
// - AckWait: each subscription has one deadline at its earliest pending expiry; an unacked
//   message is redelivered (redelivered = true, redeliveryCount + 1) when it passes, and again
//   every AckWait (stretched by the channel's backoff) after that.
// - Persistence is coalesced, without waiting for it (a lost ack record costs a redelivery,
//   never a message): a delivery gets a pending row only once it stayed unacked for
//   kPersistDelayMs; the stored last_sent never passes an unacked delivery that has no pending
//   row. FlushDirty records what aged just before each batch is sealed, at most
//   kPersistPerBatch rows a batch (the rest wait, their position held below them).
// - Nothing is published into the void: a subscription whose inbox has no interest waits
//   (bounded) at the interest gate. Nor into a connection that stopped reading: while the Bus
//   reports its inbox backlogged, the subscription waits at the gate until it drains (its
//   messages stay in the store; checked every kGateCheckBytes of a run of sends).
// - Takeover and restart: the new active rebuilds the state from the store. Each subscription's
//   recorded pending messages are redelivered first (RedeliverAll, within MaxInflight, with the
//   stored delivery count), new messages held back until they are sent; a delivery that had no
//   pending row yet is sent again from the stored last_sent. After Stop nothing is sent any more.
//
// The methods live in files by concern: delivery.cc (index, sending, acks, the interest gate's
// side), delivery_persistence.cc, delivery_queue_group.cc (member choice and hand-over),
// delivery_redelivery.cc (AckWait), delivery_read_damage.cc (stored messages that cannot be
// read).
//
// Ownership: borrows everything it is given, all of which outlive it. Thread safety: loop
// thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/bus/bus.h"
#include "server/stan/channel.h"
#include "server/stan/delivery_gate.h"
#include "server/stan/stan_clients.h"
#include "server/stan/stan_sub.h"
#include "server/stan/store_writer.h"
#include "server/util/timer_queue.h"
#include "store/store.h"

namespace tandem::server {

class StanQueueGroup;

class Delivery {
 public:
  static constexpr size_t kReadChunk = 512;
  static constexpr uint64_t kAckWaitSlackMs = 15;
  static constexpr uint64_t kHandOverDelayMs = 100;
  static constexpr uint64_t kPersistDelayMs = 100;
  // At most this many pending rows (AddPending) go into one batch (delivery_persistence.cc).
  static constexpr size_t kPersistPerBatch = 4096;
  // A subscription sending a run of messages asks the interest gate again (is its connection
  // backlogged?) after this many bytes: past the core's high-water mark a connection gets at
  // most this much more from one subscription.
  static constexpr size_t kGateCheckBytes = 16 * 1024;

  Delivery(Bus* nc, store::Store* store, StoreWriter* writer, TimerQueue* timers,
           ClientRegistry* clients, ChannelRegistry* channels);

  // Sub index by id (every stored subscription).
  void Index(StanSub* sub) {
    sub->gen = ++gen_;
    sub->backlog_reading = false;  // reads of the previous incarnation are ignored
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

  // --- sending and acks (delivery.cc) ---
  // Sends what the channel's active subscriptions and groups can take now.
  void SendAvailable(Channel* ch);
  void SendSub(StanSub* sub);
  // Processes an Ack that arrived on `sub`'s ack inbox.
  void OnAck(StanSub* sub, uint64_t seq);
  // --- persistence (delivery_persistence.cc) ---
  void MarkDirty(StanSub* sub);
  // `force` records every pending delivery (graceful stop, a subscription going offline);
  // otherwise at most kPersistPerBatch rows are added.
  void FlushDirty(bool force = false);
  // Adds rows for `sub`'s aged deliveries, taking them from `*budget` (none: unlimited); when
  // the budget runs out the subscription stays dirty.
  void FlushSub(StanSub* sub, bool force = false, size_t* budget = nullptr);
  // Removes a pending entry, writing a RemovePending when it had been persisted.
  void DropPending(StanSub* sub, uint64_t seq);
  // Moves a pending entry to another subscription (queue groups), recorded at once.
  void MovePending(StanSub* from, StanSub* to, uint64_t seq, uint64_t expiry_ms);

  // --- queue groups (delivery_queue_group.cc) ---
  void SendGroup(StanQueueGroup* g);
  // The member to send to next: the first, in the group's order, of those with the fewest
  // pending messages that can take one. Changes nothing (callers may only be asking).
  StanSub* FindBest(StanQueueGroup* g, bool for_redelivery, StanSub* exclude);
  // Moves `member` to the back of the group's order after it was sent a message.
  void Served(StanQueueGroup* g, StanSub* member);
  // Removes an active member; hands its unacked messages to the others. Returns true when the
  // group is now empty of active members.
  bool RemoveMember(StanQueueGroup* g, StanSub* member);

  // --- redelivery (delivery_redelivery.cc) ---
  void ArmAckTimer(StanSub* sub, uint64_t due_ms);
  void RearmAckTimer(StanSub* sub);
  // Redelivers every pending message (restart, takeover, durable resume) within MaxInflight,
  // oldest first, holding new messages back until all have been sent again.
  void RedeliverAll(StanSub* sub);
  // Sends what of the backlog fits in MaxInflight now; an ack sends more.
  void SendBacklog(StanSub* sub);
  // A message that reached its channel's max_deliveries on a subscription: `sink` appends it to
  // the channel's dead-letter channel in the current batch and returns true, or returns false
  // (none set, or it cannot be made): dropped. Called before the RemovePending, so both go in
  // one transaction.
  using DeadLetterSink = std::function<bool(Channel* from, uint64_t seq, std::string_view data)>;
  void SetDeadLetterSink(DeadLetterSink sink) { dead_letter_ = std::move(sink); }
  void CancelTimers(StanSub* sub);

  // Time for timestamps, overridable by tests.
  int64_t NowNs() const;
  // After Stop nothing is sent any more (reads completing during shutdown are dropped).
  void Stop() {
    stopped_ = true;
    gate_.Stop();
  }

  // --- interest gate (delivery.cc; the gate itself is delivery_gate.h) ---
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
  // the range is not read again (delivery_read_damage.cc).
  void ReadFailed(Channel* ch, uint64_t from, uint64_t to, const Status& s);
  // True when `seq` of `ch` lies in its unreadable range.
  static bool Damaged(const Channel* ch, uint64_t seq);
  // Redelivers the pending `seqs`; with `all` (the backlog) to the same subscription, going on
  // with the backlog when done. False when it started store reads (it finishes later).
  bool Redeliver(StanSub* sub, std::vector<uint64_t> seqs, bool all);
  // Sends `seq` again, or dead-letters it when it was sent max_deliveries times.
  void RedeliverOne(StanSub* sub, uint64_t seq, std::string_view data, bool keep_member);
  void DeadLetter(StanSub* sub, uint64_t seq, std::string_view data);
  void ReleaseHold(StanSub* sub);
  // Sends what `sub` (or its group) can take now: the backlog first.
  void Refill(StanSub* sub);
  // The first pending entry of `sub` without a row (end() when none), moving its `unrecorded`
  // cursor there.
  SeqMap<PendingMsg>::iterator FirstUnrecorded(StanSub* sub);
  void OnGateOpen(uint64_t id, uint64_t gen, uint32_t reasons);

  Bus* const nc_;
  store::Store* const store_;
  StoreWriter* const writer_;
  TimerQueue* const timers_;
  ClientRegistry* const clients_;
  ChannelRegistry* const channels_;
  DeliveryGate gate_;
  DeadLetterSink dead_letter_;
  std::unordered_map<uint64_t, StanSub*> subs_;
  std::vector<uint64_t> dirty_;
  std::vector<uint64_t> flushing_;  // FlushDirty's copy of dirty_ while it runs
  uint64_t gen_ = 0;
  Counters counters_;
  bool stopped_ = false;
};

}  // namespace tandem::server
