// tls_map_test.cc: `tls.verify_and_map` through the real binary with libnats and client
// certificates generated at test time: the certificate names the user (its email SAN, or its
// subject in RFC 2253 form when it has no SAN), that user's permissions apply, CONNECT's user
// and password are ignored (with nats-server's warning), a user without a password logs in
// only this way, and a certificate that names no user gets -ERR 'Authorization Violation'.
// /connz shows each connection's TLS version and cipher suite, and with auth=1 its user.
#include <string>

#include <doctest/doctest.h>
#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include "server/monitor/status_command.h"
#include "tests/support/core_fixture.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_certs.h"

namespace tandem::test {
namespace {

// alice's certificate carries the email SAN alice@example.com; bob's only its subject.
constexpr char kUsers[] = R"(authorization:
  users:
    - user: alice@example.com
      permissions: {publish: "alice.>", subscribe: "alice.>"}
    - {user: carol, password: carol-pw}
)";
constexpr char kBob[] = R"(    - user: "CN=bob,O=tandem tests"
      permissions: {publish: "bob.>", subscribe: "bob.>"}
)";

struct MapServer {
  TlsCertDir certs;
  TandemProcess proc{certs.dir.path(), "tandem.log"};
  int port = FreePort();
  int http = FreePort();

  bool Start(bool with_bob) {
    const TlsCerts& f = certs.files;
    std::string y = "listen: 127.0.0.1:" + std::to_string(port) +
                    "\nlog_level: debug\nstore: {dir: data}\ntls: {cert_file: " + f.server_cert +
                    ", key_file: " + f.server_key + ", ca_file: " + f.ca +
                    ", verify_and_map: true}\nhttp: 127.0.0.1:" + std::to_string(http) +
                    "\n" + kUsers + (with_bob ? kBob : "");
    return proc.Start({"serve", "--config", certs.dir.WriteFile("map.yaml", y)}) &&
           proc.WaitForPort(port) && proc.WaitForPort(http);
  }
  // The connections of /connz (with `query`).
  nlohmann::json Connz(const std::string& query) {
    Result<server::HttpReply> r = server::HttpGet("127.0.0.1", http, "/connz" + query, 5000);
    REQUIRE(r.ok());
    REQUIRE(r.value().status == 200);
    return nlohmann::json::parse(r.value().body)["connections"];
  }
  // A TLS connection presenting `cert`, with CONNECT user/password when given; the libnats
  // error text in *error on failure.
  natsStatus Connect(NatsConn& c, const std::string& cert, const std::string& key,
                     const std::string& user = "", const std::string& pass = "",
                     std::string* error = nullptr) {
    natsOptions* o = nullptr;
    natsStatus s = natsOptions_Create(&o);
    const std::string url = "nats://127.0.0.1:" + std::to_string(port);
    if (s == NATS_OK) s = natsOptions_SetURL(o, url.c_str());
    if (s == NATS_OK) s = natsOptions_SetSecure(o, true);
    if (s == NATS_OK) s = natsOptions_LoadCATrustedCertificates(o, certs.files.ca.c_str());
    if (s == NATS_OK) s = natsOptions_SetExpectedHostname(o, "localhost");
    if (s == NATS_OK) s = natsOptions_LoadCertificatesChain(o, cert.c_str(), key.c_str());
    if (s == NATS_OK && !user.empty()) s = natsOptions_SetUserInfo(o, user.c_str(), pass.c_str());
    if (s == NATS_OK) s = natsOptions_SetTimeout(o, 5000);
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(o, false);
    if (s == NATS_OK) s = natsConnection_Connect(&c.nc, o);
    if (s != NATS_OK && error != nullptr) {
      const char* text = nats_GetLastError(nullptr);
      *error = text != nullptr ? text : "";
    }
    natsOptions_Destroy(o);
    return s;
  }
};

// A message on `subject` there and back on `nc`.
bool RoundTrip(natsConnection* nc, const std::string& subject) {
  NatsSub sub;
  if (natsConnection_SubscribeSync(&sub.sub, nc, subject.c_str()) != NATS_OK) return false;
  if (natsConnection_Flush(nc) != NATS_OK) return false;
  if (natsConnection_PublishString(nc, subject.c_str(), "hi") != NATS_OK) return false;
  NatsMsg m;
  return natsSubscription_NextMsg(m.out(), sub, 5000) == NATS_OK && m.data() == "hi";
}

// SUB `subject`, then a round trip to the server: the -ERR the server sent for it, if any.
std::string SubscribeError(natsConnection* nc, const std::string& subject) {
  NatsSub sub;
  natsConnection_SubscribeSync(&sub.sub, nc, subject.c_str());
  natsConnection_Flush(nc);
  const char* text = nullptr;
  natsConnection_GetLastError(nc, &text);
  return text != nullptr ? text : "";
}

}  // namespace

TEST_SUITE("tls_map") {
  TEST_CASE("tls_map: the certificate names the user, whose permissions apply") {
    MapServer srv;
    REQUIRE(srv.Start(true));
    const TlsCerts& f = srv.certs.files;

    NatsConn alice;  // mapped by the email SAN; no CONNECT credentials at all
    REQUIRE(srv.Connect(alice, f.client_cert, f.client_key) == NATS_OK);
    CHECK(RoundTrip(alice, "alice.x"));
    CHECK(SubscribeError(alice, "bob.x").find(
              "Permissions Violation for Subscription to \"bob.x\"") != std::string::npos);

    NatsConn bob;  // no SAN: mapped by the subject in RFC 2253 form
    REQUIRE(srv.Connect(bob, f.bob_cert, f.bob_key) == NATS_OK);
    CHECK(RoundTrip(bob, "bob.y"));
    CHECK(SubscribeError(bob, "alice.y").find(
              "Permissions Violation for Subscription to \"alice.y\"") != std::string::npos);

    // CONNECT's user and password are ignored: alice's certificate with carol's credentials is
    // still alice, restricted, and nats-server's warning is logged.
    NatsConn posing;
    REQUIRE(srv.Connect(posing, f.client_cert, f.client_key, "carol", "carol-pw") == NATS_OK);
    CHECK(SubscribeError(posing, "anything").find(
              "Permissions Violation for Subscription to \"anything\"") != std::string::npos);
    CHECK(srv.proc.WaitForLog(
        "User \"carol\" found in connect proto, but user required from cert"));
    CHECK(srv.proc.Log().find("carol-pw") == std::string::npos);

    // /connz: the TLS version and cipher suite always, the user only with auth=1.
    nlohmann::json conns = srv.Connz("?auth=1");
    REQUIRE(conns.size() == 3);
    CHECK(conns[0]["authorized_user"] == "alice@example.com");
    CHECK(conns[1]["authorized_user"] == "CN=bob,O=tandem tests");
    CHECK(conns[2]["authorized_user"] == "alice@example.com");
    for (const auto& c : conns) {
      CHECK((c["tls_version"] == "1.3" || c["tls_version"] == "1.2"));
      CHECK(c["tls_cipher_suite"].get<std::string>().rfind("TLS_", 0) == 0);
    }
    for (const auto& c : srv.Connz("")) CHECK_FALSE(c.contains("authorized_user"));
    CHECK(srv.Connz("?auth=1").dump().find("carol-pw") == std::string::npos);
  }

  TEST_CASE("tls_map: a certificate that names no user is refused") {
    MapServer srv;
    REQUIRE(srv.Start(false));
    const TlsCerts& f = srv.certs.files;
    NatsConn bob;
    std::string error;
    CHECK(srv.Connect(bob, f.bob_cert, f.bob_key, "", "", &error) != NATS_OK);
    CHECK(error.find("Authorization Violation") != std::string::npos);
    // Not even with a configured user's valid password: the certificate decides.
    NatsConn bob_as_carol;
    CHECK(srv.Connect(bob_as_carol, f.bob_cert, f.bob_key, "carol", "carol-pw", &error) !=
          NATS_OK);
    CHECK(error.find("Authorization Violation") != std::string::npos);
    CHECK(srv.proc.WaitForLog("no user for the certificate's identities"));
    NatsConn alice;  // the server serves the others
    REQUIRE(srv.Connect(alice, f.client_cert, f.client_key) == NATS_OK);
    CHECK(RoundTrip(alice, "alice.z"));
  }

  TEST_CASE("tls_map: a user without a password needs verify_and_map") {
    TempDir dir;
    TandemProcess proc{dir.path(), "tandem.log"};
    const std::string y = "listen: 127.0.0.1:" + std::to_string(FreePort()) +
                          "\nstore: {dir: data}\nauthorization: {users: [{user: alice}]}\n";
    REQUIRE(proc.Start({"serve", "--config", dir.WriteFile("nopw.yaml", y)}));
    CHECK(proc.WaitExit() == 2);
    CHECK(proc.Log().find("authorization.users[0].password: is missing (only "
                          "tls.verify_and_map admits a user without one)") != std::string::npos);
  }
}

}  // namespace tandem::test
