// expiry_schedule_test.cc: ExpirySchedule, the channels' max_age due times in order.
#include "server/stan/expiry_schedule.h"

#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

namespace tandem::server {

TEST_SUITE("expiry_schedule") {

TEST_CASE("expiry_schedule: channels come out earliest first, only once due") {
  ExpirySchedule s;
  CHECK(!s.earliest());
  s.Set(3, 300);
  s.Set(1, 100);
  s.Set(2, 200);
  s.Set(4, 200);  // same due time as channel 2: both come out
  CHECK(s.size() == 4);
  CHECK(*s.earliest() == 100);
  CHECK(s.TakeDue(99).empty());
  CHECK(s.TakeDue(100) == std::vector<int64_t>{1});
  CHECK(s.TakeDue(250) == std::vector<int64_t>{2, 4});
  CHECK(!s.scheduled(2));
  CHECK(*s.earliest() == 300);
  CHECK(s.TakeDue(1000) == std::vector<int64_t>{3});
  CHECK(s.size() == 0);
  CHECK(!s.earliest());
}

TEST_CASE("expiry_schedule: Set moves a channel either way, Advance only earlier") {
  ExpirySchedule s;
  s.Set(1, 500);
  s.Set(2, 400);
  s.Set(1, 100);  // a message that expires sooner: moved up
  CHECK(*s.earliest() == 100);
  s.Set(1, 900);  // the oldest message went: moved back
  CHECK(*s.due(1) == 900);
  CHECK(*s.earliest() == 400);
  s.Advance(1, 950);  // later than it is: unchanged
  CHECK(*s.due(1) == 900);
  s.Advance(1, 50);
  CHECK(*s.due(1) == 50);
  s.Advance(7, 600);  // not scheduled: added
  CHECK(*s.due(7) == 600);
  CHECK(s.size() == 3);
  CHECK(s.TakeDue(1000) == std::vector<int64_t>{1, 2, 7});
}

TEST_CASE("expiry_schedule: a removed channel never comes out") {
  ExpirySchedule s;
  s.Set(1, 100);
  s.Set(2, 200);
  s.Remove(1);
  s.Remove(9);  // unknown: ignored
  CHECK(!s.due(1));
  CHECK(s.TakeDue(1000) == std::vector<int64_t>{2});
}

TEST_CASE("expiry_schedule: ten thousand channels, each taken exactly once in order") {
  ExpirySchedule s;
  for (int64_t id = 1; id <= 10000; ++id) s.Set(id, (id * 7919) % 10007);
  int64_t last = -1;
  size_t taken = 0;
  for (int64_t now = 0; now <= 11000; now += 1000) {  // due times are 0 .. 10006
    for (int64_t id : s.TakeDue(now)) {
      int64_t due = (id * 7919) % 10007;
      CHECK(due <= now);
      CHECK(due >= last);
      last = due;
      ++taken;
    }
  }
  CHECK(taken == 10000);
  CHECK(s.size() == 0);
}

}  // TEST_SUITE

}  // namespace tandem::server
