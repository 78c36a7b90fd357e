// status_https_test.cc: `tandem status` against a member whose monitoring is `https:`, through
// the real binary: an https:// address verified against --cacert (by IP literal and by name),
// the address taken from --config, and the refusals: a server certificate of another CA, none
// given (the system's CAs do not know the test CA), a plain http:// address on the TLS port, and
// a --cacert that does not exist.
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_certs.h"

namespace tandem::test {
namespace {

struct HttpsMember : TlsCertDir {
  TandemProcess proc{dir.path(), "tandem.log"};
  int port = FreePort();
  int https_port = FreePort();
  std::string config;

  HttpsMember() {
    config = dir.WriteFile(
        "member.yaml", "listen: 127.0.0.1:" + std::to_string(port) +
                           "\nstore: {dir: data}\ntls: {cert_file: " + files.server_cert +
                           ", key_file: " + files.server_key + "}\nhttps: 127.0.0.1:" +
                           std::to_string(https_port) + "\n");
    REQUIRE(proc.Start({"serve", "--config", config}));
    REQUIRE_MESSAGE(proc.WaitForPort(https_port), proc.Log());
  }
};

// Runs `tandem <args>` to the end; the exit status (-1 when it did not end) and its output.
int RunTandem(const std::vector<std::string>& args, std::string* out) {
  TandemProcess p;
  std::optional<int> status = p.Run(args);
  *out = p.Log();
  return status.value_or(-1);
}

}  // namespace

TEST_SUITE("status_https") {
  TEST_CASE_FIXTURE(HttpsMember, "status: https:// verified against --cacert, by IP and by name") {
    const std::string at = std::to_string(https_port);
    std::string out;
    CHECK_MESSAGE(RunTandem({"status", "--http", "https://127.0.0.1:" + at, "--cacert",
                             files.ca}, &out) == 0,
                  out);
    CHECK_MESSAGE(out.find("STANDALONE") != std::string::npos, out);
    CHECK(out.find("Active: ") != std::string::npos);
    CHECK_MESSAGE(RunTandem({"status", "--http", "https://localhost:" + at, "--cacert", files.ca},
                            &out) == 0,
                  out);
    // From the member's own config: its `https` address.
    CHECK_MESSAGE(RunTandem({"status", "--config", config, "--cacert", files.ca}, &out) == 0, out);
    CHECK_MESSAGE(out.find("https://127.0.0.1:" + at) != std::string::npos, out);
  }

  TEST_CASE_FIXTURE(HttpsMember, "status: another CA, no CA, plain HTTP and a missing file fail") {
    const std::string url = "https://127.0.0.1:" + std::to_string(https_port);
    std::string out;
    CHECK(RunTandem({"status", "--http", url, "--cacert", files.other_ca}, &out) == 1);
    CHECK_MESSAGE(out.find("UNREACHABLE") != std::string::npos, out);
    CHECK_MESSAGE(out.find("TLS handshake failed: certificate verify failed") != std::string::npos,
                  out);
    CHECK(RunTandem({"status", "--http", url}, &out) == 1);
    CHECK_MESSAGE(out.find("certificate verify failed") != std::string::npos, out);
    CHECK(RunTandem({"status", "--timeout", "1000", "--http",
                     "http://127.0.0.1:" + std::to_string(https_port)}, &out) == 1);
    CHECK_MESSAGE(out.find("UNREACHABLE") != std::string::npos, out);
    CHECK(RunTandem({"status", "--http", url, "--cacert", dir.Join("nope.pem")}, &out) == 2);
    CHECK_MESSAGE(out.find("--cacert") != std::string::npos, out);
    CHECK(out.find("nope.pem") != std::string::npos);
  }
}

}  // namespace tandem::test
