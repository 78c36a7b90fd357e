// ft_tls_test.cc: a pair whose core requires TLS: the standby's peer link speaks TLS (the CA of
// `ft.tls`), hears the active, and takes over when the active is killed, serving TLS clients;
// a standby without `ft.tls` says what is missing; one trusting another CA cannot link.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nats/nats.h>

#include "tests/support/ft_harness.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_certs.h"

namespace tandem::test {
namespace {

using std::chrono::milliseconds;

struct TlsPairFixture : TlsCertDir {
  const TlsCerts& certs = files;
  int port = FreePort();

  // A member with TLS required on its core and `ft_tls` as its ft.tls section (empty: none).
  FtMemberOptions Member(const std::string& name, const std::string& ft_tls) {
    FtMemberOptions o = MemberOptions(dir, name, port);
    o.extra_yaml = "tls: {cert_file: " + certs.server_cert + ", key_file: " + certs.server_key +
                   "}\n";
    if (!ft_tls.empty()) o.ft_yaml = "  tls: " + ft_tls + "\n";
    return o;
  }
};

// A TLS client's message there and back on the pair's port, retried (bounded) while the
// newly active member comes up.
bool ServesTls(int port, const std::string& ca) {
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(10000);
  while (std::chrono::steady_clock::now() < deadline) {
    natsConnection* nc = nullptr;
    if (ConnectTls(&nc, port, ca) == NATS_OK) {
      natsSubscription* sub = nullptr;
      natsMsg* m = nullptr;
      bool ok = natsConnection_SubscribeSync(&sub, nc, "ping.tls") == NATS_OK &&
                natsConnection_Flush(nc) == NATS_OK &&
                natsConnection_PublishString(nc, "ping.tls", "x") == NATS_OK &&
                natsSubscription_NextMsg(&m, sub, 5000) == NATS_OK;
      if (m != nullptr) natsMsg_Destroy(m);
      if (sub != nullptr) natsSubscription_Destroy(sub);
      natsConnection_Destroy(nc);
      if (ok) return true;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return false;
}

}  // namespace

TEST_SUITE("ft_tls") {
  TEST_CASE_FIXTURE(TlsPairFixture, "ft_tls: the standby links over TLS and takes over") {
    const std::string ft_tls = "{ca_file: " + certs.ca + "}";
    FtMember a(dir.path(), Member("a", ft_tls));
    FtMember b(dir.path(), Member("b", ft_tls));
    REQUIRE(a.Start());
    REQUIRE(a.WaitActive());
    REQUIRE(ServesTls(port, certs.ca));
    REQUIRE(b.Start());
    REQUIRE(b.WaitStandby());
    CHECK(b.process().WaitForLog("ft: b connected to nats://127.0.0.1:" + std::to_string(port)));
    // It hears the heartbeats: it stays a standby while a lives.
    std::this_thread::sleep_for(milliseconds(500));
    CHECK_FALSE(b.IsActive());
    REQUIRE(a.process().Signal(SIGKILL));
    REQUIRE(b.WaitActive(milliseconds(15000)));
    CHECK(ServesTls(port, certs.ca));
  }

  TEST_CASE_FIXTURE(TlsPairFixture, "ft_tls: without ft.tls, or trusting another CA, no link") {
    FtMember a(dir.path(), Member("a", "{ca_file: " + certs.ca + "}"));
    FtMember b(dir.path(), Member("b", ""));
    FtMember c(dir.path(), Member("c", "{ca_file: " + certs.other_ca + "}"));
    REQUIRE(a.Start());
    REQUIRE(a.WaitActive());
    REQUIRE(b.Start());
    CHECK(b.process().WaitForLog("the server requires TLS; set ft.tls"));
    REQUIRE(c.Start());
    CHECK(c.process().WaitForLog("TLS handshake failed: certificate verify failed"));
    CHECK(b.process().Log().find("ft: b connected to") == std::string::npos);
  }
}

}  // namespace tandem::test
