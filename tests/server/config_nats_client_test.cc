// config_nats_client_test.cc: the external cluster's keys of `nats:` and --nats-server
// (server/config_nats_client.h): URLs in both forms, defaults, the credential forms and their
// messages (never quoting a secret), the TLS files; and `nats://` accepted in ft.peers.
#include <string>

#include <doctest/doctest.h>

#include "server/config.h"
#include "tests/support/auth_helpers.h"
#include "tests/support/temp_dir.h"

namespace tandem::server {
namespace {

Config MustParse(std::string_view yaml, const ConfigOverrides& o = {}) {
  auto c = ParseConfig(yaml, o);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  return *c;
}

std::string ErrorOf(std::string_view yaml, const ConfigOverrides& o = {}) {
  auto c = ParseConfig(yaml, o);
  REQUIRE_FALSE(c.ok());
  return c.status().message();
}

}  // namespace

TEST_SUITE("config_nats_client") {
  TEST_CASE("config: nats.servers in both forms, and the defaults") {
    Config none = MustParse("");
    CHECK_FALSE(none.external.enabled());
    Config c = MustParse(
        "cluster_id: c1\nnats: {servers: [\"nats://127.0.0.1:4222\", \"h2:4223\", h3]}\n");
    CHECK(c.external.servers ==
          std::vector<std::string>{"nats://127.0.0.1:4222", "nats://h2:4223", "nats://h3:4222"});
    CHECK(c.external.name == "tandem-c1");
    CHECK(c.external.max_reconnects == -1);
    CHECK(c.external.reconnect_wait_ms == 2000);
    CHECK(c.external.ping_interval_ms == 120000);
    CHECK(c.external.max_pings_out == 2);
    Config s = MustParse("nats: {servers: \"h1:1, tls://h2:2\", ping_interval: 5s, "
                         "reconnect_wait: 50ms, max_reconnects: 10, reconnect_buf_size: 1MiB}\n");
    CHECK(s.external.servers == std::vector<std::string>{"nats://h1:1", "tls://h2:2"});
    CHECK(s.external.ping_interval_ms == 5000);
    CHECK(s.external.reconnect_wait_ms == 50);
    CHECK(s.external.max_reconnects == 10);
    CHECK(s.external.reconnect_buf_size == 1024 * 1024);
  }

  TEST_CASE("config: --nats-server replaces nats.servers") {
    ConfigOverrides o;
    o.nats_server = "nats://a:1,b:2";
    Config c = MustParse("nats: {servers: [x:1]}\n", o);
    CHECK(c.external.servers == std::vector<std::string>{"nats://a:1", "nats://b:2"});
    o.nats_server = "ftp://a:1";
    CHECK(ErrorOf("", o) ==
          "config: --nats-server (nats.servers): \"ftp://a:1\" is not a NATS URL "
          "(nats://HOST:PORT, tls://HOST:PORT or HOST:PORT)");
    o.nats_server = ",";
    CHECK(ErrorOf("", o) == "config: --nats-server (nats.servers): needs at least one URL");
  }

  TEST_CASE("config: the external cluster's credentials, one form, secrets never quoted") {
    Config c = MustParse("nats: {servers: [h:1], user: svc, password: s3cret}\n");
    CHECK(c.external.user == "svc");
    CHECK(c.external.password == "s3cret");
    CHECK(MustParse("nats: {servers: [h:1], token: t0k}\n").external.token == "t0k");
    std::string two = ErrorOf("nats: {servers: [h:1], user: svc, password: s3cret, token: t0k}\n");
    CHECK(two.find("one form of credentials") != std::string::npos);
    CHECK(two.find("s3cret") == std::string::npos);
    CHECK(ErrorOf("nats: {servers: [h:1], user: svc}\n") ==
          "config: nats.password: must be set with user");
    CHECK(ErrorOf("nats: {user: svc, password: pw}\n").find("config: nats.servers: must be set") ==
          0);
    std::string url = ErrorOf("nats: {servers: [\"nats://svc:s3cret@h:1\"]}\n");
    CHECK(url.find("nats.servers[0]") != std::string::npos);
    CHECK(url.find("s3cret") == std::string::npos);
  }

  TEST_CASE("config: nkey seed and .creds files are read at start") {
    test::TempDir dir;
    test::UserNkey key = test::MakeUserNkey();
    std::string seed_file = dir.WriteFile("u.nk", key.seed + "\n");
    Config c = MustParse("nats: {servers: [h:1], nkey_seed_file: " + seed_file + "}\n");
    CHECK(c.external.nkey_seed_file == seed_file);
    CHECK(c.external.nkey_public == key.pub);
    std::string missing = dir.Join("none.creds");
    CHECK(ErrorOf("nats: {servers: [h:1], credentials: " + missing + "}\n") ==
          "config: nats.credentials: \"" + missing + "\": cannot read");
    std::string not_creds = dir.WriteFile("x.creds", "hello\n");
    CHECK(ErrorOf("nats: {servers: [h:1], credentials: " + not_creds + "}\n")
              .find("is not a .creds file") != std::string::npos);
    std::string no_ca = dir.Join("ca.pem");
    CHECK(ErrorOf("nats: {servers: [h:1], tls: {ca_file: " + no_ca + "}}\n")
              .find("config: nats.tls: ") == 0);
  }

  TEST_CASE("config: ft.peers and nats.connect_urls accept nats:// URLs") {
    Config c = MustParse(
        "ft: {group: g, peers: [\"nats://127.0.0.1:4222\", \"127.0.0.1:4223\"]}\n"
        "nats: {connect_urls: \"nats://10.0.0.1:4222\"}\n");
    CHECK(c.ft.peers == std::vector<std::string>{"127.0.0.1:4222", "127.0.0.1:4223"});
    CHECK(c.core.connect_urls == std::vector<std::string>{"10.0.0.1:4222"});
    ConfigOverrides o;
    o.ft_peers = "nats://127.0.0.1:5000";
    CHECK(MustParse("", o).ft.peers == std::vector<std::string>{"127.0.0.1:5000"});
  }

  TEST_CASE("config: a group on an external cluster dials no peers") {
    Config c = MustParse("ft: {group: g}\nnats: {servers: [h:1]}\n");
    CHECK(c.ft.peers.empty());
  }
}

}  // namespace tandem::server
