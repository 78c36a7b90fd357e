// partition_test.cc: channels partitioned across tandem groups on one external cluster
// (streaming.partitioning), with real processes: a 3-node nats-server cluster, two tandem
// partitions connected to different nodes, libnats streaming clients on the third. Every message
// must land in its owner's store (each partition's /streaming/channelsz), none lost; a
// subscription to a channel no partition owns times out; an overlapping partition is refused.
// Under load, two groups of two members each (tests/support/external_pair.h): kill -9 of one
// group's active, and the other group keeps acknowledging without a pause.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "server/monitor/status_command.h"
#include "tests/support/external_pair.h"
#include "tests/support/ft_harness.h"
#include "tests/support/nats_cluster.h"
#include "tests/support/stan_client.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {
namespace {

using std::chrono::milliseconds;
constexpr int kMsgs = 200;

nlohmann::json Channelsz(int port, const std::string& query) {
  Result<server::HttpReply> r =
      server::HttpGet("127.0.0.1", port, "/streaming/channelsz" + query, 5000);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return nlohmann::json::parse(r->body, nullptr, false);
}

// A partition's config: its store, the cluster node it connects to, the channels it owns.
std::string PartitionConfig(const TempDir& dir, const std::string& name, const std::string& url,
                            const std::string& channels) {
  return test::PartitionConfig(dir, "part-test", name, url, channels);
}

void OnMsg(stanConnection*, stanSubscription*, const char*, stanMsg* msg, void* closure) {
  static_cast<std::atomic<int>*>(closure)->fetch_add(1);
  stanMsg_Destroy(msg);
}

bool WaitCount(const std::atomic<int>& n, int want) {
  for (int i = 0; i < 300 && n.load() < want; ++i) std::this_thread::sleep_for(milliseconds(50));
  return n.load() >= want;
}

TEST_CASE("partition: channels land in their owner's store; unowned ones time out; overlaps refused") {
  NatsCluster cluster(3);
  REQUIRE(cluster.Start());
  TempDir dir;
  const int http_a = FreePort(), http_b = FreePort();
  TandemProcess a, b;
  REQUIRE(a.Start({"serve", "-c", PartitionConfig(dir, "a", cluster.Url(0), "\"orders.>\": {}"),
                   "--http", "127.0.0.1:" + std::to_string(http_a)}));
  REQUIRE(a.WaitForLog("streaming layer serving", milliseconds(15000)));
  REQUIRE(b.Start({"serve", "-c",
                   PartitionConfig(dir, "b", cluster.Url(1), "audit: {}, \"logs.*\": {}"),
                   "--http", "127.0.0.1:" + std::to_string(http_b)}));
  REQUIRE(b.WaitForLog("streaming layer serving", milliseconds(15000)));
  CHECK(b.Log().find("no other partition owns these channels") != std::string::npos);

  // Clients on the third node: one connection publishes to channels of both partitions.
  StanConnectOptions o;
  o.only_given_servers = true;
  std::string error;
  stanConnection* pub = ConnectStan(cluster.Url(2), "part-test", "pub", o, &error);
  REQUIRE_MESSAGE(pub != nullptr, error);
  stanConnection* sub = ConnectStan(cluster.Url(2), "part-test", "sub", o, &error);
  REQUIRE_MESSAGE(sub != nullptr, error);
  std::atomic<int> got_orders{0}, got_audit{0};
  stanSubscription* s1 = SubscribeStan(sub, "orders.eu", nullptr, nullptr, OnMsg, &got_orders,
                                       &error);
  REQUIRE_MESSAGE(s1 != nullptr, error);
  stanSubscription* s2 = SubscribeStan(sub, "audit", nullptr, nullptr, OnMsg, &got_audit, &error);
  REQUIRE_MESSAGE(s2 != nullptr, error);
  int acked = 0;
  for (int i = 0; i < kMsgs; ++i) {
    const std::string body = "m" + std::to_string(i);
    if (stanConnection_Publish(pub, "orders.eu", body.data(), static_cast<int>(body.size())) ==
        NATS_OK) {
      ++acked;
    }
    if (stanConnection_Publish(pub, "audit", body.data(), static_cast<int>(body.size())) ==
        NATS_OK) {
      ++acked;
    }
  }
  std::printf("partition: published %d, acked %d\n", 2 * kMsgs, acked);
  CHECK(acked == 2 * kMsgs);
  CHECK(WaitCount(got_orders, kMsgs));
  CHECK(WaitCount(got_audit, kMsgs));
  CHECK(got_orders.load() == kMsgs);
  CHECK(got_audit.load() == kMsgs);

  // Each message is in its owner's store only.
  CHECK(Channelsz(http_a, "")["names"] == nlohmann::json::array({"orders.eu"}));
  CHECK(Channelsz(http_b, "")["names"] == nlohmann::json::array({"audit"}));
  CHECK(Channelsz(http_a, "?channel=orders.eu")["msgs"] == kMsgs);
  CHECK(Channelsz(http_b, "?channel=audit")["msgs"] == kMsgs);

  // A channel nobody owns: no partition answers, the client times out as with the reference.
  std::atomic<int> none{0};
  stanSubscription* s3 = SubscribeStan(sub, "nobody", nullptr, nullptr, OnMsg, &none, &error);
  CHECK(s3 == nullptr);
  CHECK(error.find("Timeout") != std::string::npos);
  CHECK(stanConnection_Publish(pub, "nobody", "x", 1) != NATS_OK);

  stanSubscription_Destroy(s1);
  stanSubscription_Destroy(s2);
  stanConnection_Close(pub);
  stanConnection_Close(sub);
  stanConnection_Destroy(pub);
  stanConnection_Destroy(sub);

  // A third partition claiming "orders.*" overlaps a's "orders.>": refused at start, exit 4.
  TandemProcess c;
  auto rc = c.Run({"serve", "-c", PartitionConfig(dir, "c", cluster.Url(2), "\"orders.*\": {}")},
                  milliseconds(20000));
  REQUIRE(rc.has_value());
  CHECK(*rc == 4);
  CHECK(c.Log().find("partitioning: channel \"orders.*\" causes a conflict with the channels of "
                     "server") != std::string::npos);
  CHECK(c.Log().find("streaming layer serving") == std::string::npos);
  CHECK(a.Running());
  CHECK(b.Running());
}

// Publishes to `channel` synchronously until stopped, recording acks and the longest wait
// between two acks.
struct AckingPublisher {
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0}, failed{0};
  std::atomic<int64_t> max_gap_us{0};
  std::thread thread;
  void Run(stanConnection* sc, const std::string& channel) {
    thread = std::thread([this, sc, channel] {
      int64_t last = SteadyNowUs();
      while (!stop.load()) {
        if (stanConnection_Publish(sc, channel.c_str(), "x", 1) == NATS_OK) {
          ++acked;
          int64_t now = SteadyNowUs();
          max_gap_us.store(std::max(max_gap_us.load(), now - last));
          last = now;
        } else {
          ++failed;
        }
        std::this_thread::sleep_for(milliseconds(2));
      }
    });
  }
  void Stop() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

TEST_CASE("partition: kill -9 of one group's active under load; the other keeps acking") {
  NatsCluster cluster(3);
  REQUIRE(cluster.Start());
  // Two groups of two members each, every member with its own connection to the cluster.
  auto group = [&](const std::string& name, const std::string& servers,
                   const std::string& channel) {
    ExternalPairOptions o;
    o.servers = servers;
    o.cluster_id = "part-test";
    o.group = name;
    o.extra_yaml = "streaming: {partitioning: true}\nlimits: {channels: {" + channel + ": {}}}\n";
    o.http = true;
    return o;
  };
  ExternalPair orders(group("g", cluster.Url(0) + ", " + cluster.Url(1), "orders"));
  ExternalPair audit_group(group("c", cluster.Url(1) + ", " + cluster.Url(0), "audit"));
  REQUIRE(orders.Start());
  REQUIRE(audit_group.Start());
  std::string error;
  REQUIRE_MESSAGE(orders.StartLoad(cluster.Url(2), "orders", 300, &error), error);
  StanLoad& load = orders.load();
  StanConnectOptions o;
  o.only_given_servers = true;
  stanConnection* pub = ConnectStan(cluster.Url(2), "part-test", "audit-pub", o, &error);
  REQUIRE_MESSAGE(pub != nullptr, error);
  AckingPublisher audit;
  audit.Run(pub, "audit");
  std::this_thread::sleep_for(milliseconds(500));

  load.MarkFault();
  const int64_t killed_us = SteadyNowUs();
  REQUIRE(orders.a.process().Signal(SIGKILL));
  REQUIRE(orders.a.process().WaitExit().has_value());
  REQUIRE(orders.b.WaitActive(milliseconds(5000)));
  auto deadline = std::chrono::steady_clock::now() + milliseconds(10000);
  while (load.first_ack_after_fault_us() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  REQUIRE(load.first_ack_after_fault_us() > killed_us);
  const double takeover_ms = (load.first_ack_after_fault_us() - killed_us) / 1000.0;
  CHECK(AcksGrow(load, 100, milliseconds(10000)));
  std::this_thread::sleep_for(milliseconds(300));
  audit.Stop();
  std::printf("partition: takeover of group g %.1f ms; group c meanwhile acked %d (failed %d), "
              "longest gap %.1f ms\n",
              takeover_ms, audit.acked.load(), audit.failed.load(), audit.max_gap_us / 1000.0);
  CHECK(audit.failed.load() == 0);
  // The other partition does not pause: generous for a loaded machine, far below a takeover
  // by missed heartbeats or the reference's seconds.
  CHECK(audit.max_gap_us.load() < 500'000);
  CHECK(Channelsz(audit_group.http_a, "?channel=audit")["msgs"] == audit.acked.load());
  CHECK(Channelsz(audit_group.http_a, "")["names"] == nlohmann::json::array({"audit"}));
  CHECK(audit_group.b.process().Running());
  CHECK_FALSE(audit_group.b.IsActive());
  CHECK(SettleAndReport(load, "partition: orders").lost == 0);
  stanConnection_Close(pub);
  stanConnection_Destroy(pub);
}

TEST_CASE("partition: refused without an external cluster or without limits.channels") {
  TempDir dir;
  TandemProcess t;
  auto rc = t.Run({"serve", "--partitioning", "--store", dir.Join("s")});
  REQUIRE(rc.has_value());
  CHECK(*rc == 2);
  CHECK(t.Log().find("streaming.partitioning: needs an external NATS cluster") !=
        std::string::npos);
  TandemProcess u;
  rc = u.Run({"serve", "--partitioning", "--nats-server", "nats://127.0.0.1:4222", "--store",
              dir.Join("s")});
  REQUIRE(rc.has_value());
  CHECK(*rc == 2);
  CHECK(u.Log().find("streaming.partitioning: needs the channels this group owns") !=
        std::string::npos);
}

}  // namespace
}  // namespace tandem::test
