// stan_owner_restart_test.cc: who may close a streaming client when its owner connection is
// not known, through the real binary with libnats: after a kill -9 and restart on the same
// store, a libnats client that reconnects and closes before it was seen (libnats drops its
// heartbeat inbox, then sends the CloseRequest) is closed, not refused; and with
// authentication, a connection of the client's own user acts for it while another user's is
// refused.
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "server/monitor/status_command.h"
#include "server/stan/stan_protocol.pb.h"
#include "tests/integration/stan/stan_fixture.h"

namespace tandem::test {
namespace {

using nlohmann::json;

constexpr char kNotOwner[] = "stan: request refused: not sent by the client's own connection";

// Client pings far apart (heartbeats too: see Monitored), so that nothing shows the server the
// client's new connection between its reconnect and its close.
natsStatus ConnectQuiet(StanConn& c, const std::string& url, const std::string& id) {
  return c.Connect(url, id, 16384, "test-cluster", 10000, /*ping_interval_s=*/120);
}

// The NATS connection's reconnect count, or -1 while it is not connected.
int64_t Reconnects(stanConnection* sc) {
  natsConnection* nc = nullptr;
  int64_t n = -1;
  if (stanConnection_GetNATSConnection(sc, &nc) == NATS_OK) {
    natsStatistics* st = nullptr;
    uint64_t reconnects = 0;
    if (natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED &&
        natsStatistics_Create(&st) == NATS_OK && natsConnection_GetStats(nc, st) == NATS_OK &&
        natsStatistics_GetCounts(st, nullptr, nullptr, nullptr, nullptr, &reconnects) == NATS_OK) {
      n = static_cast<int64_t>(reconnects);
    }
    natsStatistics_Destroy(st);
    stanConnection_ReleaseNATSConnection(sc);
  }
  return n;
}

struct Monitored {
  StanServerProc srv;
  int http = FreePort();
  std::string yaml;

  explicit Monitored(const std::string& extra = "")
      : yaml("http: 127.0.0.1:" + std::to_string(http) +
             "\nstreaming: {hb_interval: 120s}\n" + extra) {
    REQUIRE(srv.Start(yaml));
    REQUIRE_MESSAGE(srv.process().WaitForPort(http), srv.process().Log());
  }
  size_t Clients() {
    Result<server::HttpReply> r =
        server::HttpGet("127.0.0.1", http, "/streaming/clientsz", 5000);
    REQUIRE(r.ok());
    REQUIRE(r.value().status == 200);
    return json::parse(r.value().body)["clients"].size();
  }
};

}  // namespace

TEST_SUITE("stan_owner_restart") {
  TEST_CASE("stan_owner_restart: after a restart, a reconnected client's close is accepted") {
    Monitored m;
    StanConn c;
    REQUIRE(ConnectQuiet(c, m.srv.url(), "quiet") == NATS_OK);
    REQUIRE(c.Publish("orders", "1") == NATS_OK);
    REQUIRE(Reconnects(c) == 0);

    REQUIRE(m.srv.Restart9(m.yaml));
    REQUIRE_MESSAGE(m.srv.process().WaitForPort(m.http), m.srv.process().Log());
    for (int i = 0; i < 500 && Reconnects(c) < 1; ++i) std::this_thread::sleep_for(20ms);
    REQUIRE(Reconnects(c) == 1);
    REQUIRE(m.Clients() == 1);  // registered from the store, its owner not known

    // libnats unsubscribes the heartbeat inbox, then sends the CloseRequest.
    CHECK_MESSAGE(c.Close() == NATS_OK, LastError());
    CHECK(m.Clients() == 0);
  }

  TEST_CASE("stan_owner_restart: with users, the owner's user acts for the client") {
    Monitored m(R"(authorization:
  users:
    - {user: alice, password: apw}
    - {user: mallory, password: mpw}
)");
    auto url = [&](const char* user, const char* pass) {
      return std::string("nats://") + user + ":" + pass + "@127.0.0.1:" +
             std::to_string(m.srv.port());
    };
    StanConn c;
    REQUIRE(ConnectQuiet(c, url("alice", "apw"), "alice-client") == NATS_OK);

    pb::CloseRequest close;
    close.set_clientid("alice-client");
    auto close_error = [&](RawNatsConn& rc) {
      bool ok = false;
      std::string out = rc.Request("_STAN.close.test-cluster", close.SerializeAsString(), &ok);
      REQUIRE(ok);
      pb::CloseResponse resp;
      REQUIRE(resp.ParseFromString(out));
      return resp.error();
    };
    RawNatsConn mallory;  // holds none of the client's inboxes, another user
    REQUIRE(mallory.Connect(url("mallory", "mpw")));
    CHECK(close_error(mallory) == kNotOwner);
    CHECK(m.Clients() == 1);
    RawNatsConn alice;  // holds none of them either, but is the owner's user
    REQUIRE(alice.Connect(url("alice", "apw")));
    CHECK(close_error(alice) == "");
    CHECK(m.Clients() == 0);
  }
}

}  // namespace tandem::test
