// core_wire_test.cc: the NATS core at the byte level over raw sockets against the real binary:
// INFO contents, verbose and pedantic modes, -ERR texts and which ones close (as nats-server),
// bad input of every kind while another client keeps working, connection limit, server pings.
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/support/core_fixture.h"
#include "tests/support/wire_client.h"

namespace tandem::test {
namespace {

// Sends `bytes` (REQUIREd to go out), then CHECKs that what comes back matches `re`.
void CheckReply(WireClient& c, const std::string& bytes, const std::string& re) {
  CAPTURE(bytes);
  REQUIRE(c.Send(bytes));
  CHECK(c.Expect(re));
}

// A second client that must keep working while another one misbehaves.
void CheckBystander(WireClient& c, const std::string& tag) {
  CAPTURE(tag);
  CheckReply(c, "PUB by.stander 2\r\nok\r\nPING\r\n", "^MSG by.stander 1 2\r\nok\r\nPONG\r\n$");
}

}  // namespace

TEST_SUITE("core_wire") {
  TEST_CASE("core_wire: INFO is sent at once and is complete") {
    CoreServer srv;
    REQUIRE(srv.Start(
        "  server_name: wire-test\n  connect_urls: [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n"));
    WireClient a, b;
    REQUIRE(a.Connect(srv.port()));
    REQUIRE(b.Connect(srv.port()));
    REQUIRE(a.Expect("^INFO (\\{.*\\})\r\n"));
    std::string line_a = a.last_match();
    REQUIRE(b.Expect("^INFO (\\{.*\\})\r\n"));
    auto ja = nlohmann::json::parse(line_a.substr(5));
    auto jb = nlohmann::json::parse(b.last_match().substr(5));
    CHECK(ja["server_id"].get<std::string>().size() > 10);
    CHECK(ja["server_id"] == jb["server_id"]);
    CHECK(ja["server_name"] == "wire-test");
    CHECK(ja["version"] == "2.9.24");
    CHECK(ja["proto"] == 1);
    CHECK(ja["go"] == "tandem");
    CHECK(ja["host"] == "127.0.0.1");
    CHECK(ja["port"] == srv.port());
    CHECK(ja["headers"] == true);
    CHECK(ja["max_payload"] == 1048576);
    CHECK(ja["client_ip"] == "127.0.0.1");
    CHECK(ja["connect_urls"] == nlohmann::json::array({"127.0.0.1:1", "127.0.0.1:2"}));
    CHECK(ja["client_id"] != jb["client_id"]);

    // Another process has another server id.
    CoreServer other;
    REQUIRE(other.Start());
    WireClient c;
    REQUIRE(c.Connect(other.port()));
    REQUIRE(c.Expect("^INFO (\\{.*\\})\r\n"));
    CHECK(nlohmann::json::parse(c.last_match().substr(5))["server_id"] != ja["server_id"]);
  }

  TEST_CASE("core_wire: verbose mode answers +OK to every well-formed op") {
    CoreServer srv;
    REQUIRE(srv.Start());
    WireClient c;
    REQUIRE(c.Connect(srv.port()));
    REQUIRE(c.Expect("^INFO .*\r\n"));
    CheckReply(c, "CONNECT {\"verbose\":true}\r\n", "^\\+OK\r\n$");
    CheckReply(c, "SUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\nPING\r\n",
               "^\\+OK\r\n\\+OK\r\nMSG foo 1 2\r\nhi\r\n\\+OK\r\nPONG\r\n$");
    // A client that never sends CONNECT has nats-server's defaults: verbose and pedantic.
    WireClient d;
    REQUIRE(d.Connect(srv.port()));
    REQUIRE(d.Expect("^INFO .*\r\n"));
    CheckReply(d, "SUB bar 1\r\nPING\r\n", "^\\+OK\r\nPONG\r\n$");
  }

  TEST_CASE("core_wire: invalid subjects get -ERR and the connection stays") {
    CoreServer srv;
    REQUIRE(srv.Start());
    WireClient c;
    REQUIRE(c.Handshake(srv.port(), R"({"verbose":false,"pedantic":true})"));
    CheckReply(c, "SUB foo..bar 1\r\nPING\r\n", "^-ERR 'Invalid Subject'\r\nPONG\r\n$");
    CheckReply(c, "SUB foo.>.bar 2\r\nSUB zzz 3\r\nPING\r\n",
               "^-ERR 'Invalid Subject'\r\nPONG\r\n$");
    CheckReply(c, "PUB foo.* 1\r\nx\r\nPING\r\n", "^-ERR 'Invalid Publish Subject'\r\nPONG\r\n$");
    CheckReply(c, "SUB ok 4\r\nPUB ok 1\r\ny\r\nPING\r\n", "^MSG ok 4 1\r\ny\r\nPONG\r\n$");
    // Reusing a live sid is ignored: still one subscription on `ok` under sid 4.
    CheckReply(c, "SUB other 4\r\nPUB ok 1\r\nz\r\nPUB other 1\r\nw\r\nPING\r\n",
               "^MSG ok 4 1\r\nz\r\nPONG\r\n$");
  }

  TEST_CASE("core_wire: fatal errors send their -ERR and close; others keep working") {
    CoreServer srv;
    REQUIRE(srv.Start());
    WireClient by;
    REQUIRE(by.Handshake(srv.port()));
    REQUIRE(by.Send("SUB by.stander 1\r\n"));

    struct Case {
      std::string name, connect, send, expect;
    };
    const std::string big_line = "SUB " + std::string(5000, 'a') + " 1\r\n";
    const Case cases[] = {
        {"garbage", R"({"verbose":false})", "HELLO WORLD\r\n",
         "^-ERR 'Unknown Protocol Operation'\r\n"},
        {"control line", R"({"verbose":false})", big_line,
         "^-ERR 'maximum control line exceeded'\r\n"},
        {"payload", R"({"verbose":false})", "PUB foo 2000000\r\n",
         "^-ERR 'Maximum Payload Violation'\r\n"},
        {"bad payload end", R"({"verbose":false})", "PUB foo 2\r\nabcd\r\n", ""},
        {"hpub without headers", R"({"verbose":false})", "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
         ""},
        {"protocol 2", R"({"verbose":false,"protocol":2})", "",
         "^-ERR 'invalid client protocol'\r\n"},
        {"no responders without headers", R"({"verbose":false,"no_responders":true})", "",
         "^-ERR 'no responders requires headers support'\r\n"},
        {"malformed connect", R"({"verbose":)", "", ""},
    };
    for (const Case& k : cases) {
      CAPTURE(k.name);
      WireClient c;
      REQUIRE(c.Connect(srv.port()));
      REQUIRE(c.Expect("^INFO .*\r\n"));
      REQUIRE(c.Send("CONNECT " + k.connect + "\r\n" + k.send));
      if (!k.expect.empty()) CHECK(c.Expect(k.expect));
      CHECK(c.WaitClosed());
      CHECK(c.pending().find("MSG") == std::string::npos);
      CheckBystander(by, k.name);
    }
  }

  TEST_CASE("core_wire: maximum connections") {
    CoreServer srv;
    REQUIRE(srv.Start("  max_connections: 2\n"));
    WireClient a, b, c;
    REQUIRE(HandshakeAll(srv, {&a, &b}));
    REQUIRE(c.Connect(srv.port()));
    CHECK(c.Expect("-ERR 'maximum connections exceeded'\r\n"));
    CHECK(c.WaitClosed());
    a.Close();
    // Once a slot is free (the server saw the close) a new client gets in.
    bool admitted = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!admitted && std::chrono::steady_clock::now() < deadline) {
      WireClient d;
      admitted = d.Handshake(srv.port());
      if (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(admitted);
    CheckReply(b, "PING\r\n", "PONG\r\n");
  }

  TEST_CASE("core_wire: server pings, and closes a client that never answers") {
    CoreServer srv;
    REQUIRE(srv.Start("  ping_interval: 100ms\n  max_pings_out: 2\n"));
    WireClient live, dead;
    REQUIRE(HandshakeAll(srv, {&live, &dead}));
    // The live client answers three pings in a row.
    for (int i = 0; i < 3; ++i) {
      REQUIRE(live.Expect("PING\r\n", std::chrono::milliseconds(2000)));
      REQUIRE(live.Send("PONG\r\n"));
    }
    // The dead one never answers: two PINGs, then Stale Connection and close.
    CHECK(dead.Expect("^PING\r\nPING\r\n-ERR 'Stale Connection'\r\n$",
                      std::chrono::milliseconds(3000)));
    CHECK(dead.WaitClosed());
    CheckReply(live, "PING\r\n", "PONG\r\n");
  }

  TEST_CASE("core_wire: a slow consumer is cut off, the publisher keeps going") {
    CoreServer srv;
    REQUIRE(srv.Start("  max_pending: 256KiB\n  max_payload: 64KiB\n"));
    WireClient slow, pub, watcher;
    REQUIRE(HandshakeAll(srv, {&slow, &pub, &watcher}));
    REQUIRE(slow.SendAndPong("SUB flood 1\r\n"));
    // `slow` never reads: its socket buffers fill, then its outbound queue passes 256 KiB.
    const std::string payload(60000, 'p');
    const std::string one = "PUB flood 60000\r\n" + payload + "\r\n";
    bool cut = false;
    for (int i = 0; i < 400 && !cut; ++i) {
      REQUIRE(pub.Send(one));
      if (i % 20 == 19) {
        // The server stops reading the publisher for up to a second at a time while the
        // consumer's queue is over half of max_pending (back-pressure before the cut-off), so
        // the PONG may take a few such pauses on a loaded machine.
        REQUIRE(pub.SendAndPong("", std::chrono::milliseconds(15000)));
        cut = srv.process().Log().find("slow consumer") != std::string::npos;
      }
    }
    CHECK(cut);
    CHECK(slow.WaitClosed(std::chrono::milliseconds(10000)));
    REQUIRE(watcher.SendAndPong("SUB w 1\r\n"));
    CheckReply(pub, "PUB w 1\r\nx\r\nPING\r\n", "PONG\r\n");
    CHECK(watcher.Expect("MSG w 1 1\r\nx\r\n"));
  }

  TEST_CASE("core_wire: split and pipelined input, bare LF line ends, tabs") {
    CoreServer srv;
    REQUIRE(srv.Start());
    WireClient c;
    REQUIRE(c.Handshake(srv.port()));
    const std::string input = "SUB\tsplit  7\nPUB split 5\r\nhello\r\nPING\r\n";
    for (char ch : input) REQUIRE(c.Send(std::string(1, ch)));
    CHECK(c.Expect("^MSG split 7 5\r\nhello\r\nPONG\r\n$"));
  }
}

}  // namespace tandem::test
