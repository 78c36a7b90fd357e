// seq_map_test.cc: SeqMap against std::map on the same operations, plus its memory bound.
#include "server/stan/seq_map.h"

#include "server/stan/pending_msg.h"

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include <doctest/doctest.h>

namespace tandem::server {
namespace {

struct Val {
  int x = 0;
};

// The int a test value carries: Val's x, or a PendingMsg's expiry (which keeps the live bit).
int Get(const Val& v) { return v.x; }
void Set(Val& v, int x) { v.x = x; }
int Get(const PendingMsg& p) { return static_cast<int>(p.expiry_ms); }
void Set(PendingMsg& p, int x) { p.expiry_ms = static_cast<uint64_t>(x); }

// Same keys, same values, same order.
template <typename V>
bool SameAs(SeqMap<V>& m, const std::map<uint64_t, int>& ref) {
  if (m.size() != ref.size() || m.empty() != ref.empty()) return false;
  auto r = ref.begin();
  for (auto& [seq, v] : m) {
    if (r == ref.end() || r->first != seq || r->second != Get(v)) return false;
    ++r;
  }
  return r == ref.end();
}

}  // namespace

TEST_SUITE("seq_map") {

TEST_CASE("seq_map: in-order adds and acks, find, count, operator[]") {
  SeqMap<Val> m;
  CHECK(m.empty());
  for (uint64_t s = 1; s <= 10; ++s) m[s].x = static_cast<int>(s * 10);
  CHECK(m.size() == 10);
  CHECK(m.count(5) == 1);
  CHECK(m.count(11) == 0);
  REQUIRE(m.find(7) != m.end());
  CHECK(m.find(7)->second.x == 70);
  CHECK(m.find(0) == m.end());
  m.erase(m.find(1));
  m.erase(m.find(2));
  CHECK(m.begin()->first == 3);
  CHECK(m.slot_count() == 8);  // dead slots at the front are dropped at once
  m[5].x = 55;                 // existing entry: no new slot
  CHECK(m.size() == 8);
  CHECK(m.find(5)->second.x == 55);
}

TEST_CASE("seq_map: a hole in the middle is skipped and revived") {
  SeqMap<Val> m;
  for (uint64_t s = 1; s <= 5; ++s) m[s].x = 1;
  CHECK(m.erase(3) == 1);
  CHECK(m.erase(3) == 0);
  CHECK(m.count(3) == 0);
  std::vector<uint64_t> seen;
  for (auto& [seq, v] : m) seen.push_back(seq);
  CHECK(seen == std::vector<uint64_t>{1, 2, 4, 5});
  m[3].x = 9;  // revived as a fresh value
  CHECK(m.size() == 5);
  CHECK(m.find(3)->second.x == 9);
}

TEST_CASE("seq_map: inserting below the back keeps the order") {
  SeqMap<Val> m;
  m[10].x = 10;
  m[20].x = 20;
  m.erase(10);
  m[30].x = 30;
  m[15].x = 15;  // below the back, absent
  m[5].x = 5;    // below the front
  std::vector<uint64_t> seen;
  for (auto& [seq, v] : m) {
    seen.push_back(seq);
    CHECK(v.x == static_cast<int>(seq));
  }
  CHECK(seen == std::vector<uint64_t>{5, 15, 20, 30});
}

TEST_CASE("seq_map: one message never acked does not keep every later slot") {
  SeqMap<Val> m;
  m[1].x = 1;  // stays unacked
  for (uint64_t s = 2; s <= 100000; ++s) {
    m[s].x = 2;
    m.erase(s);
  }
  CHECK(m.size() == 1);
  CHECK(m.slot_count() <= 2);
  for (uint64_t s = 100001; s <= 100400; ++s) m[s].x = 3;
  for (uint64_t s = 100001; s <= 100400; s += 2) m.erase(s);  // every other one acked
  CHECK(m.size() == 201);
  CHECK(m.slot_count() <= 2 * m.size() + 1);
}

// Random adds, acks (mostly of the oldest), hand-overs below the back and lookups on `m` and a
// std::map; max_gap 0: consecutive sequences (a plain subscription), else gaps (a queue member).
template <typename V>
void RandomOpsAgree(uint64_t max_gap) {
  std::mt19937_64 rng(12345);
  SeqMap<V> m;
  std::map<uint64_t, int> ref;
  uint64_t next = 1;
  for (int step = 0; step < 20000; ++step) {
    int op = static_cast<int>(rng() % 10);
    if (op < 4) {  // a new delivery
      int v = static_cast<int>(rng() % 1000);
      Set(m[next], v);
      ref[next] = v;
      next += 1 + (max_gap > 0 ? rng() % max_gap : 0);
    } else if (op < 8 && !ref.empty()) {  // an ack, mostly of the oldest
      auto it = ref.begin();
      if (op >= 6) std::advance(it, static_cast<long>(rng() % ref.size()));
      uint64_t seq = it->first;
      ref.erase(it);
      REQUIRE(m.find(seq) != m.end());
      m.erase(m.find(seq));
    } else if (op == 8) {  // a hand-over from another member: any seq below next
      uint64_t seq = 1 + rng() % next;
      int v = static_cast<int>(rng() % 1000);
      Set(m[seq], v);
      ref[seq] = v;
    } else if (op == 9 && !ref.empty() && rng() % 2 == 0) {  // lower_bound
      uint64_t seq = rng() % (next + 2);
      auto mi = m.lower_bound(seq);
      auto ri = ref.lower_bound(seq);
      REQUIRE((mi == m.end()) == (ri == ref.end()));
      if (ri != ref.end()) CHECK(mi->first == ri->first);
    } else {  // lookups
      uint64_t seq = rng() % (next + 2);
      CHECK(m.count(seq) == ref.count(seq));
    }
    if (step % 97 == 0) REQUIRE(SameAs(m, ref));
  }
  CHECK(SameAs(m, ref));
}

TEST_CASE("seq_map: random operations agree with std::map") {
  SUBCASE("consecutive") { RandomOpsAgree<Val>(0); }
  SUBCASE("sparse") { RandomOpsAgree<Val>(3); }
  SUBCASE("consecutive, live bit in the value") { RandomOpsAgree<PendingMsg>(0); }
  SUBCASE("sparse, live bit in the value") { RandomOpsAgree<PendingMsg>(3); }
}

TEST_CASE("seq_map: a value with a spare bit keeps the live flag, and a slot is 24 bytes") {
  static_assert(KeepsSeqMapLiveBit<PendingMsg>);
  static_assert(!KeepsSeqMapLiveBit<Val>);
  CHECK(sizeof(SeqMapSlot<PendingMsg>) == 24);
  SeqMap<PendingMsg> m;
  for (uint64_t s = 1; s <= 200; ++s) m[s].expiry_ms = s;
  m[50] = PendingMsg(7, 7, 2, true);  // assigning a whole entry (recovery does) keeps it live
  CHECK(m.count(50) == 1);
  CHECK(m.find(50)->second.redeliveries() == 2);
  for (uint64_t s = 1; s <= 200; s += 2) CHECK(m.erase(s) == 1);  // holes in the middle
  CHECK(m.size() == 100);
  CHECK(m.count(51) == 0);
  m[51].expiry_ms = 99;  // revived: a fresh value, live again
  CHECK(m.find(51)->second.expiry_ms == 99);
  CHECK(m.find(51)->second.redeliveries() == 0);
  std::vector<uint64_t> seen;
  for (auto& [seq, p] : m) {
    CHECK(p.seq_map_live());
    seen.push_back(seq);
  }
  CHECK(seen.size() == 101);
  CHECK(seen.front() == 2);
  CHECK(seen.back() == 200);
  // Dead slots are compacted away as with a separate flag.
  for (uint64_t s = 2; s <= 190; s += 2) m.erase(s);
  CHECK(m.size() == 6);
  CHECK(m.slot_count() <= 2 * m.size() + 64);
  m[5] = PendingMsg(1, 1, 0, false);  // below the back and absent: inserted, live
  CHECK(m.count(5) == 1);
  CHECK(m.size() == 7);
}

TEST_CASE("seq_map: an empty map holds no deque until the first insert, and clear gives it back") {
  SeqMap<Val> m;
  CHECK(!m.allocated());
  // Reads of an empty map allocate nothing.
  CHECK(m.find(5) == m.end());
  CHECK(m.count(5) == 0);
  CHECK(m.lower_bound(5) == m.end());
  CHECK(m.begin() == m.end());
  const SeqMap<Val>& cm = m;
  CHECK(cm.begin() == cm.end());
  CHECK(m.erase(5) == 0);
  CHECK(!m.allocated());

  m[7].x = 70;
  CHECK(m.allocated());
  CHECK(m.find(7)->second.x == 70);
  m.erase(7);
  CHECK(m.empty());
  m[8].x = 80;  // kept while in use: a subscription's map empties and fills all the time
  m.clear();
  CHECK(!m.allocated());
  CHECK(m.begin() == m.end());
  m[9].x = 90;
  CHECK(m.size() == 1);
  CHECK(m.begin()->first == 9);

  SeqMap<Val> moved = std::move(m);
  CHECK(moved.size() == 1);
  CHECK(moved.find(9)->second.x == 90);
}

}  // TEST_SUITE

}  // namespace tandem::server
