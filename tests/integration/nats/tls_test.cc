// tls_test.cc: TLS on the client port and the monitoring port, through the real binary with
// libnats' TLS options: pub/sub over TLS, client certificates verified (a good one accepted;
// none, or one from another CA, refused), a client trusting another CA refused, a plain client
// and garbage closed at the handshake, a silent client cut off at the timeout with
// nats-server's error while a TLS client keeps flowing, HTTPS monitoring, the identities that
// verify_and_map reads, and start-up errors naming the bad file. Certificates are generated
// at test time (tests/support/tls_certs.h).
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nats/nats.h>

#include "tests/support/core_fixture.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_certs.h"
#include "tests/support/wire_client.h"

namespace tandem::test {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// A tandem with `tls:` on a free loopback port; `tls_yaml` holds extra lines of the section,
// where "{ca}" stands for the test CA's file.
struct TlsServer {
  TempDir dir;
  TlsCerts certs;
  TandemProcess proc{dir.path(), "tandem.log"};
  int port = FreePort();
  int https_port = 0;

  bool Start(const std::string& tls_yaml = "", bool https = false) {
    std::string error;
    if (!certs.Generate(dir.path(), &error)) {
      FAIL_CHECK("cannot make certificates: " << error);
      return false;
    }
    std::string extra = tls_yaml;
    for (size_t at; (at = extra.find("{ca}")) != std::string::npos;) extra.replace(at, 4, certs.ca);
    std::string y = "listen: 127.0.0.1:" + std::to_string(port) +
                    "\nlog_level: debug\nstore: {dir: data}\ntls:\n  cert_file: " +
                    certs.server_cert + "\n  key_file: " + certs.server_key + "\n" + extra;
    if (https) {
      https_port = FreePort();
      y += "https: 127.0.0.1:" + std::to_string(https_port) + "\n";
    }
    return proc.Start({"serve", "--config", dir.WriteFile("tls.yaml", y)}) &&
           proc.WaitForPort(port) && (!https || proc.WaitForPort(https_port));
  }
};

// One message there and back on `nc`: the connection carries traffic both ways.
bool RoundTrip(natsConnection* nc, const std::string& subject, const std::string& payload) {
  NatsSub sub;
  if (natsConnection_SubscribeSync(&sub.sub, nc, subject.c_str()) != NATS_OK) return false;
  if (natsConnection_Flush(nc) != NATS_OK) return false;
  if (natsConnection_PublishString(nc, subject.c_str(), payload.c_str()) != NATS_OK) return false;
  NatsMsg m;
  return natsSubscription_NextMsg(m.out(), sub, 5000) == NATS_OK && m.data() == payload;
}

}  // namespace

TEST_SUITE("tls") {
  TEST_CASE("tls: pub/sub over TLS between two libnats clients; INFO says tls_required") {
    TlsServer srv;
    REQUIRE(srv.Start());
    WireClient raw;
    REQUIRE(raw.Connect(srv.port));
    REQUIRE(raw.Expect(R"(INFO \{[^\r]*"tls_required":true[^\r]*\}\r\n)"));
    CHECK(raw.pending().find("tls_verify") == std::string::npos);

    NatsConn pub, sub_conn;
    REQUIRE(ConnectTls(&pub.nc, srv.port, srv.certs.ca) == NATS_OK);
    REQUIRE(ConnectTls(&sub_conn.nc, srv.port, srv.certs.ca) == NATS_OK);
    NatsSub sub;
    REQUIRE(natsConnection_SubscribeSync(&sub.sub, sub_conn, "orders.>") == NATS_OK);
    REQUIRE(natsConnection_Flush(sub_conn) == NATS_OK);
    // Large enough to span several TLS records, and many, to cross reads and flushes.
    const std::string big(100000, 'x');
    for (int i = 0; i < 200; ++i) {
      const std::string p = std::to_string(i) + (i % 50 == 0 ? big : "");
      REQUIRE(natsConnection_PublishString(pub, "orders.new", p.c_str()) == NATS_OK);
    }
    REQUIRE(natsConnection_Flush(pub) == NATS_OK);
    for (int i = 0; i < 200; ++i) {
      NatsMsg m;
      REQUIRE(natsSubscription_NextMsg(m.out(), sub, 5000) == NATS_OK);
      CHECK(m.data() == std::to_string(i) + (i % 50 == 0 ? big : ""));
    }
  }

  TEST_CASE("tls: a client that trusts another CA is refused") {
    TlsServer srv;
    REQUIRE(srv.Start());
    NatsConn c;
    CHECK(ConnectTls(&c.nc, srv.port, srv.certs.other_ca) != NATS_OK);
    NatsConn good;
    CHECK(ConnectTls(&good.nc, srv.port, srv.certs.ca) == NATS_OK);
  }

  TEST_CASE("tls: verify accepts a client certificate of ca_file and refuses none or another CA's") {
    TlsServer srv;
    REQUIRE(srv.Start("  ca_file: {ca}\n  verify: true\n"));
    WireClient raw;
    REQUIRE(raw.Connect(srv.port));
    REQUIRE(raw.Expect(R"(INFO \{[^\r]*"tls_required":true,"tls_verify":true[^\r]*\}\r\n)"));

    NatsConn good;
    REQUIRE(ConnectTls(&good.nc, srv.port, srv.certs.ca, srv.certs.client_cert,
                       srv.certs.client_key) == NATS_OK);
    CHECK(RoundTrip(good, "verified", "hello"));
    NatsConn none;
    CHECK(ConnectTls(&none.nc, srv.port, srv.certs.ca) != NATS_OK);
    NatsConn foreign;
    CHECK(ConnectTls(&foreign.nc, srv.port, srv.certs.ca, srv.certs.other_client_cert,
                     srv.certs.other_client_key) != NATS_OK);
    CHECK(srv.proc.WaitForLog("TLS handshake error"));
    CHECK(RoundTrip(good, "still", "there"));
  }

  TEST_CASE("tls: verify_and_map reads the certificate's email SAN, then its subject (RFC 2253)") {
    TlsServer srv;
    REQUIRE(srv.Start("  ca_file: {ca}\n  verify_and_map: true\n"));
    NatsConn c;
    REQUIRE(ConnectTls(&c.nc, srv.port, srv.certs.ca, srv.certs.client_cert, srv.certs.client_key) ==
            NATS_OK);
    CHECK(srv.proc.WaitForLog(
        "certificate identities: alice@example.com, CN=alice,OU=ops,O=tandem tests"));
  }

  TEST_CASE("tls: a plain client's CONNECT and garbage end the connection; others keep flowing") {
    TlsServer srv;
    REQUIRE(srv.Start());
    NatsConn tls_client;
    REQUIRE(ConnectTls(&tls_client.nc, srv.port, srv.certs.ca) == NATS_OK);

    WireClient plain;
    REQUIRE(plain.Connect(srv.port));
    REQUIRE(plain.Expect(R"(INFO \{[^\r]*\}\r\n)"));
    REQUIRE(plain.Send("CONNECT {\"verbose\":false}\r\nPING\r\n"));
    CHECK_FALSE(plain.Expect("PONG", milliseconds(3000)));  // false at the close, no PONG
    CHECK(plain.closed());

    WireClient garbage;
    REQUIRE(garbage.Connect(srv.port));
    REQUIRE(garbage.Expect(R"(INFO \{[^\r]*\}\r\n)"));
    REQUIRE(garbage.Send(std::string("\x16\x03\x01\x00\x10not a client hello at all", 30)));
    CHECK(garbage.WaitClosed());
    CHECK(srv.proc.WaitForLog("TLS handshake error"));
    CHECK(RoundTrip(tls_client, "after.garbage", "ok"));
  }

  TEST_CASE("tls: a client that never speaks TLS gets nats-server's error at the timeout") {
    TlsServer srv;
    REQUIRE(srv.Start("  timeout: 0.5\n"));
    NatsConn tls_client;
    REQUIRE(ConnectTls(&tls_client.nc, srv.port, srv.certs.ca) == NATS_OK);
    WireClient silent;
    REQUIRE(silent.Connect(srv.port));
    const auto start = Clock::now();
    REQUIRE(silent.Expect(R"(INFO \{[^\r]*\}\r\n)"));
    // While the silent one waits, the TLS client keeps getting its messages.
    int trips = 0;
    while (Clock::now() - start < milliseconds(400)) {
      REQUIRE(RoundTrip(tls_client, "flow", std::to_string(trips)));
      ++trips;
    }
    CHECK(trips > 0);
    REQUIRE(silent.Expect(R"(-ERR 'Secure Connection - TLS Required'\r\n)", milliseconds(5000)));
    const auto waited = Clock::now() - start;
    CHECK(waited >= milliseconds(450));
    CHECK(waited < milliseconds(4000));
    CHECK(silent.WaitClosed());
    CHECK(srv.proc.WaitForLog("TLS handshake timeout"));
    CHECK(RoundTrip(tls_client, "flow", "after"));
  }

  TEST_CASE("tls: https serves the monitoring endpoints over TLS, not over plain HTTP") {
    TlsServer srv;
    REQUIRE(srv.Start("", /*https=*/true));
    auto varz = HttpsGet(srv.https_port, srv.certs.ca, "/varz");
    REQUIRE(varz.has_value());
    CHECK(varz->rfind("HTTP/1.1 200", 0) == 0);
    CHECK(varz->find("\"server_id\"") != std::string::npos);
    CHECK_FALSE(HttpsGet(srv.https_port, srv.certs.other_ca, "/varz").has_value());
    WireClient plain;
    REQUIRE(plain.Connect(srv.https_port));
    REQUIRE(plain.Send("GET /varz HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK_FALSE(plain.Expect("200", milliseconds(3000)));  // false at the close
    CHECK(plain.closed());
  }

  TEST_CASE("tls: a missing, unreadable or mismatched file stops tandem, naming the file") {
    TempDir dir;
    TlsCerts certs;
    std::string error;
    REQUIRE_MESSAGE(certs.Generate(dir.path(), &error), error);
    const std::string listen = "127.0.0.1:" + std::to_string(FreePort());
    {
      TandemProcess p(dir.path(), "missing.log");
      auto rc = p.Run({"serve", "--listen", listen, "--store", "data", "--tls", "--tlscert",
                       dir.Join("nope.pem"), "--tlskey", certs.server_key});
      CHECK(rc == 2);
      CHECK(p.Log().find("tls: cert_file: \"" + dir.Join("nope.pem") +
                         "\": No such file or directory") != std::string::npos);
    }
    {
      TandemProcess p(dir.path(), "mismatch.log");
      auto rc = p.Run({"serve", "--listen", listen, "--store", "data", "--tlscert",
                       certs.server_cert, "--tlskey", certs.client_key});
      CHECK(rc == 2);
      CHECK(p.Log().find("key_file: \"" + certs.client_key + "\" does not match the certificate") !=
            std::string::npos);
    }
    {
      TandemProcess p(dir.path(), "notpem.log");
      auto rc = p.Run({"serve", "--listen", listen, "--store", "data", "--tlscert",
                       dir.WriteFile("junk.pem", "junk"), "--tlskey", certs.server_key});
      CHECK(rc == 2);
      CHECK(p.Log().find("junk.pem\": not a PEM certificate") != std::string::npos);
    }
  }
}

}  // namespace tandem::test
