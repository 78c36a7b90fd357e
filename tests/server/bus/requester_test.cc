// requester_test.cc: request/reply over a Bus (server/bus/requester.h): the reply reaches the
// caller with its payload, silence ends in a timeout, the first reply wins, and Stop drops
// what is pending without calling back.
#include "server/bus/requester.h"

#include <uv.h>

#include <optional>
#include <string>

#include <doctest/doctest.h>

#include "tests/server/stan/stan_fakes.h"

namespace tandem::server {

TEST_SUITE("requester") {
TEST_CASE("requester: a reply carries its payload; silence times out") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    test::FakeBus bus;
    TimerQueue timers(&loop);
    Requester req(&bus, &timers);
    req.Start();
    // A responder on "svc" answers "pong:<request>" to the reply subject, twice.
    bus.Subscribe("svc", "", [&](const InboundMsg& m) {
      bus.Publish(m.reply, "", "pong:" + std::string(m.payload));
      bus.Publish(m.reply, "", "late");
    });
    int calls = 0;
    std::optional<std::string> got;
    req.Request("svc", "ping", 100, [&](const InboundMsg* reply) {
      ++calls;
      if (reply != nullptr) got = std::string(reply->payload);
    });
    CHECK(calls == 1);
    REQUIRE(got.has_value());
    CHECK(*got == "pong:ping");

    bool timed_out = false;
    req.Request("nobody", "", 100, [&](const InboundMsg* reply) { timed_out = reply == nullptr; });
    CHECK_FALSE(timed_out);
    timers.TEST_Advance(99);
    CHECK_FALSE(timed_out);
    timers.TEST_Advance(1);
    CHECK(timed_out);

    bool called = false;
    req.Request("nobody", "", 100, [&](const InboundMsg*) { called = true; });
    req.Stop();
    timers.TEST_Advance(200);
    CHECK_FALSE(called);
    timers.Close();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}
}

}  // namespace tandem::server
