// monitor_test.cc: the monitoring endpoints and `tandem status` through the real binary: JSON
// shapes and values after a known libnats STAN workload (counts, sequences, pending, stalled),
// pagination and filters, 404s, /metrics through `promtool check metrics`, and the output and
// exit status of `tandem status`.
#define NATS_HAS_STREAMING 1  // Debian's libnats is built with the STAN API
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include "server/monitor/status_command.h"
#include "tests/support/ft_harness.h"
#include "tests/support/monitored_server.h"
#include "tests/support/tandem_process.h"

namespace tandem::test {
namespace {

using nlohmann::json;
using server::HttpGet;
using server::HttpReply;

HttpReply Get(int port, const std::string& path) {
  Result<HttpReply> r = HttpGet("127.0.0.1", port, path, 5000);
  REQUIRE_MESSAGE(r.ok(), path << ": " << r.status().ToString());
  return std::move(r).value();
}

json GetJson(int port, const std::string& path) {
  HttpReply r = Get(port, path);
  REQUIRE_MESSAGE(r.status == 200, path << " answered " << r.status << ": " << r.body);
  json j = json::parse(r.body, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), path << " is not JSON: " << r.body);
  return j;
}

// Polls `path` (at most 5 s) until `ready` holds; returns the last answer.
template <typename Pred>
json WaitJson(int port, const std::string& path, Pred ready) {
  json j;
  for (int i = 0; i < 250; ++i) {
    j = GetJson(port, path);
    if (ready(j)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return j;
}

using Server = MonitoredServer;

// Runs `tandem <args>` to the end; returns the exit status and fills `out`.
int RunTandem(const std::vector<std::string>& args, std::string* out) {
  TandemProcess p;
  std::optional<int> status = p.Run(args);
  *out = p.Log();
  REQUIRE(status.has_value());
  return *status;
}

bool HavePromtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

// A libnats STAN client with a durable, manual-ack subscription that never acks.
struct StanClient {
  stanConnection* sc = nullptr;
  stanSubscription* sub = nullptr;
  std::atomic<int> received{0};

  StanClient(int port, const char* client_id) {
    stanConnOptions* opts = nullptr;
    REQUIRE(stanConnOptions_Create(&opts) == NATS_OK);
    std::string url = "nats://127.0.0.1:" + std::to_string(port);
    REQUIRE(stanConnOptions_SetURL(opts, url.c_str()) == NATS_OK);
    REQUIRE(stanConnOptions_SetConnectionWait(opts, 5000) == NATS_OK);
    natsStatus st = stanConnection_Connect(&sc, "test-cluster", client_id, opts);
    stanConnOptions_Destroy(opts);
    REQUIRE_MESSAGE(st == NATS_OK, natsStatus_GetText(st) << ": " << nats_GetLastError(nullptr));
  }
  ~StanClient() {
    if (sub != nullptr) stanSubscription_Destroy(sub);
    if (sc != nullptr) {
      stanConnection_Close(sc);
      stanConnection_Destroy(sc);
    }
  }
  void Publish(const char* channel, int n) {
    for (int i = 0; i < n; ++i) {
      std::string data = "message-" + std::to_string(i);
      REQUIRE(stanConnection_Publish(sc, channel, data.data(), static_cast<int>(data.size())) ==
              NATS_OK);
    }
  }
  static void OnMsg(stanConnection*, stanSubscription*, const char*, stanMsg* msg, void* closure) {
    static_cast<StanClient*>(closure)->received++;
    stanMsg_Destroy(msg);  // never acked: stays pending
  }
  void SubscribeDurable(const char* channel, const char* durable, int max_inflight) {
    stanSubOptions* so = nullptr;
    REQUIRE(stanSubOptions_Create(&so) == NATS_OK);
    stanSubOptions_SetManualAckMode(so, true);
    stanSubOptions_SetMaxInflight(so, max_inflight);
    stanSubOptions_SetDurableName(so, durable);
    stanSubOptions_DeliverAllAvailable(so);
    stanSubOptions_SetAckWait(so, 30000);
    natsStatus st = stanConnection_Subscribe(&sub, sc, channel, OnMsg, this, so);
    stanSubOptions_Destroy(so);
    REQUIRE(st == NATS_OK);
  }
  bool WaitReceived(int n) {
    for (int i = 0; i < 500 && received.load() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return received.load() >= n;
  }
};

TEST_SUITE("monitor_integration") {
  TEST_CASE("monitor: streaming endpoints after a known STAN workload") {
    Server s;
    {
      StanClient c1(s.client_port, "c1");
      StanClient c2(s.client_port, "c2");
      c1.Publish("foo", 10);
      c1.Publish("bar", 3);
      c2.SubscribeDurable("foo", "dur", 2);
      REQUIRE(c2.WaitReceived(2));
      // max_inflight 2 and no acks: exactly two deliveries, then the subscription is stalled.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      CHECK(c2.received.load() == 2);

      json serverz = GetJson(s.http_port, "/streaming/serverz");
      CHECK(serverz["clients"] == 2);
      CHECK(serverz["channels"] == 2);
      CHECK(serverz["subscriptions"] == 1);
      CHECK(serverz["total_msgs"] == 13);
      CHECK(serverz["in_msgs"] == 13);
      CHECK(serverz["out_msgs"] == 2);
      CHECK(serverz["total_bytes"].get<uint64_t>() > 13 * 9);

      json names = GetJson(s.http_port, "/streaming/channelsz");
      CHECK(names["names"] == json::array({"bar", "foo"}));
      CHECK(names["total"] == 2);
      json page = GetJson(s.http_port, "/streaming/channelsz?offset=1&limit=1");
      CHECK(page["names"] == json::array({"foo"}));
      CHECK(page["count"] == 1);

      json foo = GetJson(s.http_port, "/streaming/channelsz?channel=foo&subs=1");
      CHECK(foo["name"] == "foo");
      CHECK(foo["msgs"] == 10);
      CHECK(foo["first_seq"] == 1);
      CHECK(foo["last_seq"] == 10);
      CHECK(foo["subs_count"] == 1);
      REQUIRE(foo["subscriptions"].size() == 1);
      json sub = foo["subscriptions"][0];
      CHECK(sub["client_id"] == "c2");
      CHECK(sub["durable_name"] == "dur");
      CHECK(sub["is_durable"] == true);
      CHECK(sub["is_offline"] == false);
      CHECK(sub["max_inflight"] == 2);
      CHECK(sub["ack_wait"] == 30);
      CHECK(sub["last_sent"] == 2);
      CHECK(sub["pending_count"] == 2);
      CHECK(sub["is_stalled"] == true);

      json all = GetJson(s.http_port, "/streaming/channelsz?subs=1");
      REQUIRE(all["channels"].size() == 2);
      CHECK(all["channels"][0]["name"] == "bar");
      CHECK(all["channels"][0]["msgs"] == 3);
      CHECK_FALSE(all["channels"][0].contains("subscriptions"));

      json clients = GetJson(s.http_port, "/streaming/clientsz");
      REQUIRE(clients["clients"].size() == 2);
      CHECK(clients["clients"][0]["id"] == "c1");
      CHECK(clients["clients"][1]["id"] == "c2");
      CHECK(clients["clients"][1]["subs_count"] == 1);
      json c2z = GetJson(s.http_port, "/streaming/clientsz?client=c2&subs=1");
      CHECK(c2z["subscriptions"]["foo"][0]["durable_name"] == "dur");
      CHECK(GetJson(s.http_port, "/streaming/clientsz?limit=1&offset=1")["clients"][0]["id"] ==
            "c2");

      json storez = GetJson(s.http_port, "/streaming/storez");
      CHECK(storez["type"] == "SQL");
      CHECK(storez["total_msgs"] == 13);
      CHECK(storez["limits"]["max_channels"] == 100);
      CHECK(storez["limits"]["max_msgs"] == 1000000);
      CHECK(storez["limits"]["max_bytes"] == 1024000000);
      CHECK(storez["limits"]["max_subscriptions"] == 1000);
      CHECK_FALSE(storez["limits"].contains("channels"));  // no per-channel entries configured

      HttpReply nf = Get(s.http_port, "/streaming/channelsz?channel=nope");
      CHECK(nf.status == 404);
      CHECK(nf.body == "Channel nope not found\n");
      nf = Get(s.http_port, "/streaming/clientsz?client=nope");
      CHECK(nf.status == 404);
      CHECK(nf.body == "Client nope not found\n");

      std::string m = Get(s.http_port, "/metrics").body;
      CHECK(m.find("tandem_stan_channel_msgs{channel=\"foo\"} 10\n") != std::string::npos);
      CHECK(m.find("tandem_stan_channel_pending_acks{channel=\"foo\"} 2\n") != std::string::npos);
      CHECK(m.find("tandem_stan_channel_stalled_subscriptions{channel=\"foo\"} 1\n") !=
            std::string::npos);
      CHECK(m.find("tandem_stan_in_msgs_total 13\n") != std::string::npos);
      size_t at = m.find("\ntandem_store_commits_total ");
      REQUIRE(at != std::string::npos);
      CHECK(std::stoull(m.substr(at + 28)) >= 1);  // the commit observer is wired
      CHECK(m.find("tandem_store_commit_seconds_count 0\n") == std::string::npos);

      std::string out;
      int rc = RunTandem({"status", "--http", "127.0.0.1:" + std::to_string(s.http_port)}, &out);
      CHECK_MESSAGE(rc == 0, out);
      CHECK(out.find("foo") != std::string::npos);
      CHECK(out.find("(1 stalled)") != std::string::npos);
      CHECK(out.find("c2") != std::string::npos);
      MESSAGE(out);
    }
    // After c2 closed its connection, the durable is offline but still listed.
    json foo = GetJson(s.http_port, "/streaming/channelsz?channel=foo&subs=1");
    REQUIRE(foo["subscriptions"].size() == 1);
    CHECK(foo["subscriptions"][0]["is_offline"] == true);
    CHECK(foo["subscriptions"][0]["client_id"] == "c2");
    CHECK(GetJson(s.http_port, "/streaming/clientsz")["total"] == 0);
  }

  TEST_CASE("monitor: a standby answers serverz, healthz, isFTActive; status sees the pair") {
    TempDir dir;
    int pa = FreePort(), pb = FreePort(), ha = FreePort(), hb = FreePort();
    std::string store = dir.path() + "/store";
    auto opts = [&](const char* name, int port, int http) {
      FtMemberOptions o;
      o.name = name;
      o.listen = "127.0.0.1:" + std::to_string(port);
      o.peers = {"127.0.0.1:" + std::to_string(pa), "127.0.0.1:" + std::to_string(pb)};
      o.store_dir = store;
      o.extra_args = {"--http", "127.0.0.1:" + std::to_string(http)};
      return o;
    };
    FtMember a(dir.path(), opts("a", pa, ha));
    REQUIRE(a.Start());
    REQUIRE_MESSAGE(a.WaitActive(), a.process().Log());
    FtMember b(dir.path(), opts("b", pb, hb));
    REQUIRE(b.Start());
    REQUIRE_MESSAGE(b.WaitStandby(), b.process().Log());
    REQUIRE(b.process().WaitForPort(hb));

    json sb = GetJson(hb, "/streaming/serverz");
    CHECK(sb["state"] == "FT_STANDBY");
    CHECK(sb["role"] == "standby");
    CHECK(sb["cluster_id"] == "ft-test");
    // Healthy once its first attempt at the store lock has answered, which may come a moment
    // after it reports the standby role on a loaded machine.
    int health = 0;
    for (int i = 0; i < 100 && (health = Get(hb, "/healthz").status) != 200; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(health == 200);
    CHECK(Get(hb, "/streaming/isFTActive").status == 204);
    CHECK(Get(hb, "/streaming/channelsz").status == 503);
    CHECK(Get(ha, "/streaming/isFTActive").status == 200);

    // Each side lists the other once heartbeats flow.
    json sa =
        WaitJson(ha, "/streaming/serverz", [](const json& j) { return !j["standbys"].empty(); });
    json sbz =
        WaitJson(hb, "/streaming/serverz", [](const json& j) { return j.contains("active"); });
    CHECK(sa["state"] == "FT_ACTIVE");
    REQUIRE(sa["standbys"].size() == 1);
    CHECK(sa["standbys"][0]["name"] == "b");
    CHECK(sa["standbys"][0]["alive"] == true);
    CHECK(sa["epoch"].get<uint64_t>() >= 1);
    CHECK(sbz["active"]["name"] == "a");
    CHECK(sbz["active"]["alive"] == true);
    CHECK(sbz["epoch"] == sa["epoch"]);

    std::string out;
    int rc = RunTandem({"status", "--http",
                        "127.0.0.1:" + std::to_string(ha) + ",127.0.0.1:" + std::to_string(hb)},
                       &out);
    CHECK_MESSAGE(rc == 0, out);
    CHECK(out.find("FT_ACTIVE") != std::string::npos);
    CHECK(out.find("FT_STANDBY") != std::string::npos);
    CHECK(out.find("Standby: b (epoch") != std::string::npos);
    MESSAGE(out);

    // Only the standby left: status exits 1.
    a.process().Signal(SIGTERM);
    CHECK(a.process().WaitExit() == 0);
    REQUIRE_MESSAGE(b.WaitActive(), b.process().Log());
    json now_active = GetJson(hb, "/streaming/serverz");
    CHECK(now_active["state"] == "FT_ACTIVE");
    CHECK(now_active["takeovers"] == 1);
    CHECK(now_active["epoch"].get<uint64_t>() > sa["epoch"].get<uint64_t>());
    b.process().Signal(SIGTERM);
    CHECK(b.process().WaitExit() == 0);
    rc = RunTandem({"status", "--timeout", "300", "--http", "127.0.0.1:" + std::to_string(hb)},
                   &out);
    CHECK(rc == 1);
  }

  TEST_CASE("monitor: core endpoints of a running instance") {
    Server s;
    HttpReply h = Get(s.http_port, "/healthz");
    CHECK(h.status == 200);
    CHECK(json::parse(h.body)["status"] == "ok");

    json serverz = GetJson(s.http_port, "/streaming/serverz");
    CHECK(serverz["cluster_id"] == "test-cluster");
    CHECK(serverz["state"] == "STANDALONE");
    CHECK(serverz["role"] == "active");
    CHECK_FALSE(serverz["server_id"].get<std::string>().empty());
    CHECK(serverz["standbys"].is_array());
    CHECK(Get(s.http_port, "/streaming/isFTActive").status == 204);  // no FT group

    // One raw NATS connection shows up in varz and connz.
    LineClient c;
    REQUIRE(c.Connect(s.client_port));
    REQUIRE(c.ReadLine().has_value());  // INFO
    REQUIRE(
        c.Send("CONNECT {\"verbose\":false,\"name\":\"probe\",\"lang\":\"raw\"}\r\n"
               "SUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n"));
    std::optional<std::string> line;
    for (int i = 0; i < 10 && (line = c.ReadLine()) && *line != "PONG";) ++i;
    json varz = GetJson(s.http_port, "/varz");
    CHECK(varz["connections"] == 1);
    CHECK(varz["in_msgs"].get<uint64_t>() >= 1);
    CHECK(varz["out_msgs"].get<uint64_t>() >= 1);
    CHECK(varz["max_payload"] == 1048576);
    CHECK(varz["port"] == s.client_port);
    CHECK(varz["server_id"].get<std::string>().size() == 56);  // the NATS core's INFO id
    CHECK(varz["server_id"] != serverz["server_id"]);
    CHECK(varz["http_port"] == s.http_port);
    // The core's settings as configured (defaults here), durations in nanoseconds.
    CHECK(varz["host"] == "127.0.0.1");
    CHECK(varz["max_connections"] == 65536);
    CHECK(varz["ping_interval"] == 120000000000LL);
    CHECK(varz["ping_max"] == 2);
    CHECK(varz["max_control_line"] == 4096);
    CHECK(varz["max_pending"] == 67108864);
    CHECK(varz["write_deadline"] == 10000000000LL);
    json connz = GetJson(s.http_port, "/connz");
    CHECK(connz["total"] == 1);
    REQUIRE(connz["connections"].size() == 1);
    json conn = connz["connections"][0];
    CHECK(conn["name"] == "probe");
    CHECK(conn["lang"] == "raw");
    CHECK(conn["ip"] == "127.0.0.1");
    CHECK(conn["in_msgs"] == 1);
    CHECK(conn["out_msgs"] == 1);
    CHECK(conn["subscriptions"] == 1);
    CHECK(GetJson(s.http_port, "/connz?offset=1")["connections"].empty());

    HttpReply nf = Get(s.http_port, "/nope");
    CHECK(nf.status == 404);
  }

  TEST_CASE("monitor: /metrics passes promtool and counts the traffic") {
    Server s;
    LineClient c;
    REQUIRE(c.Connect(s.client_port));
    REQUIRE(c.Send("CONNECT {\"verbose\":false}\r\nPUB bar 3\r\nabc\r\nPING\r\n"));
    std::optional<std::string> line;
    for (int i = 0; i < 10 && (line = c.ReadLine()) && *line != "PONG";) ++i;
    HttpReply m = Get(s.http_port, "/metrics");
    REQUIRE(m.status == 200);
    CHECK(m.body.find("tandem_nats_in_msgs_total 1\n") != std::string::npos);
    CHECK(m.body.find("tandem_nats_connections 1\n") != std::string::npos);
    CHECK(m.body.find("tandem_ft_active 1\n") != std::string::npos);
    CHECK(m.body.find("tandem_healthy 1\n") != std::string::npos);
    CHECK(m.body.find("# TYPE tandem_store_commit_seconds histogram\n") != std::string::npos);
    if (!HavePromtool()) {
      MESSAGE("promtool not installed; lint skipped");
      return;
    }
    TempDir dir;
    std::string path = dir.path() + "/metrics.txt";
    FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fwrite(m.body.data(), 1, m.body.size(), f);
    std::fclose(f);
    std::string cmd = "promtool check metrics < " + path + " > " + dir.path() + "/lint.txt 2>&1";
    int rc = std::system(cmd.c_str());
    CHECK_MESSAGE(rc == 0, m.body);
  }

  TEST_CASE("monitor: tandem status finds the active and exits 0, else 1") {
    Server s;
    std::string out;
    int rc = RunTandem({"status", "--http", "127.0.0.1:" + std::to_string(s.http_port)}, &out);
    CHECK_MESSAGE(rc == 0, out);
    CHECK(out.find("STANDALONE") != std::string::npos);
    CHECK(out.find("Active: ") != std::string::npos);
    CHECK(out.find("Standbys: none") != std::string::npos);

    int dead = FreePort();
    rc = RunTandem(
        {"status", "--timeout", "500", "--http",
         "127.0.0.1:" + std::to_string(dead) + ",127.0.0.1:" + std::to_string(s.http_port)},
        &out);
    CHECK_MESSAGE(rc == 0, out);  // one of the two answers as active
    CHECK(out.find("UNREACHABLE") != std::string::npos);

    rc = RunTandem({"status", "--timeout", "500", "--http", "127.0.0.1:" + std::to_string(dead)},
                   &out);
    CHECK(rc == 1);
    CHECK(out.find("No active instance found.") != std::string::npos);
  }

  TEST_CASE("monitor: a bad --http is a startup error naming the address") {
    Server s;  // holds s.http_port
    TandemProcess p;
    std::string out;
    std::optional<int> rc = p.Run({"serve", "--listen", "127.0.0.1:" + std::to_string(FreePort()),
                                   "--http", "127.0.0.1:" + std::to_string(s.http_port)});
    REQUIRE(rc.has_value());
    CHECK(*rc == 1);
    CHECK(p.Log().find("cannot start the monitoring server") != std::string::npos);
  }

}  // TEST_SUITE
}  // namespace
}  // namespace tandem::test
