// pending_msg.h: PendingMsg, one pending (sent, unacked) delivery of a streaming subscription,
// in 16 bytes.
//
// A subscription holds one per unacked delivery, up to its MaxInflight, so in a fan-out these
// entries are most of the server's memory (1 -> 100 subscribers: hundreds of thousands at once).
// The encoding:
// - expiry_ms: the AckWait deadline, full 64-bit TimerQueue time (an AckWait may be 2^31 s).
// - The first send's time as its low 32 bits. It is only asked for the age of a delivery that
//   has no pending row yet, by serial arithmetic: (now - sent) mod 2^32, exact for ages below
//   2^32 ms (49.7 days). Such a delivery gets its row kPersistDelayMs after its send, or with one
//   of the next batches when their row budget ran out, so none gets near that age; were one
//   older, it would look younger and get its row later, its stored position held below it
//   meanwhile (delivery.h), so nothing is lost either way.
// - redeliveries in 29 bits, saturating at kMaxRedeliveries (2^29 - 1: at the shortest AckWait,
//   1 s, 17 years of redeliveries); the stored delivery count is redeliveries + 1.
// - persisted and queued as bits, and the live bit of the SeqMap slot that holds the entry
//   (seq_map.h: a value with a spare bit keeps it, so a slot is seq + 16 bytes, no padding).
//   The live bit belongs to the slot: assigning a PendingMsg leaves the target's as it was.
#pragma once

#include <algorithm>
#include <cstdint>

namespace tandem::server {

class PendingMsg {
 public:
  static constexpr uint32_t kMaxRedeliveries = (1u << 29) - 1;

  PendingMsg() = default;
  // A recorded entry (recovery): sent at `now`, due at `expiry_ms`, sent `redeliveries` + 1
  // times before.
  PendingMsg(uint64_t expiry, uint64_t now, uint32_t redeliveries, bool recorded)
      : expiry_ms(expiry), sent_(static_cast<uint32_t>(now)), persisted_(recorded ? 1 : 0) {
    set_redeliveries(redeliveries);
  }
  PendingMsg(const PendingMsg& o) = default;
  PendingMsg& operator=(const PendingMsg& o) {
    const uint32_t live = live_;
    expiry_ms = o.expiry_ms;
    sent_ = o.sent_;
    redeliveries_ = o.redeliveries_;
    persisted_ = o.persisted_;
    queued_ = o.queued_;
    live_ = live;
    return *this;
  }

  uint64_t expiry_ms = 0;  // TimerQueue clock

  // The first send: `now` in TimerQueue time; its age at `now` (see the top for the range).
  void set_sent(uint64_t now) { sent_ = static_cast<uint32_t>(now); }
  uint64_t age_ms(uint64_t now) const { return static_cast<uint32_t>(now - sent_); }
  // The send time as stored, to carry it to another subscription's entry unchanged.
  uint32_t sent_bits() const { return sent_; }
  void set_sent_bits(uint32_t bits) { sent_ = bits; }

  // Sends after the first; redeliveries + 1 is stored with the pending row (AddPending,
  // SetDeliveries), so it survives restarts and takeovers. Saturates at kMaxRedeliveries.
  uint32_t redeliveries() const { return redeliveries_; }
  void set_redeliveries(uint32_t n) { redeliveries_ = std::min(n, kMaxRedeliveries); }
  void add_redelivery() {
    if (redeliveries_ < kMaxRedeliveries) ++redeliveries_;
  }

  // An AddPending for it has been written.
  bool persisted() const { return persisted_ != 0; }
  void set_persisted(bool v) { persisted_ = v ? 1 : 0; }
  // Recovered or resumed and not sent again yet: waits in the backlog (Delivery::SendBacklog)
  // and does not count against MaxInflight.
  bool queued() const { return queued_ != 0; }
  void set_queued(bool v) { queued_ = v ? 1 : 0; }

  // SeqMap's live bit (seq_map.h).
  bool seq_map_live() const { return live_ != 0; }
  void set_seq_map_live(bool live) { live_ = live ? 1 : 0; }

 private:
  uint32_t sent_ = 0;  // low 32 bits of the first send's TimerQueue time
  uint32_t redeliveries_ : 29 = 0;
  uint32_t persisted_ : 1 = 0;
  uint32_t queued_ : 1 = 0;
  uint32_t live_ : 1 = 0;
};

static_assert(sizeof(PendingMsg) == 16, "a pending entry is 16 bytes (see the top)");

}  // namespace tandem::server
