// pending_msg_test.cc: PendingMsg's 16-byte encoding: the send time's serial arithmetic across
// the 2^32 ms boundary, the saturating delivery count, and bits that do not disturb each other.
#include "server/stan/pending_msg.h"

#include <cstdint>

#include <doctest/doctest.h>

namespace tandem::server {

TEST_SUITE("pending_msg") {

TEST_CASE("pending_msg: the age is exact across the 2^32 ms boundary of the send time") {
  const uint64_t wrap = uint64_t{1} << 32;
  PendingMsg p;
  p.set_sent(wrap - 10);  // the low 32 bits are near their top
  CHECK(p.age_ms(wrap - 10) == 0);
  CHECK(p.age_ms(wrap - 1) == 9);
  CHECK(p.age_ms(wrap) == 10);
  CHECK(p.age_ms(wrap + 90) == 100);  // kPersistDelayMs past the send, after the wrap
  // Far from zero (a loop clock days or months in): only the difference counts.
  p.set_sent(7 * wrap + 5);
  CHECK(p.age_ms(7 * wrap + 5) == 0);
  CHECK(p.age_ms(7 * wrap + 104) == 99);
  p.set_sent(9 * wrap - 1);
  CHECK(p.age_ms(9 * wrap + 99) == 100);
  // The largest age it tells apart: 2^32 - 1 ms (49.7 days); one more reads as 0 (the rule at
  // the top of pending_msg.h).
  CHECK(p.age_ms(9 * wrap - 1 + (wrap - 1)) == wrap - 1);
  CHECK(p.age_ms(9 * wrap - 1 + wrap) == 0);
}

TEST_CASE("pending_msg: the send time carries to another entry unchanged") {
  const uint64_t wrap = uint64_t{1} << 32;
  PendingMsg from, to;
  from.set_sent(3 * wrap - 40);
  to.set_sent_bits(from.sent_bits());
  CHECK(to.age_ms(3 * wrap + 60) == 100);
}

TEST_CASE("pending_msg: the delivery count saturates at 2^29 - 1") {
  PendingMsg p;
  CHECK(p.redeliveries() == 0);
  p.add_redelivery();
  CHECK(p.redeliveries() == 1);
  p.set_redeliveries(PendingMsg::kMaxRedeliveries - 1);
  p.add_redelivery();
  CHECK(p.redeliveries() == PendingMsg::kMaxRedeliveries);
  p.add_redelivery();  // saturated: stays, never wraps to 0
  CHECK(p.redeliveries() == PendingMsg::kMaxRedeliveries);
  p.set_redeliveries(UINT32_MAX);  // a stored count beyond the bits
  CHECK(p.redeliveries() == PendingMsg::kMaxRedeliveries);
  p.set_redeliveries(1u << 29);  // one past: not truncated to 0
  CHECK(p.redeliveries() == PendingMsg::kMaxRedeliveries);
  CHECK(PendingMsg(1, 2, 1u << 29, true).redeliveries() == PendingMsg::kMaxRedeliveries);
}

TEST_CASE("pending_msg: each field keeps its own bits") {
  PendingMsg p(/*expiry=*/UINT64_MAX - 1, /*now=*/0xFFFFFFFFu, PendingMsg::kMaxRedeliveries,
               /*recorded=*/true);
  CHECK(p.expiry_ms == UINT64_MAX - 1);
  CHECK(p.sent_bits() == 0xFFFFFFFFu);
  CHECK(p.persisted());
  CHECK_FALSE(p.queued());
  CHECK_FALSE(p.seq_map_live());
  p.set_queued(true);
  p.set_seq_map_live(true);
  CHECK(p.redeliveries() == PendingMsg::kMaxRedeliveries);
  CHECK(p.persisted());
  p.set_persisted(false);
  p.set_redeliveries(0);
  CHECK(p.queued());
  CHECK(p.seq_map_live());
  CHECK_FALSE(p.persisted());
  CHECK(p.sent_bits() == 0xFFFFFFFFu);
  CHECK(p.expiry_ms == UINT64_MAX - 1);
  CHECK(sizeof(PendingMsg) == 16);
}

TEST_CASE("pending_msg: assignment leaves the target's live bit (it belongs to the slot)") {
  PendingMsg live, fresh(5, 6, 3, true);
  live.set_seq_map_live(true);
  live = fresh;
  CHECK(live.seq_map_live());
  CHECK(live.redeliveries() == 3);
  CHECK(live.expiry_ms == 5);
  PendingMsg dead;
  PendingMsg other;
  other.set_seq_map_live(true);
  dead = other;
  CHECK_FALSE(dead.seq_map_live());
}

}  // TEST_SUITE

}  // namespace tandem::server
