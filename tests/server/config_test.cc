// config_test.cc: the YAML configuration and flag overrides (server/config.h): every key, the
// defaults, the value syntaxes, and each error path with its exact message.
#include "server/config.h"

#include <string>
#include <utility>

#include <doctest/doctest.h>

#include "server/stan/channel.h"
#include "tests/support/temp_dir.h"

namespace tandem::server {
namespace {

Config MustParse(std::string_view yaml, const ConfigOverrides& o = {}) {
  auto c = ParseConfig(yaml, o);
  INFO("yaml: ", std::string(yaml));
  INFO("status: ", c.status().ToString());
  REQUIRE(c.ok());
  return std::move(c).value();
}

std::string ErrorOf(std::string_view yaml, const ConfigOverrides& o = {}) {
  auto c = ParseConfig(yaml, o);
  INFO("yaml: ", std::string(yaml));
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().IsInvalidArgument());
  return c.status().message();
}

constexpr std::string_view kFullExample = R"(
listen: 127.0.0.1:5222
http: 127.0.0.1:8222
cluster_id: prod-cluster
log_level: debug
log_format: json
store: {dir: /var/lib/tandem, sync: normal, deliver: committed}
nats: {max_payload: 2MiB, max_control_line: 8KiB, max_connections: 1000, max_pending: 32MiB,
       max_subscriptions: 500, ping_interval: 1m, max_pings_out: 3, write_deadline: 5s, server_name: "n1",
       connect_urls: ["127.0.0.1:5222", "10.0.0.2:5222"]}
streaming: {discover_prefix: _STAN.disc, hb_interval: 10s, hb_timeout: 2s,
            hb_fail_count: 5, replace_durable: true}
limits:
  max_channels: 10
  max_msgs: 500
  max_bytes: 1GB
  max_age: 1h30m
  max_subs: 20
  max_inactivity: 10m
  channels:
    "orders.*": {max_msgs: 5000, max_age: 24h}
    audit: {max_bytes: 0}
ft: {group: g1, name: node-a, peers: ["127.0.0.1:5222", "127.0.0.1:5223"], heartbeat: 250ms,
     missed: 4}
)";

}  // namespace

TEST_SUITE("config") {
  TEST_CASE("config: no file gives the documented defaults") {
    Config c = MustParse("");
    CHECK(c.core.host == "0.0.0.0");
    CHECK(c.core.port == 4222);
    CHECK(c.core.max_payload == 1024 * 1024);
    CHECK(c.core.max_control_line == 4096);
    CHECK(c.core.max_connections == 65536);
    CHECK(c.core.max_subscriptions == 0);  // unlimited, as in nats-server
    CHECK(c.core.max_pending_bytes == 64u * 1024 * 1024);
    CHECK(c.core.ping_interval_ms == 120000);
    CHECK(c.core.max_pings_out == 2);
    CHECK(c.core.write_deadline_ms == 10000);
    CHECK(c.core.connect_urls.empty());
    CHECK(c.http.host.empty());
    CHECK(c.stan.cluster_id == "test-cluster");
    CHECK(c.stan.discover_prefix == "_STAN.discover");
    CHECK(c.stan.hb_interval_ms == 30000);
    CHECK(c.stan.limits.max_channels == 100);
    CHECK(c.stan.limits.max_msgs == 1000000);
    CHECK(c.stan.limits.max_bytes == 1024000000);
    CHECK(c.stan.limits.channels.empty());
    CHECK(c.store_dir == "./tandem-data");
    CHECK(c.store.path == "./tandem-data/store.db");
    CHECK(c.store.sync == store::SyncMode::kFull);
    CHECK(!c.stan.deliver_on_commit);  // store.deliver: synced
    CHECK(c.ft.group.empty());
    CHECK(c.ft.peers.empty());
    CHECK(c.ft.heartbeat_ms == 100);
    CHECK(c.ft.missed == 3);
    CHECK(c.log_level == LogLevel::kInfo);
    CHECK(c.log_format == LogFormat::kText);

    SUBCASE("an empty map and comments are the same as nothing") {
      Config e = MustParse("# nothing\n{}\n");
      CHECK(e.core.port == 4222);
    }
    SUBCASE("LoadConfig without a path") {
      auto l = LoadConfig("");
      REQUIRE(l.ok());
      CHECK(l->store.path == "./tandem-data/store.db");
    }
  }

  TEST_CASE("config: every key of the full example") {
    Config c = MustParse(kFullExample);
    CHECK(c.core.host == "127.0.0.1");
    CHECK(c.core.port == 5222);
    CHECK(c.http.host == "127.0.0.1");
    CHECK(c.http.port == 8222);
    CHECK(c.stan.cluster_id == "prod-cluster");
    CHECK(c.log_level == LogLevel::kDebug);
    CHECK(c.log_format == LogFormat::kJson);
    CHECK(c.store_dir == "/var/lib/tandem");
    CHECK(c.store.path == "/var/lib/tandem/store.db");
    CHECK(c.store.sync == store::SyncMode::kNormal);
    CHECK(c.stan.deliver_on_commit);
    CHECK(c.core.max_payload == 2 * 1024 * 1024);
    CHECK(c.core.max_control_line == 8 * 1024);
    CHECK(c.core.max_connections == 1000);
    CHECK(c.core.max_subscriptions == 500);
    CHECK(c.core.max_pending_bytes == 32u * 1024 * 1024);
    CHECK(c.core.ping_interval_ms == 60000);
    CHECK(c.core.max_pings_out == 3);
    CHECK(c.core.write_deadline_ms == 5000);
    CHECK(c.core.server_name == "n1");
    CHECK(c.core.connect_urls == std::vector<std::string>{"127.0.0.1:5222", "10.0.0.2:5222"});
    CHECK(c.stan.discover_prefix == "_STAN.disc");
    CHECK(c.stan.hb_interval_ms == 10000);
    CHECK(c.stan.hb_timeout_ms == 2000);
    CHECK(c.stan.hb_fail_count == 5);
    CHECK(c.stan.replace_durable);
    const StanLimits& l = c.stan.limits;
    CHECK(l.max_channels == 10);
    CHECK(l.max_msgs == 500);
    CHECK(l.max_bytes == 1000000000);
    CHECK(l.max_age_ns == 5400LL * 1000000000);
    CHECK(l.max_subs == 20);
    CHECK(l.max_inactivity_ns == 600LL * 1000000000);
    REQUIRE(l.channels.size() == 2);
    const LimitsEntry& orders = l.channels.at("orders.*");
    CHECK(orders.max_msgs == 5000u);
    CHECK(orders.max_age_ns == 24LL * 3600 * 1000000000);
    CHECK_FALSE(orders.max_bytes.has_value());  // absent: inherit
    CHECK_FALSE(orders.max_subs.has_value());
    CHECK_FALSE(orders.max_inactivity_ns.has_value());
    const LimitsEntry& audit = l.channels.at("audit");
    CHECK(audit.max_bytes == 0u);  // present and 0: unlimited
    CHECK(c.ft.group == "g1");
    CHECK(c.ft.name == "node-a");
    CHECK(c.ft.peers == std::vector<std::string>{"127.0.0.1:5222", "127.0.0.1:5223"});
    CHECK(c.ft.heartbeat_ms == 250);
    CHECK(c.ft.missed == 4);
  }

  TEST_CASE("config: the example file in scripts/ loads") {
    auto c = LoadConfig(std::string(TANDEM_SOURCE_DIR) + "/scripts/tandem.example.yaml");
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    CHECK(c->stan.limits.channels.count("orders.*") == 1);
  }

  TEST_CASE("config: flags override the file") {
    ConfigOverrides o;
    o.listen = "127.0.0.1:0";
    o.http = "127.0.0.1:9000";
    o.store_dir = "/tmp/x";
    o.cluster_id = "other";
    o.log_level = "warn";
    o.log_format = "text";
    o.sync = "full";
    o.ft_group = "g2";
    o.ft_name = "node-b";
    o.ft_peers = "127.0.0.1:1, 127.0.0.1:2";
    Config c = MustParse(kFullExample, o);
    CHECK(c.core.host == "127.0.0.1");
    CHECK(c.core.port == 0);
    CHECK(c.http.port == 9000);
    CHECK(c.store.path == "/tmp/x/store.db");
    CHECK(c.stan.cluster_id == "other");
    CHECK(c.log_level == LogLevel::kWarn);
    CHECK(c.log_format == LogFormat::kText);
    CHECK(c.store.sync == store::SyncMode::kFull);
    CHECK(c.ft.group == "g2");
    CHECK(c.ft.name == "node-b");
    CHECK(c.ft.peers == std::vector<std::string>{"127.0.0.1:1", "127.0.0.1:2"});
    // Keys without a flag keep the file's value.
    CHECK(c.core.max_payload == 2 * 1024 * 1024);

    SUBCASE("an empty --http turns monitoring off") {
      ConfigOverrides off;
      off.http = "";
      CHECK(MustParse(kFullExample, off).http.host.empty());
    }
  }

  TEST_CASE("config: loading from a file") {
    test::TempDir dir;
    SUBCASE("a good file") {
      auto path = dir.WriteFile("t.yaml", "listen: 127.0.0.1:4333\ncluster_id: abc\n");
      auto c = LoadConfig(path);
      REQUIRE(c.ok());
      CHECK(c->core.port == 4333);
      CHECK(c->stan.cluster_id == "abc");
    }
    SUBCASE("a missing file") {
      auto c = LoadConfig(dir.Join("nope.yaml"));
      REQUIRE_FALSE(c.ok());
      CHECK(c.status().message() ==
            "config: " + dir.Join("nope.yaml") + ": cannot read: No such file or directory");
    }
    SUBCASE("a directory") {
      auto c = LoadConfig(dir.path());
      REQUIRE_FALSE(c.ok());
      CHECK(c.status().message() ==
            "config: " + dir.path() + ": is a directory, not a config file");
    }
    SUBCASE("errors name the file, then the key") {
      auto path = dir.WriteFile("bad.yaml", "limits:\n  max_msgs: abc\n");
      auto c = LoadConfig(path);
      REQUIRE_FALSE(c.ok());
      CHECK(c.status().message() ==
            "config: " + path + ": limits.max_msgs: \"abc\" is not a number");
    }
    SUBCASE("malformed YAML names the line") {
      auto path = dir.WriteFile("bad.yaml", "listen: 127.0.0.1:4222\nlimits: [\n");
      auto c = LoadConfig(path);
      REQUIRE_FALSE(c.ok());
      CHECK(c.status().message().find("config: " + path + ": line 3") == 0);
    }
  }

  TEST_CASE("config: unknown keys, duplicates and wrong shapes") {
    CHECK(ErrorOf("lisen: 1.2.3.4:5") ==
          "config: lisen: unknown key (known: listen, http, https, cluster_id, log_level, "
          "log_format, store, nats, streaming, limits, ft, authorization, tls, backup)");
    CHECK(ErrorOf("nats: {max_payloads: 1}")
              .find("config: nats.max_payloads: unknown key (known: ") == 0);
    CHECK(ErrorOf("store: {path: x}") == "config: store.path: unknown key (known: dir, sync, deliver)");
    CHECK(ErrorOf("streaming: {foo: 1}").find("config: streaming.foo: unknown key") == 0);
    CHECK(ErrorOf("limits: {max_chans: 1}").find("config: limits.max_chans: unknown key") == 0);
    CHECK(ErrorOf("limits: {channels: {foo: {max_channels: 1}}}") ==
          "config: limits.channels.\"foo\".max_channels: unknown key (known: max_msgs, max_bytes, "
          "max_age, max_subs, max_inactivity, max_deliveries, dead_letter, redelivery_backoff)");
    CHECK(ErrorOf("ft: {peer: x}").find("config: ft.peer: unknown key") == 0);
    CHECK(ErrorOf("listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n") == "config: listen: duplicate key");
    CHECK(ErrorOf("- a\n- b\n") == "config: (top level): expected a map, got a list");
    CHECK(ErrorOf("just text") == "config: (top level): expected a map, got a value");
    CHECK(ErrorOf("nats: 5") == "config: nats: expected a map, got a value");
    CHECK(ErrorOf("listen: [a, b]") == "config: listen: expected HOST:PORT, got a list");
    CHECK(ErrorOf("limits: {max_msgs: {a: 1}}") ==
          "config: limits.max_msgs: expected a number, got a map");
    CHECK(ErrorOf("limits: {max_msgs: }") ==
          "config: limits.max_msgs: expected a number, got nothing");
    CHECK(ErrorOf("limits: {channels: [a]}") ==
          "config: limits.channels: expected a map of channel names, got a list");
    CHECK(ErrorOf("ft: {peers: [[a]]}") == "config: ft.peers[0]: expected HOST:PORT, got a list");
  }

  TEST_CASE("config: bad values name the key and the value") {
    CHECK(ErrorOf("limits: {max_msgs: abc}") == "config: limits.max_msgs: \"abc\" is not a number");
    CHECK(ErrorOf("limits: {max_msgs: -5}") ==
          "config: limits.max_msgs: \"-5\" must not be negative");
    CHECK(ErrorOf("limits: {max_msgs: 1.5}") == "config: limits.max_msgs: \"1.5\" is not a number");
    CHECK(ErrorOf("limits: {max_channels: 99999999999999999999999}") ==
          "config: limits.max_channels: \"99999999999999999999999\" is too large");
    CHECK(ErrorOf("limits: {max_subs: x}") == "config: limits.max_subs: \"x\" is not a number");
    CHECK(ErrorOf("limits: {max_bytes: 5XB}") ==
          "config: limits.max_bytes: \"5XB\" is not a size (like 1000, 64KB, 64KiB, 1MiB)");
    CHECK(ErrorOf("limits: {max_bytes: -1KB}") ==
          "config: limits.max_bytes: \"-1KB\" must not be negative");
    CHECK(ErrorOf("limits: {max_age: 5x}") ==
          "config: limits.max_age: \"5x\" is not a duration (like 0, 500ms, 30s, 5m, 24h, 1h30m)");
    CHECK(ErrorOf("limits: {max_age: -1s}") ==
          "config: limits.max_age: \"-1s\" must not be negative");
    CHECK(ErrorOf("limits: {max_inactivity: 30}") ==
          "config: limits.max_inactivity: \"30\" is not a duration (missing unit, like 30s)");
    CHECK(ErrorOf("limits: {channels: {foo: {max_msgs: -1}}}") ==
          "config: limits.channels.\"foo\".max_msgs: \"-1\" must not be negative");
    CHECK(ErrorOf("limits: {channels: {foo: {max_age: soon}}}")
              .find("config: limits.channels.\"foo\".max_age: \"soon\" is not a duration") == 0);
    CHECK(ErrorOf("limits: {channels: {\"foo..bar\": {}}}") ==
          "config: limits.channels.\"foo..bar\": \"foo..bar\" is not a valid subject (non-empty "
          "tokens separated by '.', no whitespace, '>' only last)");
    CHECK(
        ErrorOf("limits: {channels: {\"foo.>.bar\": {}}}")
            .find("config: limits.channels.\"foo.>.bar\": \"foo.>.bar\" is not a valid subject") ==
        0);
    CHECK(ErrorOf("limits: {channels: {\"a b\": {}}}").find("is not a valid subject") !=
          std::string::npos);
    CHECK(MustParse("limits: {channels: {\"foo.>\": {}, \"a.*.c\": {}, \"x*\": {}}}")
              .stan.limits.channels.size() == 3);

    CHECK(ErrorOf("listen: foo") == "config: listen: \"foo\" is not HOST:PORT");
    CHECK(ErrorOf("listen: 1.2.3.4:70000") ==
          "config: listen: \"1.2.3.4:70000\" has a port outside 1..65535");
    CHECK(ErrorOf("listen: 1.2.3.4:http") ==
          "config: listen: \"1.2.3.4:http\" is not HOST:PORT (the port is not a number)");
    CHECK(ErrorOf("listen: \"::1:4222\"") ==
          "config: listen: \"::1:4222\" is not HOST:PORT (write an IPv6 host as [::1]:4222)");
    CHECK(ErrorOf("http: 127.0.0.1:-1") ==
          "config: http: \"127.0.0.1:-1\" is not HOST:PORT (the port is not a number)");
    CHECK(ErrorOf("cluster_id: a.b") ==
          "config: cluster_id: \"a.b\" may contain only letters, digits, '_' and '-'");
    CHECK(ErrorOf("cluster_id: \"\"") == "config: cluster_id: \"\" must not be empty");
    CHECK(ErrorOf("log_level: loud") ==
          "config: log_level: \"loud\" is not a log level (trace, debug, info, warn, error)");
    CHECK(ErrorOf("log_format: xml") ==
          "config: log_format: \"xml\" is not a log format (text or json)");
    CHECK(ErrorOf("log_format: [json]") ==
          "config: log_format: expected text or json, got a list");
    CHECK(ErrorOf("store: {sync: fast}") ==
          "config: store.sync: \"fast\" is not a sync mode (full or normal)");
    CHECK(ErrorOf("store: {dir: \"\"}") == "config: store.dir: \"\" must not be empty");
    CHECK(ErrorOf("store: {deliver: early}") ==
          "config: store.deliver: \"early\" is not a delivery point (synced or committed)");

    CHECK(ErrorOf("nats: {max_payload: 0}") ==
          "config: nats.max_payload: \"0\" must be greater than 0");
    CHECK(ErrorOf("nats: {max_payload: 65MiB}") ==
          "config: nats.max_payload: 68157440 must not exceed nats.max_pending (67108864)");
    CHECK(ErrorOf("nats: {max_connections: 0}") ==
          "config: nats.max_connections: \"0\" must be at least 1");
    CHECK(ErrorOf("nats: {max_connections: 3000000000}") ==
          "config: nats.max_connections: \"3000000000\" must be at most 2147483647");
    CHECK(ErrorOf("nats: {max_subscriptions: -1}") ==
          "config: nats.max_subscriptions: \"-1\" must not be negative");
    CHECK(ErrorOf("nats: {max_subscriptions: 3000000000}") ==
          "config: nats.max_subscriptions: \"3000000000\" must be at most 2147483647");
    CHECK(ErrorOf("nats: {max_subscriptions: many}") ==
          "config: nats.max_subscriptions: \"many\" is not a number");
    CHECK(ErrorOf("nats: {max_pings_out: 0}") ==
          "config: nats.max_pings_out: \"0\" must be at least 1");
    CHECK(ErrorOf("nats: {ping_interval: 0}") ==
          "config: nats.ping_interval: \"0\" must be greater than 0");
    CHECK(ErrorOf("nats: {write_deadline: 10us}") ==
          "config: nats.write_deadline: \"10us\" must be at least 1ms");
    CHECK(ErrorOf("nats: {server_name: \"a b\"}") ==
          "config: nats.server_name: \"a b\" must not contain whitespace");
    CHECK(ErrorOf("nats: {connect_urls: [\"127.0.0.1:1\", \"x\"]}") ==
          "config: nats.connect_urls[1]: \"x\" is not HOST:PORT");
    CHECK(ErrorOf("nats: {connect_urls: [\"127.0.0.1:0\"]}") ==
          "config: nats.connect_urls[0]: \"127.0.0.1:0\" needs a port in 1..65535");

    CHECK(ErrorOf("streaming: {hb_interval: 0}") ==
          "config: streaming.hb_interval: \"0\" must be greater than 0");
    CHECK(ErrorOf("streaming: {hb_timeout: 1d}")
              .find("config: streaming.hb_timeout: \"1d\" is not a duration") == 0);
    CHECK(ErrorOf("streaming: {hb_fail_count: 0}") ==
          "config: streaming.hb_fail_count: \"0\" must be at least 1");
    CHECK(ErrorOf("streaming: {replace_durable: maybe}") ==
          "config: streaming.replace_durable: \"maybe\" is not a boolean (true or false)");
    CHECK(ErrorOf("streaming: {discover_prefix: \"a.*\"}") ==
          "config: streaming.discover_prefix: \"a.*\" must not contain wildcards");

    CHECK(ErrorOf("ft: {heartbeat: 0}") == "config: ft.heartbeat: \"0\" must be greater than 0");
    CHECK(ErrorOf("ft: {missed: 0}") == "config: ft.missed: \"0\" must be at least 1");
    CHECK(ErrorOf("ft: {group: \"a.b\"}") ==
          "config: ft.group: \"a.b\" may contain only letters, digits, '_' and '-'");
    CHECK(ErrorOf("ft: {name: \"a b\"}") == "config: ft.name: \"a b\" must not contain whitespace");
    CHECK(ErrorOf("ft: {peers: \"127.0.0.1:1,nope\"}") ==
          "config: ft.peers: \"nope\" is not HOST:PORT");
  }

  TEST_CASE("config: bad flags name the flag, the key and the value") {
    auto flag_error = [](auto set) {
      ConfigOverrides o;
      set(o);
      return ErrorOf("", o);
    };
    CHECK(flag_error([](ConfigOverrides& o) { o.listen = "nowhere"; }) ==
          "config: --listen (listen): \"nowhere\" is not HOST:PORT");
    CHECK(flag_error([](ConfigOverrides& o) { o.http = "1.2.3.4:99999"; }) ==
          "config: --http (http): \"1.2.3.4:99999\" has a port outside 1..65535");
    CHECK(flag_error([](ConfigOverrides& o) { o.store_dir = ""; }) ==
          "config: --store (store.dir): \"\" must not be empty");
    CHECK(
        flag_error([](ConfigOverrides& o) { o.cluster_id = "a b"; }) ==
        "config: --cluster-id (cluster_id): \"a b\" may contain only letters, digits, '_' and '-'");
    CHECK(flag_error([](ConfigOverrides& o) { o.log_level = "verbose"; }) ==
          "config: --log-level (log_level): \"verbose\" is not a log level (trace, debug, info, "
          "warn, error)");
    CHECK(flag_error([](ConfigOverrides& o) { o.log_format = "JSON"; }) ==
          "config: --log-format (log_format): \"JSON\" is not a log format (text or json)");
    CHECK(flag_error([](ConfigOverrides& o) { o.sync = "fast"; }) ==
          "config: --sync (store.sync): \"fast\" is not a sync mode (full or normal)");
    CHECK(flag_error([](ConfigOverrides& o) { o.ft_group = "g.1"; }) ==
          "config: --ft-group (ft.group): \"g.1\" may contain only letters, digits, '_' and '-'");
    CHECK(flag_error([](ConfigOverrides& o) { o.ft_name = "a\tb"; }) ==
          "config: --ft-name (ft.name): \"a\\x09b\" must not contain whitespace");
    CHECK(flag_error([](ConfigOverrides& o) { o.ft_peers = "127.0.0.1:1,127.0.0.1:0"; }) ==
          "config: --ft-peers (ft.peers): \"127.0.0.1:0\" needs a port in 1..65535");
  }

  TEST_CASE("config: an FT group without peers listens on its own client port") {
    Config c = MustParse("listen: 0.0.0.0:4300\nft: {group: g}\n");
    CHECK(c.ft.peers == std::vector<std::string>{"127.0.0.1:4300"});
    Config v6 = MustParse("listen: \"[::]:4300\"\nft: {group: g}\n");
    CHECK(v6.ft.peers == std::vector<std::string>{"[::1]:4300"});
    CHECK(ErrorOf("listen: 127.0.0.1:0\nft: {group: g}\n") ==
          "config: ft.peers: must be set when ft.group is set and listen has port 0");
    // Without a group nothing is filled in.
    CHECK(MustParse("listen: 0.0.0.0:4300").ft.peers.empty());
  }

  TEST_CASE("config: null values") {
    Config c = MustParse("http:\nnats: {server_name: }\nlimits: {channels: {foo: }}\nft:\n");
    CHECK(c.http.host.empty());
    CHECK(c.core.server_name.empty());
    REQUIRE(c.stan.limits.channels.count("foo") == 1);
    CHECK_FALSE(c.stan.limits.channels.at("foo").max_msgs.has_value());
  }

  TEST_CASE("config: sizes") {
    struct Case {
      const char* text;
      uint64_t want;
    };
    for (auto [text, want] :
         {Case{"0", 0}, Case{"1000", 1000}, Case{"64KB", 64000}, Case{"64KiB", 65536},
          Case{"64kib", 65536}, Case{"1MB", 1000000}, Case{"1MiB", 1048576},
          Case{"1GB", 1000000000}, Case{"1GiB", 1073741824}, Case{"2TiB", 2ULL << 40},
          Case{"1 KiB", 1024}, Case{"10B", 10}, Case{"3K", 3000}}) {
      INFO(text);
      auto r = ParseSizeWithUnit(text);
      REQUIRE(r.ok());
      CHECK(*r == want);
    }
    for (const char* bad : {"", "KB", "1.5MB", "1XB", "1KiBs", "-1", "99999999999TiB"}) {
      INFO(bad);
      CHECK_FALSE(ParseSizeWithUnit(bad).ok());
    }
  }

  TEST_CASE("config: durations") {
    constexpr int64_t kMs = 1000000, kS = 1000 * kMs;
    struct Case {
      const char* text;
      int64_t want;
    };
    for (auto [text, want] :
         {Case{"0", 0}, Case{"500ms", 500 * kMs}, Case{"30s", 30 * kS}, Case{"5m", 300 * kS},
          Case{"24h", 86400 * kS}, Case{"1h30m", 5400 * kS}, Case{"1.5s", 1500 * kMs},
          Case{"250us", 250000}, Case{"7ns", 7}, Case{"1m0.5s", 60 * kS + 500 * kMs},
          Case{"0s", 0}}) {
      INFO(text);
      auto r = ParseDurationNs(text);
      REQUIRE(r.ok());
      CHECK(*r == want);
    }
    for (const char* bad :
         {"", "5", "s", "5x", "-1s", "1h-5m", "1..5s", "10000000000000h", "5 s"}) {
      INFO(bad);
      CHECK_FALSE(ParseDurationNs(bad).ok());
    }
  }

  TEST_CASE("config: HOST:PORT") {
    auto hp = ParseHostPort("127.0.0.1:4222");
    REQUIRE(hp.ok());
    CHECK(hp->host == "127.0.0.1");
    CHECK(hp->port == 4222);
    hp = ParseHostPort(":5000");
    REQUIRE(hp.ok());
    CHECK(hp->host == "0.0.0.0");
    CHECK(hp->port == 5000);
    hp = ParseHostPort("[::1]:0");
    REQUIRE(hp.ok());
    CHECK(hp->host == "::1");
    CHECK(hp->port == 0);
    hp = ParseHostPort("localhost:65535");
    REQUIRE(hp.ok());
    CHECK(hp->host == "localhost");
    for (const char* bad : {"", "4222", "host:", "host:65536", "[::1]", "[]:1", "::1:1", "a b:1"}) {
      INFO(bad);
      CHECK_FALSE(ParseHostPort(bad).ok());
    }
    CHECK(FormatHostPort("::1", 5) == "[::1]:5");
    CHECK(FormatHostPort("10.0.0.1", 5) == "10.0.0.1:5");
  }

  TEST_CASE("config: log levels") {
    for (LogLevel l :
         {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
      auto r = ParseLogLevel(LogLevelName(l));
      REQUIRE(r.ok());
      CHECK(*r == l);
    }
    CHECK_FALSE(ParseLogLevel("INFO").ok());
  }


  TEST_CASE("config: max_deliveries, dead_letter and redelivery_backoff are inherited") {
    Config c = MustParse(R"(
limits:
  max_deliveries: 5
  dead_letter: dlq
  redelivery_backoff: {initial: 1s, max: 1m, factor: 2}
  channels:
    dlq: {dead_letter: ""}
    "orders.*": {max_deliveries: 3, dead_letter: orders.dead}
    orders.dead: {max_deliveries: 0}
    quick: {redelivery_backoff: {initial: 0}}
)");
    const StanLimits& l = c.stan.limits;
    CHECK(l.max_deliveries == 5);
    CHECK(l.dead_letter == "dlq");
    CHECK(l.redelivery_backoff.initial_ns == 1000000000);
    CHECK(l.redelivery_backoff.max_ns == 60000000000);
    CHECK(l.redelivery_backoff.factor == 2.0);
    ResolvedLimits any = ResolveChannelLimits(l, "payments");
    CHECK(any.max_deliveries == 5);
    CHECK(any.dead_letter == "dlq");
    CHECK(any.redelivery_backoff.enabled());
    CHECK(ResolveChannelLimits(l, "dlq").dead_letter.empty());
    ResolvedLimits eu = ResolveChannelLimits(l, "orders.eu");
    CHECK(eu.max_deliveries == 3);
    CHECK(eu.dead_letter == "orders.dead");
    CHECK(ResolveChannelLimits(l, "orders.dead").max_deliveries == 0);
    CHECK_FALSE(ResolveChannelLimits(l, "quick").redelivery_backoff.enabled());
    // The defaults: unlimited, no dead letters, no backoff.
    Config d = MustParse("");
    CHECK(d.stan.limits.max_deliveries == 0);
    CHECK(d.stan.limits.dead_letter.empty());
    CHECK_FALSE(d.stan.limits.redelivery_backoff.enabled());
  }

  TEST_CASE("config: bad redelivery settings name the key and the value") {
    const std::pair<const char*, const char*> cases[] = {
        {"limits: {max_deliveries: -1}",
         "config: limits.max_deliveries: \"-1\" must not be negative"},
        {"limits: {dead_letter: \"a.*\"}",
         "config: limits.dead_letter: \"a.*\" is not a channel name (no wildcards, no empty "
         "tokens)"},
        {"limits: {channels: {foo: {dead_letter: \"x..y\"}}}",
         "config: limits.channels.\"foo\".dead_letter: \"x..y\" is not a channel name (no "
         "wildcards, no empty tokens)"},
        {"limits: {channels: {foo: {dead_letter: foo}}}",
         "config: limits.channels.\"foo\".dead_letter: \"foo\" is the channel itself"},
        // The global dead-letter channel inherits max_deliveries and itself as its dead letter.
        {"limits: {max_deliveries: 3, dead_letter: dlq}",
         "config: limits.dead_letter: \"dlq\": dead letters would go round in a loop (dlq -> "
         "dlq); give dlq its own dead_letter (\"\" for none) or max_deliveries: 0"},
        {"limits: {max_deliveries: 2, channels: {a: {dead_letter: b}, b: {dead_letter: a}}}",
         "config: limits.channels.\"a\".dead_letter: \"b\": dead letters would go round in a "
         "loop (b -> a -> b); give b its own dead_letter (\"\" for none) or max_deliveries: 0"},
        // A wildcard entry that matches its own dead-letter channel.
        {"limits: {channels: {\"orders.*\": {max_deliveries: 2, dead_letter: orders.dlq}}}",
         "config: limits.channels.\"orders.*\".dead_letter: \"orders.dlq\": dead letters would "
         "go round in a loop (orders.dlq -> orders.dlq); give orders.dlq its own dead_letter "
         "(\"\" for none) or max_deliveries: 0"},
        {"limits: {redelivery_backoff: {initial: 2s, max: 1s}}",
         "config: limits.redelivery_backoff.max: must be at least initial"},
        {"limits: {redelivery_backoff: {factor: 0.5}}",
         "config: limits.redelivery_backoff.factor: \"0.5\" is not a factor (a number from 1 "
         "to 1000)"},
        {"limits: {redelivery_backoff: {initial: 1}}",
         "config: limits.redelivery_backoff.initial: \"1\" is not a duration (missing unit, "
         "like 30s)"},
        {"limits: {redelivery_backoff: {start: 1s}}",
         "config: limits.redelivery_backoff.start: unknown key (known: initial, max, factor)"},
    };
    for (const auto& [yaml, message] : cases) CHECK(ErrorOf(yaml) == message);
  }
}  // TEST_SUITE
}  // namespace tandem::server
