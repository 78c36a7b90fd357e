// stan_sub.h: the state of one streaming subscription (StanSub), its pending (sent, unacked)
// messages and its read-ahead. The delivery engine that acts on it is in delivery.h.
//
// A StanSub is one stored subscription: active (its client is connected), an offline durable,
// or the offline "shadow" of a durable queue group. It keeps its pending messages with their
// AckWait expiry and delivery count; it is stalled while the pending messages in flight (not
// those queued for a redelivery after a restart or resume) reach max_in_flight.
//
// Ownership: a Channel owns its StanSubs. Thread safety: loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "server/stan/channel.h"
#include "server/stan/pending_msg.h"
#include "server/stan/seq_map.h"
#include "server/util/timer_queue.h"
#include "store/store.h"

namespace tandem::server {

class StanQueueGroup;

// Messages read from the store ahead of delivery. The last read covered [from, to]: every
// stored message of that range is in `msgs` (the others were removed by limits); those before
// `next` were passed over. A vector (the read's own, moved in) and an index, not a deque: in
// libstdc++ even an empty std::deque holds a heap block of about 600 bytes, which 10,000
// recovered durables paid before anything was read for them.
struct Prefetch {
  bool loading = false;
  uint64_t from = 0, to = 0;
  std::vector<store::MsgRecord> msgs;
  size_t next = 0;

  bool empty() const { return next >= msgs.size(); }
  const store::MsgRecord& front() const { return msgs[next]; }
  void pop_front() { ++next; }
  void clear() {
    // Gives the block back (live subscribers read the channel's cache, not the store).
    if (msgs.capacity() != 0) std::vector<store::MsgRecord>().swap(msgs);
    next = 0;
  }
};

class StanSub {
 public:
  StanSub(const store::SubRecord& rec, Channel* channel) : rec(rec), channel(channel) {}
  StanSub(const StanSub&) = delete;
  StanSub& operator=(const StanSub&) = delete;

  uint64_t id() const { return rec.id; }
  uint64_t gen = 0;  // incarnation, set by Delivery::Index; stale callbacks compare it
  bool offline() const { return rec.is_offline; }
  // MaxInflight counts what was sent and is unacked, not the backlog waiting to be sent again.
  bool stalled() const { return pending.size() - queued >= static_cast<size_t>(rec.max_in_flight); }

  store::SubRecord rec;  // rec.pending is not used after recovery; `pending` is the truth
  Channel* const channel;
  StanQueueGroup* group = nullptr;
  uint64_t ack_sid = 0;          // internal subscription on rec.ack_inbox while active
  uint64_t ack_conn = 0;         // the connection last allowed to ack it (session_guard.h)
  SeqMap<PendingMsg> pending;    // sent and unacked, by seq (seq_map.h, pending_msg.h)
  size_t queued = 0;             // entries of `pending` with queued set
  bool backlog = false;          // the backlog holds new messages back (hold_new) until it is sent
  bool backlog_reading = false;  // a store read for the backlog is in flight
  // Deliverable once the SubscriptionResponse went out; held while pending messages of a
  // resumed durable or a restart are being redelivered.
  bool deliverable = false;
  int hold_new = 0;
  TimerQueue::Id ack_timer = 0;
  uint64_t ack_timer_due = 0;
  Prefetch prefetch;  // non-queue subscriptions only
  // Coalesced persistence (Delivery::FlushDirty, delivery_persistence.cc).
  bool dirty = false;
  // 0, or a seq at or below every entry of `pending` that has no pending row yet (all of them
  // are first deliveries, DeliverNew); FlushSub walks `pending` from there.
  uint64_t unrecorded = 0;
  uint64_t stored_last_sent = 0;  // the last_sent the store has (or will have)
  TimerQueue::Id persist_timer = 0;
};

}  // namespace tandem::server
