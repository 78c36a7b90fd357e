// partition_join_test.cc: the overlap check of partitioning run again when the cluster reports a
// new server, with real processes. Two separate nats-servers ("left" and "right"), each with
// partitions that do not overlap on their own server; then a third nats-server routes to both,
// which joins them into one cluster and makes each server announce the others to its clients.
// The partitions re-check: an overlapping one stops with exit status 4 and one line, a
// partition whose channels overlap nobody's keeps serving.
#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "server/monitor/status_command.h"
#include "tests/support/external_pair.h"
#include "tests/support/nats_cluster.h"
#include "tests/support/stan_client.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kStopping = "causes a conflict with the channels of server";

std::string PartitionConfig(const TempDir& dir, const std::string& name, const std::string& url,
                            const std::string& channels) {
  return test::PartitionConfig(dir, "join-test", name, url, channels);
}

int64_t AuditMsgs(int http_port) {
  Result<server::HttpReply> r =
      server::HttpGet("127.0.0.1", http_port, "/streaming/channelsz?channel=audit", 5000);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  REQUIRE(j.is_object());
  return j.value("msgs", int64_t{-1});
}

}  // namespace

TEST_SUITE("partition_join") {

TEST_CASE("partition: a conflict found when the cluster reports a new server stops the partition") {
  NatsCluster left(1), right(1);
  REQUIRE(left.Start());
  REQUIRE(right.Start());
  TempDir dir;
  const int http_c = FreePort();
  TandemProcess a(dir.path(), "a.log"), b(dir.path(), "b.log"), c(dir.path(), "c.log");
  // a and c share the left server and do not overlap; b, alone on the right, overlaps a.
  REQUIRE(a.Start({"serve", "-c", PartitionConfig(dir, "a", left.Url(0), "\"orders.>\": {}")}));
  REQUIRE(c.Start({"serve", "-c", PartitionConfig(dir, "c", left.Url(0), "audit: {}"), "--http",
                   "127.0.0.1:" + std::to_string(http_c)}));
  REQUIRE(b.Start({"serve", "-c", PartitionConfig(dir, "b", right.Url(0), "orders.eu: {}")}));
  for (TandemProcess* t : {&a, &b, &c}) {
    REQUIRE(t->WaitForLog("streaming layer serving", milliseconds(15000)));
  }

  // The bridge routes to both servers: one cluster of three, announced to every client.
  NatsCluster bridge(1, "", {left.cluster_port(0), right.cluster_port(0)});
  REQUIRE(bridge.Start());
  auto deadline = Clock::now() + milliseconds(20000);
  while (a.Running() && b.Running() && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  // Each partition that hears the other's answer stops (usually both, as with the reference);
  // give the second a moment to finish its round.
  std::this_thread::sleep_for(milliseconds(2500));
  int stopped = 0;
  for (TandemProcess* t : {&a, &b}) {
    if (t->Running()) continue;
    ++stopped;
    auto rc = t->WaitExit();
    REQUIRE(rc.has_value());
    CHECK_MESSAGE(*rc == 4, t->Log());
    CHECK(t->Log().find(std::string(kStopping)) != std::string::npos);
    CHECK(t->Log().find("(limits.channels); stopping") != std::string::npos);
  }
  CHECK(stopped >= 1);
  std::printf("partition_join: %d of the 2 overlapping partitions stopped (a %s, b %s)\n", stopped,
              a.Running() ? "running" : "stopped", b.Running() ? "running" : "stopped");

  // c re-checked too, found no conflict and serves a client of the new server.
  REQUIRE(c.Running());
  CHECK(c.WaitForLog("partitioning: the cluster reported a new server", milliseconds(5000)));
  CHECK(c.Log().find(kStopping) == std::string::npos);
  StanConnectOptions o;
  o.only_given_servers = true;
  std::string error;
  stanConnection* sc = ConnectStan(bridge.Url(0), "join-test", "audit-pub", o, &error);
  REQUIRE_MESSAGE(sc != nullptr, error);
  constexpr int kMsgs = 50;
  int acked = 0;
  for (int i = 0; i < kMsgs; ++i) {
    if (stanConnection_Publish(sc, "audit", "x", 1) == NATS_OK) ++acked;
  }
  stanConnection_Close(sc);
  stanConnection_Destroy(sc);
  CHECK(acked == kMsgs);
  CHECK(AuditMsgs(http_c) == kMsgs);
  CHECK(c.Running());
}

}  // TEST_SUITE

}  // namespace tandem::test
