// stan_sub_queues_test.cc: the subscription's front-taken containers (stan_sub.h): SeqQueue
// against std::deque on the same operations, and Prefetch's front index.
#include <cstdint>
#include <deque>
#include <random>

#include <doctest/doctest.h>

#include "server/stan/stan_sub.h"

namespace tandem::server {

TEST_SUITE("stan") {
  TEST_CASE("SeqQueue: takes from the front in order, like a deque, across its prefix drops") {
    SeqQueue q;
    std::deque<uint64_t> ref;
    CHECK(q.empty());
    std::mt19937 rng(7);
    uint64_t next = 1;
    for (int step = 0; step < 20000; ++step) {
      // Bursts of pushes and of pops, so the queue both grows past kMinDrop and drains.
      const bool push = (step / 300) % 2 == 0 ? rng() % 4 != 0 : rng() % 4 == 0;
      if (push) {
        q.push_back(next);
        ref.push_back(next);
        ++next;
      } else if (!ref.empty()) {
        REQUIRE(q.front() == ref.front());
        q.pop_front();
        ref.pop_front();
      }
      REQUIRE(q.size() == ref.size());
      REQUIRE(q.empty() == ref.empty());
      if (!ref.empty()) REQUIRE(q.front() == ref.front());
    }
  }

  TEST_CASE("SeqQueue: a long queue taken halfway keeps its order after the prefix is dropped") {
    SeqQueue q;
    for (uint64_t s = 1; s <= 1000; ++s) q.push_back(s);
    for (uint64_t s = 1; s <= 600; ++s) {
      REQUIRE(q.front() == s);
      q.pop_front();
    }
    q.push_back(1001);
    CHECK(q.size() == 401);
    for (uint64_t s = 601; s <= 1001; ++s) {
      REQUIRE(q.front() == s);
      q.pop_front();
    }
    CHECK(q.empty());
  }

  TEST_CASE("Prefetch: front walks the read's messages; clear empties it") {
    Prefetch pf;
    CHECK(pf.empty());
    std::vector<store::MsgRecord> read(3);
    for (uint64_t i = 0; i < 3; ++i) read[i].seq = 10 + 2 * i;
    pf.msgs = std::move(read);
    CHECK(pf.front().seq == 10);
    pf.pop_front();
    CHECK(pf.front().seq == 12);
    pf.pop_front();
    pf.pop_front();
    CHECK(pf.empty());
    pf.msgs.resize(2);
    pf.next = 1;
    pf.clear();
    CHECK(pf.empty());
    CHECK(pf.msgs.capacity() == 0);  // the block went back
  }
}

}  // namespace tandem::server
