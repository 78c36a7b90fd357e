// config_tls_test.cc: the TLS words of the configuration (server/config.h): `tls:` with
// nats-server's keys, `https`, `ft.tls`, the --tls* flags, verify_and_map's rules for users
// and the pair, and their errors.
#include <string>

#include <doctest/doctest.h>

#include "server/config.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_certs.h"

namespace tandem::server {
namespace {

struct Certs : test::TlsCertDir {
  std::string Tls(const std::string& more = "") const {
    return "tls: {cert_file: " + files.server_cert + ", key_file: " + files.server_key + more +
           "}\n";
  }
};

std::string ErrorOf(const std::string& yaml, const ConfigOverrides& o = {}) {
  auto c = ParseConfig(yaml, o);
  INFO("yaml: ", yaml);
  REQUIRE_FALSE(c.ok());
  return c.status().message();
}

}  // namespace

TEST_SUITE("config_tls") {
  TEST_CASE("config_tls: the tls section with nats-server's keys") {
    Certs c;
    auto cfg = ParseConfig(c.Tls(", ca_file: " + c.files.ca +
                                 ", verify: true, timeout: 0.5, min_version: \"1.3\""));
    REQUIRE_MESSAGE(cfg.ok(), cfg.status().ToString());
    CHECK(cfg->core.tls.enabled);
    CHECK(cfg->core.tls.verify);
    CHECK(cfg->core.tls.timeout_ms == 500);
    CHECK(cfg->core.tls.min_version == "1.3");
    auto d = ParseConfig(c.Tls(", timeout: 750ms"));
    REQUIRE(d.ok());
    CHECK(d->core.tls.timeout_ms == 750);
    CHECK_FALSE(d->core.tls.verify);
    auto none = ParseConfig("");
    REQUIRE(none.ok());
    CHECK_FALSE(none->core.tls.enabled);
    // The context is built once, here, and shared by the client port and https.
    CHECK(cfg->core.tls_context != nullptr);
    CHECK(none->core.tls_context == nullptr);
  }

  TEST_CASE("config_tls: tls.timeout: seconds or a duration, 0 is no deadline") {
    Certs c;
    auto ms = [&](const std::string& v) -> int64_t {
      auto cfg = ParseConfig(c.Tls(", timeout: " + v));
      return cfg.ok() ? static_cast<int64_t>(cfg->core.tls.timeout_ms) : -1;
    };
    CHECK(ms("0") == 0);
    CHECK(ms("0s") == 0);
    CHECK(ms("2") == 2000);
    CHECK(ms("0.0004") == 1);  // a nonzero deadline is at least 1 ms
    CHECK(ms("1m") == 60000);
    CHECK(ms("-1") == -1);
    CHECK(ms("86401") == -1);
    CHECK(ErrorOf("tls: {timeout: 90000}\n") ==
          "config: tls.timeout: \"90000\" must be at least 0 and at most 86400 seconds");
  }

  TEST_CASE("config_tls: https and ft.tls") {
    Certs c;
    auto cfg = ParseConfig(c.Tls() + "https: 127.0.0.1:8443\nft: {tls: {ca_file: " + c.files.ca +
                           "}}\n");
    REQUIRE_MESSAGE(cfg.ok(), cfg.status().ToString());
    CHECK(cfg->http.https);
    CHECK(cfg->http.port == 8443);
    CHECK(cfg->ft_tls.enabled);
    CHECK(cfg->ft_tls.ca_file == c.files.ca);
    CHECK(ErrorOf("https: 127.0.0.1:8443\n") ==
          "config: https: needs the tls section (cert_file, key_file) for its certificate");
    CHECK(ErrorOf(c.Tls() + "http: 127.0.0.1:8222\nhttps: 127.0.0.1:8443\n") ==
          "config: https: http and https cannot both be set (one monitoring port)");
    CHECK(ErrorOf("ft: {tls: {ca_file: /nonexistent/ca.pem}}\n") ==
          "config: ft.tls: ca_file: \"/nonexistent/ca.pem\": No such file or directory");
  }

  TEST_CASE("config_tls: verify_and_map admits users without a password; the pair needs a cert") {
    Certs c;
    const std::string map = c.Tls(", ca_file: " + c.files.ca + ", verify_and_map: true");
    auto cfg = ParseConfig(map + "authorization: {users: [{user: alice@example.com}]}\n");
    REQUIRE_MESSAGE(cfg.ok(), cfg.status().ToString());
    CHECK(cfg->core.auth.users[0].password.empty());
    CHECK(ErrorOf(c.Tls() + "authorization: {users: [{user: alice@example.com}]}\n") ==
          "config: authorization.users[0].password: is missing (only tls.verify_and_map admits a "
          "user without one)");
    // The pair's link is named by its certificate, so it must have one.
    CHECK(ErrorOf(map + "authorization: {users: [{user: pair}]}\nft: {group: g, tls: {ca_file: " +
                  c.files.ca + "}}\n") ==
          "config: ft.tls.cert_file: must be set: tls.verify_and_map takes the pair's user from "
          "its certificate");
    auto pair = ParseConfig(map + "authorization: {users: [{user: pair}]}\nft: {group: g, tls: "
                                  "{ca_file: " + c.files.ca + ", cert_file: " +
                            c.files.client_cert + ", key_file: " + c.files.client_key + "}}\n");
    CHECK_MESSAGE(pair.ok(), pair.status().ToString());
  }

  TEST_CASE("config_tls: nats-server's flags") {
    Certs c;
    ConfigOverrides o;
    o.tls_cert = c.files.server_cert;
    o.tls_key = c.files.server_key;
    o.tls_ca = c.files.ca;
    o.tls_verify = true;
    auto cfg = ParseConfig("", o);
    REQUIRE_MESSAGE(cfg.ok(), cfg.status().ToString());
    CHECK(cfg->core.tls.enabled);
    CHECK(cfg->core.tls.verify);
    CHECK(cfg->core.tls.ca_file == c.files.ca);
    ConfigOverrides bare;
    bare.tls = true;
    CHECK(ErrorOf("", bare) == "config: tls: cert_file: must be set");
  }

  TEST_CASE("config_tls: bad values name the key") {
    CHECK(ErrorOf("tls: {verfy: true}\n").find("config: tls.verfy: unknown key") == 0);
    CHECK(ErrorOf("tls: {min_version: \"1.1\"}\n") ==
          "config: tls.min_version: \"1.1\" is not a TLS version (1.2 or 1.3)");
    CHECK(ErrorOf("tls: {timeout: soon}\n").find("config: tls.timeout: \"soon\" is not a") == 0);
    CHECK(ErrorOf("tls: {verify: maybe}\n").find("config: tls.verify:") == 0);
    CHECK(ErrorOf("tls: {cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem}\n") ==
          "config: tls: cert_file: \"/nonexistent/c.pem\": No such file or directory");
  }
}

}  // namespace tandem::server
