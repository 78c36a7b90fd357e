// before_sleep_test.cc: the one before-sleep sequence: steps run in the order they were added,
// once per loop pass, work a step adds for a later one goes out in the same pass, nothing runs
// after Close, and the handle keeps no loop alive.
#include "server/util/before_sleep.h"

#include <uv.h>

#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace tandem::server {

TEST_SUITE("before_sleep") {
  TEST_CASE("before_sleep: steps run in the order they were added, once per loop pass") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
      BeforeSleep bs(&loop);
      std::vector<std::string> ran;
      bs.Add("first", [&] { ran.push_back("first"); });
      bs.Add("second", [&] { ran.push_back("second"); });
      bs.Add("third", [&] { ran.push_back("third"); });
      CHECK(bs.names() == std::vector<std::string>{"first", "second", "third"});
      // A prepare handle started later runs earlier in libuv: the sequence does not depend on it.
      uv_prepare_t later;
      uv_prepare_init(&loop, &later);
      later.data = &ran;
      uv_prepare_start(&later, [](uv_prepare_t* p) {
        static_cast<std::vector<std::string>*>(p->data)->push_back("other");
      });
      uv_run(&loop, UV_RUN_NOWAIT);
      std::erase(ran, std::string("other"));
      CHECK(ran == std::vector<std::string>{"first", "second", "third"});
      uv_run(&loop, UV_RUN_NOWAIT);
      std::erase(ran, std::string("other"));
      CHECK(ran.size() == 6);
      CHECK(bs.passes() == 2);
      uv_close(reinterpret_cast<uv_handle_t*>(&later), nullptr);
      bs.Close();
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }

  TEST_CASE("before_sleep: work a step adds for a later step goes out in the same pass") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
      BeforeSleep bs(&loop);
      // Like the streaming layer's commit step queuing replies that the core's flush sends.
      std::vector<int> queued, sent;
      int to_route = 2;
      bs.Add("route", [&] {
        for (; to_route > 0; --to_route) queued.push_back(to_route);
      });
      bs.Add("flush", [&] {
        sent.insert(sent.end(), queued.begin(), queued.end());
        queued.clear();
      });
      bs.Run();  // one pass, as the prepare handle runs it (see the first case)
      CHECK(queued.empty());
      CHECK(sent == std::vector<int>{2, 1});
      // What the later step adds for an earlier one waits for the next pass.
      bs.Add("late", [&] { ++to_route; });
      bs.Run();
      CHECK(to_route == 1);
      CHECK(sent.size() == 2);
      bs.Run();
      CHECK(sent == std::vector<int>{2, 1, 1});
      bs.Close();
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }

  TEST_CASE("before_sleep: nothing runs after Close, and the loop is not kept alive") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
      BeforeSleep bs(&loop);
      int runs = 0;
      bs.Add("count", [&] { ++runs; });
      CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);  // returns: the handle alone keeps nothing alive
      bs.Close();
      bs.Close();
      const int before = runs;
      bs.Run();
      CHECK(runs == before);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
}

}  // namespace tandem::server
