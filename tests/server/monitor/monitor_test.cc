// monitor_test.cc: the monitoring endpoints over a fake MonitorSource: JSON shapes and values,
// pagination and filters, 404 and 503 answers, the standby's view, metrics.
#include "server/monitor/monitor.h"

#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

namespace tandem::server {
namespace {

using nlohmann::json;

constexpr int64_t kStart = 1767225600LL * 1000000000;               // 2026-01-01T00:00:00Z
constexpr int64_t kNow = kStart + 3723 * 1000000000LL + 500000000;  // +1h2m3.5s

SubscriptionInfo Sub(std::string channel, std::string client, uint64_t pending, bool stalled) {
  SubscriptionInfo s;
  s.channel = std::move(channel);
  s.client_id = std::move(client);
  s.inbox = "_INBOX.x";
  s.ack_inbox = "_STAN.ack.y";
  s.max_inflight = 2;
  s.ack_wait_s = 30;
  s.last_sent = 5;
  s.pending_count = pending;
  s.is_stalled = stalled;
  return s;
}

class FakeSource : public MonitorSource {
 public:
  IdentityInfo id{"test-cluster", "SRVID", "NATSID", 4333, "a", "0.1.0", kStart};
  RoleInfo role_info;
  CoreCounters core{10, 100, 20, 200, 2, 5, 1, 7};
  StreamingStats stan{3, 30, 4, 40, 1, 6, 2, 1, 3};
  std::vector<ChannelInfo> chans;
  std::vector<ClientInfo> cls;
  std::vector<ConnInfo> conns;
  store::ReclaimProgress reclaim{1, 5000, 45000};

  FakeSource() {
    role_info.state = ServerState::kFtActive;
    role_info.role = "active";
    role_info.name = "a";
    role_info.group = "pair";
    role_info.epoch = 7;
    role_info.takeovers = 1;
    role_info.serving = true;
    role_info.healthy = true;
    role_info.peers.push_back({"b", "standby", 7, 40, true});
    ChannelInfo foo{"foo", 3, 300, 1, 3, 1, {}};
    foo.subs.push_back(Sub("foo", "c1", 2, true));
    ChannelInfo bar{"bar", 0, 0, 5, 4, 1, {}};
    SubscriptionInfo dur = Sub("bar", "c2", 0, false);
    dur.durable_name = "dur";
    dur.is_durable = true;
    dur.is_offline = true;
    bar.subs.push_back(dur);
    chans = {foo, bar, ChannelInfo{"baz", 1, 10, 1, 1, 0, {}}};
    ClientInfo c1{"c1", "_INBOX.hb1", 1, {chans[0].subs[0]}};
    ClientInfo c2{"c2", "_INBOX.hb2", 0, {}};
    cls = {c2, c1};
    ConnInfo k1;
    k1.cid = 2;
    k1.ip = "127.0.0.1";
    k1.port = 5000;
    k1.start_ns = kStart;
    k1.last_activity_ns = kNow;
    k1.name = "stan";
    ConnInfo k0 = k1;
    k0.cid = 1;
    conns = {k1, k0};
  }

  IdentityInfo identity() const override { return id; }
  RoleInfo role() const override { return role_info; }
  std::optional<CoreCounters> core_stats() const override {
    if (!role_info.serving) return std::nullopt;
    return core;
  }
  std::vector<ConnInfo> connections() const override { return conns; }
  StreamingStats streaming_stats() const override { return stan; }
  std::vector<ChannelInfo> channels(bool with_subs) const override {
    auto out = chans;
    if (!with_subs)
      for (auto& c : out) c.subs.clear();
    return out;
  }
  std::optional<ChannelInfo> channel(std::string_view name, bool with_subs) const override {
    for (auto c : chans) {
      if (c.name == name) {
        if (!with_subs) c.subs.clear();
        return c;
      }
    }
    return std::nullopt;
  }
  std::vector<ClientInfo> clients(bool with_subs) const override {
    auto out = cls;
    if (!with_subs)
      for (auto& c : out) c.subs.clear();
    return out;
  }
  std::optional<ClientInfo> client(std::string_view id_, bool with_subs) const override {
    for (auto c : cls) {
      if (c.id == id_) {
        if (!with_subs) c.subs.clear();
        return c;
      }
    }
    return std::nullopt;
  }
  uint64_t subscription_count() const override { return 2; }
  store::ReclaimProgress store_reclaim() const override { return reclaim; }
};

struct Fixture {
  FakeSource source;
  MetricsRegistry metrics;
  Monitor monitor;
  Fixture() : monitor(&source, &metrics, Options()) {}
  // The default settings, with limits entries "foo.>" (max_msgs 10) and "foo.bar" (max_age 5)
  // resolved, as MonitorOptionsFrom gives them (monitor_adapter_test.cc checks that).
  static MonitorOptions Options() {
    MonitorOptions o;
    o.now_ns = [] { return kNow; };
    o.core = {"0.0.0.0", 4222, 65536, 120000000000LL, 2, 4096, 1048576, 67108864, 10000000000LL};
    o.limits.max_channels = 100;
    o.limits.global = {1000000, 1024000000, 0, 1000, 0};
    o.limits.channels = {{"foo.>", {10, 1024000000, 0, 1000, 0}},
                         {"foo.bar", {10, 1024000000, 5, 1000, 0}}};
    return o;
  }
};

HttpRequest Get(std::string path, std::string query = {}) {
  HttpRequest r;
  r.method = "GET";
  r.path = std::move(path);
  r.query = std::move(query);
  r.params = HttpServer::ParseQuery(r.query);
  return r;
}

json Body(const HttpResponse& r) {
  REQUIRE(r.content_type == "application/json");
  return json::parse(r.body);
}

// The keys of a JSON object in the order the answer gives them.
std::vector<std::string> Keys(const nlohmann::ordered_json& j) {
  std::vector<std::string> out;
  for (const auto& item : j.items()) out.push_back(item.key());
  return out;
}

nlohmann::ordered_json Ordered(const HttpResponse& r) {
  REQUIRE(r.content_type == "application/json");
  return nlohmann::ordered_json::parse(r.body);
}

bool HasHeader(const HttpResponse& r, const std::string& name, const std::string& value) {
  for (const auto& [k, v] : r.headers) {
    if (k == name && v == value) return true;
  }
  return false;
}

TEST_SUITE("monitor") {
  TEST_CASE("monitor: serverz reports state, counts, role, epoch and standbys") {
    Fixture f;
    HttpResponse r = f.monitor.Serverz(Get("/streaming/serverz"));
    CHECK(r.status == 200);
    CHECK(HasHeader(r, "Access-Control-Allow-Origin", "*"));
    CHECK(r.body.find("\n  \"cluster_id\": \"test-cluster\",\n") != std::string::npos);  // dump(2)
    json j = Body(r);
    CHECK(j["cluster_id"] == "test-cluster");
    CHECK(j["server_id"] == "SRVID");
    CHECK(j["state"] == "FT_ACTIVE");
    CHECK(j["role"] == "active");
    CHECK(j["now"] == "2026-01-01T01:02:03.5Z");
    CHECK(j["start_time"] == "2026-01-01T00:00:00Z");
    CHECK(j["uptime"] == "1h2m3s");
    CHECK(j["clients"] == 2);
    CHECK(j["subscriptions"] == 2);
    CHECK(j["channels"] == 3);
    CHECK(j["total_msgs"] == 4);
    CHECK(j["total_bytes"] == 310);
    CHECK(j["in_msgs"] == 3);
    CHECK(j["out_bytes"] == 40);
    CHECK(j["epoch"] == 7);
    CHECK(j["forged_requests"] ==
          json{{"ack", 6}, {"unsubscribe", 2}, {"subclose", 1}, {"close", 3}});
    CHECK(j["ft_group"] == "pair");
    REQUIRE(j["standbys"].size() == 1);
    CHECK(j["standbys"][0]["name"] == "b");
    CHECK(j["standbys"][0]["heartbeat_age_ms"] == 40);
    CHECK_FALSE(j.contains("active"));
    CHECK_FALSE(j.contains("last_takeover"));  // the fake source has no time for it

    f.source.role_info.last_takeover_ns = kStart + 60 * 1000000000LL;
    json later = Body(f.monitor.Serverz(Get("/streaming/serverz")));
    CHECK(later["takeovers"] == 1);
    CHECK(later["last_takeover"] == "2026-01-01T00:01:00Z");
  }

  TEST_CASE("monitor: a standby answers serverz, healthz, isFTActive and refuses the rest") {
    Fixture f;
    f.source.role_info.state = ServerState::kFtStandby;
    f.source.role_info.role = "standby";
    f.source.role_info.serving = false;
    f.source.role_info.peers = {{"a", "active", 9, 20, true}};
    json j = Body(f.monitor.Serverz(Get("/streaming/serverz")));
    CHECK(j["state"] == "FT_STANDBY");
    CHECK(j["channels"] == 0);
    CHECK(j["clients"] == 0);
    CHECK(j["active"]["name"] == "a");
    CHECK(j["standbys"].empty());
    CHECK(f.monitor.Healthz(Get("/healthz")).status == 200);
    CHECK(f.monitor.IsFtActive(Get("/streaming/isFTActive")).status == 204);
    using Handler = HttpResponse (Monitor::*)(const HttpRequest&) const;
    for (Handler fn : {&Monitor::Storez, &Monitor::Clientsz, &Monitor::Channelsz, &Monitor::Varz,
                       &Monitor::Connz}) {
      HttpResponse r = (f.monitor.*fn)(Get("/x"));
      CHECK(r.status == 503);
      CHECK(r.body.find("role standby") != std::string::npos);
    }
    f.source.role_info.healthy = false;
    f.source.role_info.health_detail = "store lock attempts failing";
    HttpResponse h = f.monitor.Healthz(Get("/healthz"));
    CHECK(h.status == 503);
    CHECK(Body(h)["error"] == "store lock attempts failing");
  }

  TEST_CASE("monitor: isFTActive is 200 only for FT_ACTIVE") {
    Fixture f;
    CHECK(f.monitor.IsFtActive(Get("/")).status == 200);
    f.source.role_info.state = ServerState::kStandalone;
    CHECK(f.monitor.IsFtActive(Get("/")).status == 204);
  }

  TEST_CASE("monitor: channelsz lists sorted names with offset and limit") {
    Fixture f;
    json j = Body(f.monitor.Channelsz(Get("/streaming/channelsz")));
    CHECK(j["names"] == json::array({"bar", "baz", "foo"}));
    CHECK(j["total"] == 3);
    CHECK(j["count"] == 3);
    CHECK(j["limit"] == 1024);
    CHECK_FALSE(j.contains("channels"));
    j = Body(f.monitor.Channelsz(Get("/streaming/channelsz", "offset=1&limit=1")));
    CHECK(j["names"] == json::array({"baz"}));
    CHECK(j["offset"] == 1);
    CHECK(j["count"] == 1);
    j = Body(f.monitor.Channelsz(Get("/streaming/channelsz", "offset=5")));
    CHECK(j["count"] == 0);
    CHECK_FALSE(j.contains("names"));
    j = Body(f.monitor.Channelsz(Get("/streaming/channelsz", "offset=-3&limit=abc")));
    CHECK(j["offset"] == 0);
    CHECK(j["limit"] == 1024);
  }

  TEST_CASE("monitor: channelsz subs=1 and channel= give Channelz objects") {
    Fixture f;
    json j = Body(f.monitor.Channelsz(Get("/streaming/channelsz", "subs=1")));
    REQUIRE(j["channels"].size() == 3);
    CHECK(j["channels"][0]["name"] == "bar");
    CHECK(j["channels"][0]["first_seq"] == 5);
    CHECK(j["channels"][0]["last_seq"] == 4);
    json dur = j["channels"][0]["subscriptions"][0];
    CHECK(dur["durable_name"] == "dur");
    CHECK(dur["is_offline"] == true);
    CHECK_FALSE(dur.contains("queue_name"));
    CHECK_FALSE(j["channels"][1].contains("subscriptions"));  // baz has none

    j = Body(f.monitor.Channelsz(Get("/streaming/channelsz", "channel=foo")));
    CHECK(j["name"] == "foo");
    CHECK(j["msgs"] == 3);
    CHECK(j["bytes"] == 300);
    CHECK(j["subs_count"] == 1);
    CHECK_FALSE(j.contains("subscriptions"));
    j = Body(f.monitor.Channelsz(Get("/streaming/channelsz", "channel=foo&subs=1")));
    json s = j["subscriptions"][0];
    CHECK(s["client_id"] == "c1");
    CHECK(s["pending_count"] == 2);
    CHECK(s["is_stalled"] == true);
    CHECK(s["max_inflight"] == 2);
    CHECK(s["ack_wait"] == 30);
    CHECK(s["last_sent"] == 5);
    CHECK(s["is_durable"] == false);
    CHECK_FALSE(s.contains("inbox"));  // inboxes only when asked for
    CHECK_FALSE(s.contains("ack_inbox"));
    j = Body(f.monitor.Channelsz(Get("/streaming/channelsz", "channel=foo&subs=1&inboxes=1")));
    CHECK(j["subscriptions"][0]["inbox"] == "_INBOX.x");
    CHECK(j["subscriptions"][0]["ack_inbox"] == "_STAN.ack.y");
    j = Body(f.monitor.Channelsz(Get("/streaming/channelsz", "subs=1&inboxes=1")));
    CHECK(j["channels"][2]["subscriptions"][0]["ack_inbox"] == "_STAN.ack.y");

    HttpResponse nf = f.monitor.Channelsz(Get("/streaming/channelsz", "channel=nope"));
    CHECK(nf.status == 404);
    CHECK(nf.body == "Channel nope not found\n");
  }

  TEST_CASE("monitor: clientsz lists sorted clients; client= and subs=1") {
    Fixture f;
    json j = Body(f.monitor.Clientsz(Get("/streaming/clientsz")));
    REQUIRE(j["clients"].size() == 2);
    CHECK(j["clients"][0]["id"] == "c1");
    CHECK_FALSE(j["clients"][0].contains("hb_inbox"));  // inboxes only when asked for
    j = Body(f.monitor.Clientsz(Get("/streaming/clientsz", "inboxes=1")));
    CHECK(j["clients"][0]["hb_inbox"] == "_INBOX.hb1");
    CHECK_FALSE(j["clients"][0].contains("subscriptions"));
    CHECK(j["total"] == 2);
    j = Body(f.monitor.Clientsz(Get("/streaming/clientsz", "limit=1&offset=1")));
    CHECK(j["clients"][0]["id"] == "c2");
    CHECK(j["count"] == 1);
    j = Body(f.monitor.Clientsz(Get("/streaming/clientsz", "client=c1&subs=1")));
    CHECK(j["id"] == "c1");
    CHECK_FALSE(j.contains("hb_inbox"));
    CHECK_FALSE(j["subscriptions"]["foo"][0].contains("inbox"));
    CHECK_FALSE(j["subscriptions"]["foo"][0].contains("ack_inbox"));
    j = Body(f.monitor.Clientsz(Get("/streaming/clientsz", "client=c1&subs=1&inboxes=1")));
    CHECK(j["hb_inbox"] == "_INBOX.hb1");
    CHECK(j["subscriptions"]["foo"][0]["inbox"] == "_INBOX.x");
    CHECK(j["subscriptions"]["foo"][0]["ack_inbox"] == "_STAN.ack.y");
    HttpResponse nf = f.monitor.Clientsz(Get("/streaming/clientsz", "client=zz"));
    CHECK(nf.status == 404);
    CHECK(nf.body == "Client zz not found\n");
  }

  TEST_CASE("monitor: storez reports type, limits in ns and per-channel limits") {
    Fixture f;
    json j = Body(f.monitor.Storez(Get("/streaming/storez")));
    CHECK(j["type"] == "SQL");
    CHECK(j["total_msgs"] == 4);
    CHECK(j["limits"]["max_channels"] == 100);
    CHECK(j["limits"]["max_msgs"] == 1000000);
    CHECK(j["limits"]["max_bytes"] == 1024000000);
    CHECK(j["limits"]["max_age"] == 0);
    CHECK(j["limits"]["max_subscriptions"] == 1000);
    CHECK(j["limits"]["channels"]["foo.>"]["max_msgs"] == 10);
    CHECK(j["limits"]["channels"]["foo.>"]["max_bytes"] == 1024000000);
    CHECK(j["limits"]["channels"]["foo.bar"]["max_age"] == 5);
    CHECK(j["limits"]["channels"]["foo.bar"]["max_msgs"] == 10);
  }

  TEST_CASE("monitor: varz and connz use nats-server field names") {
    Fixture f;
    json v = Body(f.monitor.Varz(Get("/varz")));
    for (const char* key : {"server_id", "version", "connections", "total_connections", "in_msgs",
                            "out_msgs", "in_bytes", "out_bytes", "slow_consumers", "subscriptions",
                            "uptime", "max_payload", "start", "now", "mem", "cores"}) {
      CHECK_MESSAGE(v.contains(key), key);
    }
    CHECK(v["in_msgs"] == 10);
    CHECK(v["server_id"] == "NATSID");
    CHECK(v["port"] == 4333);
    CHECK(v["total_connections"] == 5);
    CHECK(v["max_payload"] == 1048576);
    json c = Body(f.monitor.Connz(Get("/connz", "limit=1")));
    CHECK(c["total"] == 2);
    CHECK(c["server_id"] == "NATSID");
    CHECK(c["num_connections"] == 1);
    CHECK(c["connections"][0]["cid"] == 1);
    CHECK(c["connections"][0]["uptime"] == "1h2m3s");
    CHECK(c["connections"][0]["name"] == "stan");
  }

  TEST_CASE("monitor: storez gives every limit, in order, and no channels key without entries") {
    Fixture f;
    nlohmann::ordered_json j = Ordered(f.monitor.Storez(Get("/streaming/storez")));
    CHECK(Keys(j) == std::vector<std::string>{"cluster_id", "server_id", "now", "type", "limits",
                                              "total_msgs", "total_bytes", "file_bytes",
                                              "wal_bytes", "page_bytes", "pages", "free_pages",
                                              "reclaim"});
    CHECK(Keys(j["reclaim"]) == std::vector<std::string>{"channels", "rows_left",
                                                         "rows_reclaimed"});
    CHECK(j["cluster_id"] == "test-cluster");
    CHECK(j["server_id"] == "SRVID");
    CHECK(j["now"] == "2026-01-01T01:02:03.5Z");
    CHECK(j["total_bytes"] == 310);
    const auto& limits = j["limits"];
    CHECK(Keys(limits) == std::vector<std::string>{
                              "max_channels", "max_msgs", "max_bytes", "max_age",
                              "max_subscriptions", "max_inactivity", "max_deliveries",
                              "dead_letter", "redelivery_backoff", "channels"});
    CHECK(limits["max_inactivity"] == 0);
    CHECK(Keys(limits["channels"]) == std::vector<std::string>{"foo.>", "foo.bar"});
    const auto& row = limits["channels"]["foo.bar"];
    CHECK(Keys(row) == std::vector<std::string>{"max_msgs", "max_bytes", "max_age",
                                                "max_subscriptions", "max_inactivity",
                                                "max_deliveries", "dead_letter",
                                                "redelivery_backoff"});
    CHECK(row["max_deliveries"] == 0);
    CHECK(row["dead_letter"] == "");
    CHECK(row["redelivery_backoff"]["initial"] == 0);
    CHECK(row["max_bytes"] == 1024000000);
    CHECK(row["max_subscriptions"] == 1000);
    CHECK(row["max_inactivity"] == 0);

    MetricsRegistry metrics;
    MonitorOptions plain = Fixture::Options();
    plain.limits.channels.clear();
    Monitor m(&f.source, &metrics, plain);
    nlohmann::ordered_json p = Ordered(m.Storez(Get("/streaming/storez")));
    CHECK_FALSE(p["limits"].contains("channels"));
    CHECK(p["limits"]["max_msgs"] == 1000000);
  }

  TEST_CASE("monitor: varz gives every core setting and counter in nats-server's order") {
    Fixture f;
    nlohmann::ordered_json v = Ordered(f.monitor.Varz(Get("/varz")));
    CHECK(Keys(v) == std::vector<std::string>{
                         "server_id", "server_name", "version", "proto", "go", "host", "port",
                         "max_connections", "ping_interval", "ping_max", "http_host", "http_port",
                         "max_control_line", "max_payload", "max_pending", "write_deadline",
                         "start", "now", "uptime", "mem", "cores", "cpu", "connections",
                         "total_connections", "routes", "remotes", "leafnodes", "in_msgs",
                         "out_msgs", "in_bytes", "out_bytes", "slow_consumers", "subscriptions"});
    CHECK(v["server_name"] == "a");
    CHECK(v["version"] == "0.1.0");
    CHECK(v["proto"] == 1);
    CHECK(v["host"] == "0.0.0.0");
    CHECK(v["max_connections"] == 65536);
    CHECK(v["ping_interval"] == 120000000000LL);
    CHECK(v["ping_max"] == 2);
    CHECK(v["http_host"] == "");
    CHECK(v["http_port"] == 0);  // no HttpServer registered
    CHECK(v["max_control_line"] == 4096);
    CHECK(v["max_pending"] == 67108864);
    CHECK(v["write_deadline"] == 10000000000LL);
    CHECK(v["start"] == "2026-01-01T00:00:00Z");
    CHECK(v["now"] == "2026-01-01T01:02:03.5Z");
    CHECK(v["uptime"] == "1h2m3s");
    CHECK(v["connections"] == 2);
    CHECK(v["routes"] == 0);
    CHECK(v["remotes"] == 0);
    CHECK(v["leafnodes"] == 0);
    CHECK(v["out_msgs"] == 20);
    CHECK(v["in_bytes"] == 100);
    CHECK(v["out_bytes"] == 200);
    CHECK(v["slow_consumers"] == 1);
    CHECK(v["subscriptions"] == 7);
    // Before the core has bound (client_port 0), the configured port is reported.
    f.source.id.client_port = 0;
    CHECK(Body(f.monitor.Varz(Get("/varz")))["port"] == 4222);
  }

  TEST_CASE("monitor: healthz, JSONP and the streaming index") {
    Fixture f;
    HttpResponse h = f.monitor.Healthz(Get("/healthz"));
    CHECK(h.status == 200);
    CHECK(Body(h)["status"] == "ok");
    HttpResponse p = f.monitor.Serverz(Get("/streaming/serverz", "callback=cb"));
    CHECK(p.content_type == "application/javascript");
    CHECK(p.body.rfind("cb({", 0) == 0);
    CHECK(f.monitor.Serverz(Get("/s", "callback=a<b")).content_type == "application/json");
    CHECK(f.monitor.StreamingIndex(Get("/streaming")).body.find("/streaming/channelsz") !=
          std::string::npos);
  }

  TEST_CASE("monitor: metrics expose role, epoch, channels, pending and commits") {
    Fixture f;
    f.monitor.RecordCommit(2, 10, 3000000);  // 3 ms
    HttpResponse r = f.monitor.Metrics(Get("/metrics"));
    CHECK(r.content_type == MetricsRegistry::kContentType);
    const std::string& m = r.body;
    for (const char* line :
         {"tandem_ft_active 1\n",
          "tandem_ft_epoch 7\n",
          "tandem_ft_takeovers_total 1\n",
          "tandem_ft_standbys 1\n",
          "tandem_ft_role{role=\"active\",state=\"FT_ACTIVE\"} 1\n",
          "tandem_ft_peer_heartbeat_age_seconds{peer=\"b\",role=\"standby\"} 0.04\n",
          "tandem_nats_in_msgs_total 10\n",
          "tandem_nats_in_bytes_total 100\n",
          "tandem_nats_out_msgs_total 20\n",
          "tandem_nats_out_bytes_total 200\n",
          "tandem_nats_connections_total 5\n",
          "tandem_nats_subscriptions 7\n",
          "tandem_nats_connections 2\n",
          "tandem_nats_slow_consumers_total 1\n",
          "tandem_stan_in_msgs_total 3\n",
          "tandem_stan_redeliveries_total 1\n",
          "tandem_stan_forged_requests_total{kind=\"ack\"} 6\n",
          "tandem_stan_forged_requests_total{kind=\"close\"} 3\n",
          "tandem_stan_channels 3\n",
          "tandem_stan_channel_msgs{channel=\"foo\"} 3\n",
          "tandem_stan_channel_bytes{channel=\"foo\"} 300\n",
          "tandem_stan_channel_pending_acks{channel=\"foo\"} 2\n",
          "tandem_stan_channel_stalled_subscriptions{channel=\"foo\"} 1\n",
          "tandem_stan_pending_acks 2\n",
          "tandem_store_commits_total 1\n",
          "tandem_store_commit_seconds_bucket{le=\"0.005\"} 1\n",
          "tandem_store_commit_seconds_bucket{le=\"0.0025\"} 0\n",
          "tandem_store_commit_ops_count 1\n",
          "tandem_store_commit_batches_sum 2\n"}) {
      CHECK_MESSAGE(m.find(line) != std::string::npos, line);
    }
    // A deleted channel disappears from the next scrape.
    f.source.chans.pop_back();
    std::string again = f.monitor.Metrics(Get("/metrics")).body;
    CHECK(again.find("channel=\"baz\"") == std::string::npos);
    CHECK(again.find("tandem_stan_channel_msgs{channel=\"foo\"} 3\n") != std::string::npos);
  }

  TEST_CASE("monitor: storez and metrics give the reclaim of deleted channels") {
    Fixture f;
    json j = Body(f.monitor.Storez(Get("/streaming/storez")));
    CHECK(j["reclaim"]["channels"] == 1);
    CHECK(j["reclaim"]["rows_left"] == 5000);
    CHECK(j["reclaim"]["rows_reclaimed"] == 45000);
    std::string m = f.monitor.Metrics(Get("/metrics")).body;
    for (const char* text : {"# TYPE tandem_store_reclaim_channels gauge\n",
                             "tandem_store_reclaim_channels 1\n",
                             "# TYPE tandem_store_reclaim_rows gauge\n",
                             "tandem_store_reclaim_rows 5000\n",
                             "# TYPE tandem_store_reclaimed_rows_total counter\n",
                             "tandem_store_reclaimed_rows_total 45000\n"}) {
      CHECK_MESSAGE(m.find(text) != std::string::npos, text);
    }
    f.source.reclaim = {0, 0, 50000};  // done
    m = f.monitor.Metrics(Get("/metrics")).body;
    CHECK(m.find("tandem_store_reclaim_channels 0\n") != std::string::npos);
    CHECK(m.find("tandem_store_reclaim_rows 0\n") != std::string::npos);
    CHECK(m.find("tandem_store_reclaimed_rows_total 50000\n") != std::string::npos);
  }

}  // TEST_SUITE
}  // namespace
}  // namespace tandem::server
