// external_secure_test.cc: tandem on a secured external cluster, with real processes: three
// nats-server nodes that require TLS with client certificates (certificates generated at test
// time) and a user login; tandem connects with nats.user/password and nats.tls (and, on another
// cluster, with an nkey seed file), a libnats streaming client with its own user publishes (each
// publish waits for its PubAck) and reads everything back. Wrong credentials stop tandem at start with one line that names no secret.
// A .creds file (nats.credentials) is tried against a nats-server in operator mode, with an
// operator, account and user JWTs made at test time (tests/support/nats_jwt.h).
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "tests/support/stan_client.h"  // first: it turns on libnats' streaming API

#include "tests/support/auth_helpers.h"
#include "tests/support/nats_cluster.h"
#include "tests/support/nats_jwt.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_certs.h"

namespace tandem::test {
namespace {

using std::chrono::milliseconds;

std::string SecureConf(const TlsCerts& c) {
  return "tls {\n  cert_file: \"" + c.server_cert + "\"\n  key_file: \"" + c.server_key +
         "\"\n  ca_file: \"" + c.ca + "\"\n  verify: true\n}\n" +
         "authorization {\n  users: [\n    {user: tandem, password: tandem-pw}\n"
         "    {user: app, password: app-pw}\n  ]\n}\n";
}

// "tls://localhost:<port>": the server certificate names localhost.
std::string Url(const NatsCluster& cluster, size_t i) {
  return "tls://localhost:" + std::to_string(cluster.port(i));
}

std::string TandemConfig(const NatsCluster& cluster, const TlsCerts& c, const std::string& store,
                         const std::string& password) {
  return "cluster_id: sec-test\nstore: {dir: " + store + "}\nnats:\n  servers: [" +
         Url(cluster, 0) + ", " + Url(cluster, 1) + "]\n  user: tandem\n  password: " + password +
         "\n  tls: {ca_file: " + c.ca + ", cert_file: " + c.client_cert + ", key_file: " +
         c.client_key + "}\n";
}

void OnMsg(stanConnection*, stanSubscription*, const char*, stanMsg* msg, void* closure) {
  static_cast<std::atomic<int>*>(closure)->fetch_add(1);
  stanMsg_Destroy(msg);
}

// A streaming client with `nopts` (taken) publishes `n` messages to `channel`, each waiting for
// its PubAck, then reads them all back from the start; the count it read.
int PublishAndReadBack(natsOptions* nopts, const std::string& cluster_id,
                       const std::string& client_id, const std::string& channel, int n) {
  stanConnOptions* sopts = nullptr;
  REQUIRE(stanConnOptions_Create(&sopts) == NATS_OK);
  stanConnOptions_SetNATSOptions(sopts, nopts);
  stanConnection* sc = nullptr;
  natsStatus s = stanConnection_Connect(&sc, cluster_id.c_str(), client_id.c_str(), sopts);
  stanConnOptions_Destroy(sopts);
  natsOptions_Destroy(nopts);
  REQUIRE_MESSAGE(s == NATS_OK, natsStatus_GetText(s), " ", nats_GetLastError(nullptr));
  for (int i = 0; i < n; ++i) {
    std::string m = "m" + std::to_string(i);
    REQUIRE(stanConnection_Publish(sc, channel.c_str(), m.data(), static_cast<int>(m.size())) ==
            NATS_OK);
  }
  std::atomic<int> got{0};
  stanSubOptions* subo = nullptr;
  stanSubOptions_Create(&subo);
  stanSubOptions_DeliverAllAvailable(subo);
  stanSubscription* sub = nullptr;
  REQUIRE(stanConnection_Subscribe(&sub, sc, channel.c_str(), OnMsg, &got, subo) == NATS_OK);
  auto deadline = std::chrono::steady_clock::now() + milliseconds(10000);
  while (got.load() < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  stanSubscription_Destroy(sub);
  stanSubOptions_Destroy(subo);
  stanConnection_Close(sc);
  stanConnection_Destroy(sc);
  return got.load();
}

}  // namespace

TEST_SUITE("external_secure") {

TEST_CASE("external: a cluster with TLS client certificates and users") {
  TlsCertDir certs;
  NatsCluster cluster(3, SecureConf(certs.files));
  REQUIRE(cluster.Start());
  TempDir dir;

  SUBCASE("a wrong password stops tandem at start, naming no secret") {
    std::string cfg =
        dir.WriteFile("bad.yaml", TandemConfig(cluster, certs.files, dir.Join("s1"), "wrong-pw"));
    TandemProcess t;
    auto rc = t.Run({"serve", "-c", cfg});
    REQUIRE(rc.has_value());
    CHECK_MESSAGE(*rc == 1, t.Log());
    CHECK(t.Log().find("cannot connect to the NATS servers " + Url(cluster, 0)) !=
          std::string::npos);
    CHECK(t.Log().find("wrong-pw") == std::string::npos);
  }

  SUBCASE("with the right credentials streaming works through the cluster") {
    std::string cfg =
        dir.WriteFile("ok.yaml", TandemConfig(cluster, certs.files, dir.Join("s2"), "tandem-pw"));
    TandemProcess t;
    REQUIRE(t.Start({"serve", "-c", cfg}));
    REQUIRE(t.WaitForLog("streaming layer serving"));
    CHECK(t.Log().find("tandem-pw") == std::string::npos);

    // A client on node 2, with its own user and certificate.
    natsOptions* nopts = nullptr;
    REQUIRE(natsOptions_Create(&nopts) == NATS_OK);
    std::string url = Url(cluster, 2);
    const char* servers[] = {url.c_str()};
    natsOptions_SetServers(nopts, servers, 1);
    natsOptions_SetSecure(nopts, true);
    natsOptions_LoadCATrustedCertificates(nopts, certs.files.ca.c_str());
    natsOptions_LoadCertificatesChain(nopts, certs.files.client_cert.c_str(),
                                      certs.files.client_key.c_str());
    natsOptions_SetUserInfo(nopts, "app", "app-pw");
    CHECK(PublishAndReadBack(nopts, "sec-test", "secure-client", "secure", 200) == 200);
    // A clean stop after a TLS connection.
    REQUIRE(t.Signal(SIGTERM));
    auto rc = t.WaitExit();
    REQUIRE(rc.has_value());
    CHECK_MESSAGE(*rc == 0, t.Log());
  }
}

TEST_CASE("external: tandem logs in to the cluster with an nkey seed file") {
  test::UserNkey key = MakeUserNkey();
  REQUIRE_FALSE(key.seed.empty());
  NatsCluster cluster(1, "authorization {\n  users: [\n    {nkey: " + key.pub +
                             "}\n    {user: app, password: app-pw}\n  ]\n}\n");
  REQUIRE(cluster.Start());
  TempDir dir;
  std::string seed = dir.WriteFile("tandem.nk", key.seed + "\n");
  std::string cfg = dir.WriteFile(
      "t.yaml", "cluster_id: nk-test\nstore: {dir: " + dir.Join("store") + "}\nnats: {servers: [" +
                    cluster.Url(0) + "], nkey_seed_file: " + seed + "}\n");
  TandemProcess t;
  REQUIRE(t.Start({"serve", "-c", cfg}));
  REQUIRE(t.WaitForLog("streaming layer serving"));
  CHECK(t.Log().find(key.seed) == std::string::npos);
  // A streaming client (user app) is answered: tandem is subscribed with its nkey login.
  std::string url = "nats://app:app-pw@127.0.0.1:" + std::to_string(cluster.port(0));
  StanConnectOptions o;
  std::string error;
  stanConnection* sc = ConnectStan(url, "nk-test", "nk-client", o, &error);
  REQUIRE_MESSAGE(sc != nullptr, error);
  CHECK(stanConnection_Publish(sc, "nk", "x", 1) == NATS_OK);
  stanConnection_Close(sc);
  stanConnection_Destroy(sc);
}

TEST_CASE("external: tandem logs in with a .creds file (nats-server in operator mode)") {
  OperatorSetup auth;
  NatsCluster cluster(1, auth.Conf());
  REQUIRE(cluster.Start());
  TempDir dir;
  const std::string tandem_creds_text = auth.UserCreds("tandem");
  const std::string tandem_creds = dir.WriteFile("tandem.creds", tandem_creds_text);
  const std::string app_creds = dir.WriteFile("app.creds", auth.UserCreds("app"));
  auto config = [&](const std::string& creds) {
    return dir.WriteFile("t.yaml", "cluster_id: creds-test\nstore: {dir: " + dir.Join("store") +
                                       "}\nnats: {servers: [" + cluster.Url(0) +
                                       "], credentials: " + creds + "}\n");
  };

  // A user of another operator is refused by the server: tandem stops at start, exit 1.
  OperatorSetup stranger;
  const std::string bad = dir.WriteFile("stranger.creds", stranger.UserCreds("tandem"));
  TandemProcess refused;
  auto rc = refused.Run({"serve", "-c", config(bad)});
  REQUIRE(rc.has_value());
  CHECK_MESSAGE(*rc == 1, refused.Log());
  CHECK(refused.Log().find("cannot connect to the NATS servers " + cluster.Url(0)) !=
        std::string::npos);

  TandemProcess t;
  REQUIRE(t.Start({"serve", "-c", config(tandem_creds)}));
  REQUIRE(t.WaitForLog("streaming layer serving"));
  // Neither the seed nor the JWT reaches the log.
  const std::string seed_marker = "-----BEGIN USER NKEY SEED-----\n";
  const size_t seed_at = tandem_creds_text.find(seed_marker) + seed_marker.size();
  const std::string seed = tandem_creds_text.substr(seed_at, 58);
  REQUIRE(seed.rfind("SU", 0) == 0);
  CHECK(t.Log().find(seed) == std::string::npos);
  CHECK(t.Log().find("-----BEGIN") == std::string::npos);
  // A streaming client logged in as another user of the account is served through the server.
  natsOptions* nopts = nullptr;
  REQUIRE(natsOptions_Create(&nopts) == NATS_OK);
  natsOptions_SetURL(nopts, cluster.Url(0).c_str());
  REQUIRE(natsOptions_SetUserCredentialsFromFiles(nopts, app_creds.c_str(), nullptr) == NATS_OK);
  CHECK(PublishAndReadBack(nopts, "creds-test", "creds-client", "creds", 100) == 100);
}

}  // TEST_SUITE

}  // namespace tandem::test
