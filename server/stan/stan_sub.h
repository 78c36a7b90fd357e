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
#include "server/stan/seq_map.h"
#include "server/util/timer_queue.h"
#include "store/store.h"

namespace tandem::server {

class StanQueueGroup;

struct PendingMsg {
  uint64_t expiry_ms = 0;  // TimerQueue clock
  uint64_t sent_ms = 0;    // first delivery, TimerQueue clock
  // Sends after the first; redeliveries + 1 is stored with the pending row (AddPending,
  // SetDeliveries), so it survives restarts and takeovers.
  uint32_t redeliveries = 0;
  bool persisted = false;  // an AddPending for it has been written
  // Recovered or resumed and not sent again yet: waits in the backlog (Delivery::SendBacklog)
  // and does not count against MaxInflight.
  bool queued = false;
};

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

// Sequences queued in ascending order and taken from the front (StanSub::new_pending). A
// vector and the index of its front rather than a std::deque, for the reason given at
// Prefetch. The taken prefix is dropped once it is at least half the vector, so memory stays
// proportional to what is queued and each sequence is moved at most once on average.
class SeqQueue {
 public:
  bool empty() const { return head_ == seqs_.size(); }
  size_t size() const { return seqs_.size() - head_; }
  uint64_t front() const { return seqs_[head_]; }
  void push_back(uint64_t seq) { seqs_.push_back(seq); }
  void pop_front() {
    if (++head_ == seqs_.size()) {
      seqs_.clear();
      head_ = 0;
    } else if (head_ >= kMinDrop && 2 * head_ >= seqs_.size()) {
      seqs_.erase(seqs_.begin(), seqs_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

 private:
  static constexpr size_t kMinDrop = 64;  // a short prefix is not worth moving the rest for
  std::vector<uint64_t> seqs_;
  size_t head_ = 0;
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
  SeqMap<PendingMsg> pending;    // sent and unacked, by seq (server/stan/seq_map.h)
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
  SeqQueue new_pending;           // deliveries without a pending row yet, ascending
  uint64_t stored_last_sent = 0;  // the last_sent the store has (or will have)
  TimerQueue::Id persist_timer = 0;
};

}  // namespace tandem::server
