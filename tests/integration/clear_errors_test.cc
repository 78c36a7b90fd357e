// clear_errors_test.cc: small cases where tandem's errors and logs must say the right thing,
// through the real binary: a CONNECT whose strings are not valid UTF-8 is accepted as
// nats-server accepts it (bad bytes become U+FFFD, shown as such in /connz); host names in
// address options are resolved when the configuration is read; undecodable streaming protobufs
// leave no raw `[libprotobuf` lines in the log; a standalone instance never logs "degraded".
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "server/stan/stan_protocol.pb.h"
#include "server/monitor/status_command.h"
#include "tests/integration/stan/stan_fixture.h"
#include "tests/support/tandem_process.h"

namespace tandem::test {
namespace {

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// /connz of the instance whose monitoring port is `http_port`, parsed.
nlohmann::json Connz(int http_port) {
  Result<server::HttpReply> r = server::HttpGet("127.0.0.1", http_port, "/connz", 5000);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  REQUIRE(r->status == 200);
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), "/connz is not JSON: " << r->body);
  return j;
}

}  // namespace

TEST_SUITE("clear errors") {
  TEST_CASE("errors: a CONNECT with invalid UTF-8 is accepted, the bad bytes shown as U+FFFD") {
    int port = FreePort();
    int http_port = FreePort();
    TandemProcess p;
    REQUIRE(p.Start({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--http",
                     "127.0.0.1:" + std::to_string(http_port), "--store", "data"}));
    REQUIRE(p.WaitForPort(port));

    LineClient c;
    REQUIRE(c.Connect(port));
    auto info = c.ReadLine();
    REQUIRE(info.has_value());
    CHECK(info->rfind("INFO ", 0) == 0);
    // Raw bytes 0xff 0xfe and a truncated two-byte sequence at the end of the name, a lone
    // continuation byte in lang, and a lone surrogate escape in version.
    REQUIRE(
        c.Send("CONNECT {\"verbose\":true,\"name\":\"ab\xff\xfe"
               "cd\xc3\",\"lang\":\"x\x80\","
               "\"version\":\"v\\ud800\"}\r\nPING\r\n"));
    auto ok = c.ReadLine();
    INFO("log: ", p.Log());
    REQUIRE(ok.has_value());
    CHECK(*ok == "+OK");
    CHECK(c.ReadLine() == "PONG");
    // Still a working connection.
    REQUIRE(c.Send("SUB s 1\r\nPUB s 2\r\nhi\r\n"));
    CHECK(c.ReadLine() == "+OK");
    CHECK(c.ReadLine() == "+OK");
    CHECK(c.ReadLine() == "MSG s 1 2");
    CHECK(c.ReadLine() == "hi");

    nlohmann::json connz = Connz(http_port);
    REQUIRE(connz["connections"].size() == 1);
    const nlohmann::json& conn = connz["connections"][0];
    CHECK(conn["name"] ==
          "ab\xef\xbf\xbd\xef\xbf\xbd"
          "cd\xef\xbf\xbd");
    CHECK(conn["lang"] == "x\xef\xbf\xbd");
    CHECK(conn["version"] == "v\xef\xbf\xbd");
    CHECK_FALSE(Contains(p.Log(), "malformed CONNECT"));
  }

  TEST_CASE("errors: host names in listen and http are resolved when the config is read") {
    int port = FreePort();
    int http_port = FreePort();
    TandemProcess p;
    REQUIRE(p.Start({"serve", "--listen", "localhost:" + std::to_string(port), "--http",
                     "localhost:" + std::to_string(http_port), "--store", "data"}));
    INFO("log: ", p.Log());
    REQUIRE(p.WaitForPort(port));
    Result<server::HttpReply> r = server::HttpGet("127.0.0.1", http_port, "/healthz", 5000);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    CHECK(r->status == 200);
    CHECK(p.Signal(SIGTERM));
    CHECK(p.WaitExit() == 0);

    // The same in the YAML file.
    TempDir dir;
    int port2 = FreePort();
    std::string cfg = dir.WriteFile("t.yaml", "listen: localhost:" + std::to_string(port2) +
                                                  "\nstore: {dir: " + dir.Join("data") + "}\n");
    TandemProcess q;
    REQUIRE(q.Start({"serve", "--config", cfg}));
    REQUIRE(q.WaitForPort(port2));
    CHECK(q.Signal(SIGTERM));
    CHECK(q.WaitExit() == 0);
  }

  TEST_CASE("errors: a host that does not resolve is a config error (exit 2, one line)") {
    // .invalid never resolves (RFC 6761), so the answer does not depend on the network.
    struct Case {
      std::string flag, key;
    } cases[] = {{"--listen", "listen"}, {"--http", "http"}};
    for (const Case& k : cases) {
      CAPTURE(k.flag);
      TandemProcess p;
      auto rc = p.Run({"serve", k.flag, "no-such-host.invalid:4222", "--store", "data"});
      std::string log = p.Log();
      INFO("log: ", log);
      REQUIRE(rc.has_value());
      CHECK(*rc == 2);
      CHECK(std::count(log.begin(), log.end(), '\n') == 1);
      CHECK(Contains(log, "tandem: config: " + k.flag + " (" + k.key + "): "));
      CHECK(Contains(log, "\"no-such-host.invalid:4222\""));
      CHECK(Contains(log, "cannot resolve no-such-host.invalid"));
    }
  }

  TEST_CASE("errors: undecodable streaming protobufs leave no raw libprotobuf lines") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    RawNatsConn rc;
    REQUIRE(rc.Connect(srv.url()));
    // A connect request whose clientID is not UTF-8 (protobuf's parser complains of this on
    // its own log), then plain garbage.
    // (Written by hand: protobuf's own serializer would check UTF-8, and log from this process.)
    std::string bytes = std::string("\x0a\x05") + "bad\xff\xfe" + "\x12\x09_INBOX.hb";
    for (const std::string& payload : {bytes, std::string("\xff\xff\xff\xff garbage")}) {
      bool ok = false;
      rc.Request("_STAN.discover.test-cluster", payload, &ok, 3000);
      CHECK(ok);  // every request gets an error reply
    }
    // The server still serves a good request after them.
    pb::ConnectRequest good;
    good.set_clientid("good");
    good.set_heartbeatinbox("_INBOX.hb.good");
    good.set_protocol(1);
    good.set_connid("conn-good");
    bool ok = false;
    std::string out = rc.Request("_STAN.discover.test-cluster", good.SerializeAsString(), &ok);
    REQUIRE(ok);
    pb::ConnectResponse resp;
    REQUIRE(resp.ParseFromString(out));
    CHECK(resp.error() == "");
    std::string log = srv.process().Log();
    INFO("log: ", log);
    CHECK_FALSE(Contains(log, "[libprotobuf"));
    CHECK_FALSE(Contains(log, "libprotobuf"));
  }

  TEST_CASE("errors: libprotobuf's complaints appear as debug lines at debug level") {
    int port = FreePort();
    TandemProcess p;
    REQUIRE(p.Start({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--store", "data",
                     "--log-level", "debug"}));
    REQUIRE(p.WaitForPort(port));
    RawNatsConn rc;
    REQUIRE(rc.Connect("nats://127.0.0.1:" + std::to_string(port)));
    std::string bytes = std::string("\x0a\x05") + "bad\xff\xfe";  // clientID, not UTF-8
    bool ok = false;
    rc.Request("_STAN.discover.test-cluster", bytes, &ok, 3000);
    CHECK(ok);
    INFO("log: ", p.Log());
    CHECK(p.WaitForLog(" debug protobuf: "));
    CHECK_FALSE(Contains(p.Log(), "[libprotobuf"));
  }

  TEST_CASE("errors: a standalone instance never logs degraded: it has no standbys to lose") {
    int port = FreePort();
    TandemProcess p;
    // A short heartbeat makes the "no standby" window (heartbeat x missed) 30 ms; wait far past.
    TempDir dir;
    std::string cfg = dir.WriteFile("t.yaml", "ft: {heartbeat: 10ms, missed: 3}\n");
    REQUIRE(p.Start({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--store", "data",
                     "--config", cfg}));
    REQUIRE(p.WaitForPort(port));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    CHECK(p.Signal(SIGTERM));
    CHECK(p.WaitExit() == 0);
    INFO("log: ", p.Log());
    CHECK(Contains(p.Log(), "stopped cleanly"));
    CHECK_FALSE(Contains(p.Log(), "degraded"));
  }

}  // TEST_SUITE
}  // namespace tandem::test
