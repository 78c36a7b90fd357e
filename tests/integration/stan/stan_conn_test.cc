// stan_conn_test.cc: client liveness (duplicate-ID check, heartbeats, pings) against the real
// binary: a client whose heartbeat inbox is dead is replaced by a new connect with its ID after
// the 500 ms check, and then learns it from its pings; a client that stops answering heartbeats is
// closed after hb_fail_count misses.
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "server/stan/stan_protocol.pb.h"
#include "tests/integration/stan/stan_fixture.h"

namespace tandem::test {
namespace {

// A raw connection whose requests wait up to 3 s, with the two exchanges these cases need.
class Raw : public RawNatsConn {
 public:
  std::string Request(const std::string& subject, const std::string& payload, bool* ok) {
    return RawNatsConn::Request(subject, payload, ok, 3000);
  }
  // Registers `id` with a heartbeat inbox nobody answers.
  pb::ConnectResponse RegisterDead(const std::string& id) {
    pb::ConnectRequest req;
    req.set_clientid(id);
    req.set_heartbeatinbox("_INBOX.dead." + id);
    req.set_protocol(1);
    req.set_connid("conn-" + id);
    bool ok = false;
    pb::ConnectResponse resp;
    REQUIRE(
        resp.ParseFromString(Request("_STAN.discover.test-cluster", req.SerializeAsString(), &ok)));
    REQUIRE(ok);
    REQUIRE(resp.error() == "");
    return resp;
  }
  std::string PingError(const pb::ConnectResponse& resp, const std::string& id) {
    pb::Ping ping;
    ping.set_connid("conn-" + id);
    bool ok = false;
    pb::PingResponse pr;
    std::string out = Request(resp.pingrequests(), ping.SerializeAsString(), &ok);
    REQUIRE(ok);
    REQUIRE(pr.ParseFromString(out));
    return pr.error();
  }
};

}  // namespace

TEST_SUITE("stan_conn") {
  TEST_CASE("stan_conn: a dead client is replaced by a new connect with its ID") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    Raw raw;
    REQUIRE(raw.Connect(srv.url()));
    pb::ConnectResponse resp = raw.RegisterDead("ghost");
    CHECK(raw.PingError(resp, "ghost") == "");
    auto start = std::chrono::steady_clock::now();
    StanConn sc;
    REQUIRE(sc.Connect(srv.url(), "ghost") == NATS_OK);
    CHECK(std::chrono::steady_clock::now() - start >= 450ms);  // the liveness check waited
    CHECK(raw.PingError(resp, "ghost") == "client has been replaced or is no longer registered");
    CHECK(sc.Publish("after", "x") == NATS_OK);
  }

  TEST_CASE("stan_conn: a client that misses heartbeats is closed") {
    StanServerProc srv;
    REQUIRE(
        srv.Start("streaming:\n"
                  "  hb_interval: 100ms\n"
                  "  hb_timeout: 100ms\n"
                  "  hb_fail_count: 2\n"));
    Raw raw;
    REQUIRE(raw.Connect(srv.url()));
    pb::ConnectResponse resp = raw.RegisterDead("silent");
    // A libnats client answers its heartbeats and stays.
    StanConn live;
    REQUIRE(live.Connect(srv.url(), "live") == NATS_OK);
    std::string err;
    auto end = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < end) {
      err = raw.PingError(resp, "silent");
      if (!err.empty()) break;
      std::this_thread::sleep_for(50ms);
    }
    CHECK(err == "client has been replaced or is no longer registered");
    CHECK(live.Publish("still", "here") == NATS_OK);
  }
}

}  // namespace tandem::test
