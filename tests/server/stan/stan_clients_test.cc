// stan_clients_test.cc: client IDs, lookups by clientID and connID, and server -> client
// heartbeats with failure counting (a client is closed once its misses exceed hb_fail_count)
// on a fake clock.
#include "server/stan/stan_clients.h"

#include <uv.h>

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/server/stan/stan_fakes.h"

namespace tandem::server {

TEST_SUITE("stan_clients") {
  TEST_CASE("stan_clients: client ID syntax") {
    CHECK(ClientRegistry::IsValidClientId("abc-DEF_123"));
    for (const char* bad : {"", "a.b", "a b", "a*", "é", "a/b"})
      CHECK_FALSE(ClientRegistry::IsValidClientId(bad));
  }

  TEST_CASE("stan_clients: heartbeats count failures and reset on a reply") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
      test::FakeBus nc;
      TimerQueue timers(&loop);
      Requester req(&nc, &timers);
      req.Start();
      StanOptions o;
      o.hb_interval_ms = 1000;
      o.hb_timeout_ms = 200;
      o.hb_fail_count = 2;
      ClientRegistry reg(o, &timers, &req);
      std::vector<std::string> dead;
      reg.SetOnDead([&](const std::string& id) { dead.push_back(id); });

      store::ClientRecord rec;
      rec.client_id = "c1";
      rec.hb_inbox = "hb.c1";
      rec.conn_id = "conn1";
      StanClient* c = reg.Register(rec);
      CHECK(reg.LookupByConnId("conn1") == c);
      CHECK(reg.Lookup("c1") == c);

      // A live client answers its heartbeats.
      bool alive = true;
      nc.Subscribe("hb.c1", "", [&](const InboundMsg& m) {
        if (alive) nc.Publish(m.reply, "", "");
      });
      timers.TEST_Advance(1000);
      CHECK(c->hb_failures == 0);
      alive = false;
      timers.TEST_Advance(1000);  // heartbeat sent
      timers.TEST_Advance(200);   // and missed
      CHECK(c->hb_failures == 1);
      alive = true;
      timers.TEST_Advance(1000);
      CHECK(c->hb_failures == 0);
      alive = false;
      for (int i = 0; i < 3; ++i) {
        timers.TEST_Advance(1000);
        timers.TEST_Advance(200);
      }
      CHECK(dead == std::vector<std::string>{"c1"});  // closed when failures exceed 2

      CHECK(reg.Unregister("c1"));
      CHECK(reg.Lookup("c1") == nullptr);
      CHECK(reg.LookupByConnId("conn1") == nullptr);
      CHECK_FALSE(reg.Unregister("c1"));
      req.Stop();
      timers.Close();
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
}

}  // namespace tandem::server
