// prefetch_test.cc: the subscription's read-ahead (stan_sub.h, Prefetch): its front
// index, and a clear that gives the memory back.
#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

#include "server/stan/stan_sub.h"

namespace tandem::server {

TEST_SUITE("stan") {
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
