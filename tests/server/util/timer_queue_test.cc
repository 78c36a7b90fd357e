// timer_queue_test.cc: many deadlines on one uv timer, driven by TEST_Advance (no sleeping).
#include "server/util/timer_queue.h"

#include <uv.h>

#include <vector>

#include <doctest/doctest.h>

namespace tandem::server {

TEST_SUITE("timer_queue") {
  TEST_CASE("timer_queue: deadlines run in order, cancelled ones never") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
      TimerQueue q(&loop);
      std::vector<int> ran;
      q.AddAfter(300, [&] { ran.push_back(3); });
      TimerQueue::Id two = q.AddAfter(200, [&] { ran.push_back(2); });
      q.AddAfter(100, [&] { ran.push_back(1); });
      CHECK(q.pending(two));
      q.Cancel(&two);
      CHECK(two == 0);
      q.TEST_Advance(150);
      CHECK(ran == std::vector<int>{1});
      q.TEST_Advance(1000);
      CHECK(ran == std::vector<int>{1, 3});
      CHECK(q.size() == 0);
      q.Close();
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }

  TEST_CASE("timer_queue: a callback may add and cancel; due-now additions wait for a pass") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
      TimerQueue q(&loop);
      int count = 0;
      TimerQueue::Id victim = q.AddAfter(50, [&] { count += 100; });
      q.AddAfter(10, [&] {
        ++count;
        q.Cancel(&victim);
        q.AddAfter(0, [&] { ++count; });
      });
      q.TEST_Advance(10);
      CHECK(count == 1);
      q.TEST_Advance(0);
      CHECK(count == 2);
      q.TEST_Advance(100);
      CHECK(count == 2);
      q.Close();
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }

  TEST_CASE("timer_queue: the uv timer fires real deadlines") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
      TimerQueue q(&loop);
      int fired = 0;
      q.AddAfter(0, [&] { ++fired; });
      q.AddAfter(1, [&] { ++fired; });
      uv_run(&loop, UV_RUN_DEFAULT);  // returns once nothing is armed
      CHECK(fired == 2);
      q.Close();
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
}

}  // namespace tandem::server
