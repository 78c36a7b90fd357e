// ft_secure_test.cc: a pair secured the way it runs outside a laptop: TLS required on the client
// port with client certificates verified, users with bcrypt passwords and subject permissions,
// the pair's own credentials under `ft:` and its peer link over TLS with a client certificate.
// A streaming load of TLS clients logged in as a user runs while the active is killed (-9),
// twice: the standby takes over, the clients reconnect to it over TLS with their credentials,
// every acknowledged message is delivered (0 lost), the load goes on, and the permissions and
// the TLS requirement hold on the new active. No password or seed appears in any log.
#include <signal.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nats/nats.h>

#include "tests/support/auth_helpers.h"
#include "tests/support/ft_harness.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_certs.h"

namespace tandem::test {
namespace {

using std::chrono::milliseconds;

constexpr const char* kAppPw = "app-secret-pw";
constexpr const char* kPairPw = "pair-secret-pw";

struct SecurePair : TlsCertDir {
  int port = FreePort();
  std::string app_hash = BcryptHash(kAppPw), pair_hash = BcryptHash(kPairPw);

  FtMemberOptions Member(const std::string& name) {
    FtMemberOptions o = MemberOptions(dir, name, port);
    o.extra_yaml =
        "tls: {cert_file: " + files.server_cert + ", key_file: " + files.server_key +
        ", ca_file: " + files.ca + ", verify: true}\n"
        "authorization:\n  users:\n"
        "    - user: app\n      password: \"" + app_hash + "\"\n"
        "      permissions:\n"
        "        publish: {allow: [\"_STAN.>\", \"orders\", \"_INBOX.>\"], deny: \"secret.>\"}\n"
        "        subscribe: {allow: [\"_INBOX.>\", \"_STAN.>\", \"orders\"]}\n"
        "    - user: pair\n      password: \"" + pair_hash + "\"\n"
        "      permissions: {publish: \"_STAN.ft.>\", subscribe: \"_STAN.ft.>\"}\n";
    o.ft_yaml = std::string("  user: pair\n  password: ") + kPairPw + "\n" +
                "  tls: {ca_file: " + files.ca + ", cert_file: " + files.client_cert +
                ", key_file: " + files.client_key + "}\n";
    return o;
  }
  StanLoadTls ClientTls() const { return {files.ca, files.client_cert, files.client_key}; }
  std::string AppUrl() const {
    return std::string("nats://app:") + kAppPw + "@127.0.0.1:" + std::to_string(port);
  }
};

// The text of the last asynchronous error libnats reported on a connection.
struct AsyncErrors {
  std::mutex mu;
  std::string last;
  static void OnError(natsConnection* nc, natsSubscription*, natsStatus, void* closure) {
    auto* self = static_cast<AsyncErrors*>(closure);
    const char* text = nullptr;
    natsConnection_GetLastError(nc, &text);
    std::lock_guard<std::mutex> lock(self->mu);
    self->last = text != nullptr ? text : "";
  }
  bool WaitFor(const std::string& needle, milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (last.find(needle) != std::string::npos) return true;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }
};

// On the active now (retried, bounded, while it comes up): app over TLS with its certificate is
// refused a denied subject with nats-server's words and keeps its connection; a client without a
// certificate and one with a wrong password are refused.
void CheckPolicyHolds(const SecurePair& p) {
  NatsConn app;
  AsyncErrors errors;
  const auto set = [&](natsOptions* o) {
    natsStatus s = natsOptions_SetSecure(o, true);
    if (s == NATS_OK) s = natsOptions_LoadCATrustedCertificates(o, p.files.ca.c_str());
    if (s == NATS_OK) s = natsOptions_SetExpectedHostname(o, "localhost");
    if (s == NATS_OK)
      s = natsOptions_LoadCertificatesChain(o, p.files.client_cert.c_str(),
                                            p.files.client_key.c_str());
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(o, AsyncErrors::OnError, &errors);
    return s;
  };
  natsStatus s = NATS_ERR;
  for (int i = 0; i < 100 && s != NATS_OK; ++i) {
    s = ConnectWith(app, p.AppUrl(), set);
    if (s != NATS_OK) std::this_thread::sleep_for(milliseconds(100));
  }
  REQUIRE(s == NATS_OK);
  REQUIRE(natsConnection_PublishString(app, "secret.plans", "x") == NATS_OK);
  CHECK(errors.WaitFor("Permissions Violation for Publish to \"secret.plans\"",
                       milliseconds(5000)));
  CHECK(natsConnection_FlushTimeout(app, 5000) == NATS_OK);  // still connected

  NatsConn no_cert;
  CHECK(ConnectTls(&no_cert.nc, p.port, p.files.ca) != NATS_OK);
  NatsConn wrong_pw;
  std::string error;
  CHECK(ConnectWith(wrong_pw, "nats://app:not-it@127.0.0.1:" + std::to_string(p.port), set,
                    &error) != NATS_OK);
  CHECK_MESSAGE(error.find("Authorization Violation") != std::string::npos, error);
}

void CheckNoSecret(TandemProcess& proc) {
  const std::string log = proc.Log();
  CHECK(log.find(kAppPw) == std::string::npos);
  CHECK(log.find(kPairPw) == std::string::npos);
}

}  // namespace

TEST_SUITE("ft_secure") {
  TEST_CASE_FIXTURE(SecurePair, "ft_secure: TLS + credentials, kill -9 under load, 0 lost") {
    REQUIRE(!app_hash.empty());
    FtMember a(dir.path(), Member("a"));
    FtMember b(dir.path(), Member("b"));
    REQUIRE(a.Start());
    REQUIRE_MESSAGE(a.WaitActive(), a.process().Log());
    REQUIRE(b.Start());
    REQUIRE_MESSAGE(b.WaitStandby(), b.process().Log());
    REQUIRE_MESSAGE(a.process().WaitForLog("standby b joined"), a.process().Log());
    CheckPolicyHolds(*this);

    StanLoad load(AppUrl(), "ft-test", "orders", 300, ClientTls());
    std::string error;
    REQUIRE_MESSAGE(load.Start(&error), error);
    REQUIRE(AcksGrow(load, 100, milliseconds(15000)));

    FtMember* active = &a;
    FtMember* standby = &b;
    for (int round = 0; round < 2; ++round) {
      CAPTURE(round);
      REQUIRE(active->process().Signal(SIGKILL));
      REQUIRE(active->process().WaitExit().has_value());
      REQUIRE_MESSAGE(standby->WaitActive(milliseconds(10000)), standby->process().Log());
      // The clients reconnected over TLS with their credentials: acks and deliveries go on.
      CHECK(AcksGrow(load, 100, milliseconds(15000)));
      CHECK(DeliveriesGrow(load, 200, milliseconds(15000)));
      CheckPolicyHolds(*this);
      // The killed member comes back as the standby, linking over TLS with the ft: login.
      REQUIRE(active->Start());
      REQUIRE_MESSAGE(active->WaitStandby(), active->process().Log());
      CHECK(standby->process().WaitForLog("standby " + active->name() + " joined"));
      std::swap(active, standby);
    }
    LoadReport r = load.Settle(milliseconds(30000));
    INFO("published ", r.published, ", acked ", r.acked, ", unacked ", r.unacked, ", duplicates ",
         r.duplicates, ", lost: ", r.first_lost);
    CHECK(r.acked > 300);
    CHECK(r.lost == 0);
    CheckNoSecret(a.process());
    CheckNoSecret(b.process());
  }
}

}  // namespace tandem::test
