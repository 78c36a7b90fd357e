// monitor_test.cc: the monitoring endpoints and `tandem status` through the real binary: JSON
// shapes and values after a known libnats STAN workload (counts, sequences, pending, stalled),
// pagination and filters, 404s, /metrics through `promtool check metrics`, and the output and
// exit status of `tandem status`.
#include <nats/nats.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "server/status_command.h"
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

// A running `tandem serve` with monitoring on a free port.
struct Server {
  TandemProcess proc;
  int client_port = FreePort();
  int http_port = FreePort();

  Server() {
    REQUIRE(proc.Start({"serve", "--listen", "127.0.0.1:" + std::to_string(client_port),
                        "--http", "127.0.0.1:" + std::to_string(http_port)}));
    REQUIRE_MESSAGE(proc.WaitForPort(http_port), proc.Log());
    REQUIRE_MESSAGE(proc.WaitForPort(client_port), proc.Log());
  }
  ~Server() {
    proc.Signal(SIGTERM);
    auto status = proc.WaitExit();
    CHECK_MESSAGE(status == 0, proc.Log());
  }
};

// Runs `tandem <args>` to the end; returns the exit status and fills `out`.
int RunTandem(const std::vector<std::string>& args, std::string* out) {
  TandemProcess p;
  std::optional<int> status = p.Run(args);
  *out = p.Log();
  REQUIRE(status.has_value());
  return *status;
}

bool HavePromtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

TEST_SUITE("monitor_integration") {

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
  REQUIRE(c.Send("CONNECT {\"verbose\":false,\"name\":\"probe\",\"lang\":\"raw\"}\r\n"
                 "SUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n"));
  std::optional<std::string> line;
  for (int i = 0; i < 10 && (line = c.ReadLine()) && *line != "PONG";) ++i;
  json varz = GetJson(s.http_port, "/varz");
  CHECK(varz["connections"] == 1);
  CHECK(varz["in_msgs"].get<uint64_t>() >= 1);
  CHECK(varz["out_msgs"].get<uint64_t>() >= 1);
  CHECK(varz["max_payload"] == 1048576);
  CHECK(varz["port"] == s.client_port);
  CHECK(varz["http_port"] == s.http_port);
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
  rc = RunTandem({"status", "--timeout", "500", "--http",
                  "127.0.0.1:" + std::to_string(dead) + ",127.0.0.1:" +
                      std::to_string(s.http_port)},
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
  std::optional<int> rc =
      p.Run({"serve", "--listen", "127.0.0.1:" + std::to_string(FreePort()), "--http",
             "127.0.0.1:" + std::to_string(s.http_port)});
  REQUIRE(rc.has_value());
  CHECK(*rc == 1);
  CHECK(p.Log().find("cannot start the monitoring server") != std::string::npos);
}

}  // TEST_SUITE
}  // namespace
}  // namespace tandem::test
