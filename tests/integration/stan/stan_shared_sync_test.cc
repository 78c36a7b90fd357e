// stan_shared_sync_test.cc: with store.sync full, the commit that records a delivery's position
// and ack (nobody waits for it) shares the fdatasync of the next message instead of taking one
// of its own. Before, every message at a steady rate cost two fdatasyncs, and the next
// message's sync queued behind the bookkeeping's: that was most of the publish-to-delivery
// latency. A durable subscriber acks every message of a paced publisher (one message every
// 5 ms, each publish waiting for its PubAck); the server's /metrics counts the fdatasyncs
// (tandem_store_syncs_total), which must stay near one per message. Every message is still
// delivered once, in order, and after a kill -9 and a restart none is sent again: the positions
// and acks were committed at once, only their sync was shared.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include "tests/integration/stan/stan_fixture.h"
#include "tests/support/monitor_http.h"

namespace tandem::test {
namespace {

constexpr int kMsgs = 300;
constexpr auto kGap = std::chrono::milliseconds(5);  // well inside the 20 ms a sync is held

// The value of an unlabelled counter in the server's /metrics (tests/support/monitor_http.h).
uint64_t Metric(int http_port, const std::string& name) {
  std::optional<std::string> text = ScrapeMetrics(http_port);
  REQUIRE_MESSAGE(text.has_value(), "/metrics did not answer");
  std::optional<double> v = MetricIn(*text, name);
  REQUIRE_MESSAGE(v.has_value(), name << " missing from /metrics");
  return static_cast<uint64_t>(*v);
}

TEST_SUITE("stan_shared_sync") {
  TEST_CASE("stan: a delivery's bookkeeping shares the next message's fdatasync") {
    const int http_port = FreePort();
    const std::string yaml = "http: 127.0.0.1:" + std::to_string(http_port) + "\n";
    StanServerProc srv;
    REQUIRE(srv.Start(yaml));
    REQUIRE(srv.process().WaitForPort(http_port));
    StanConn sub_conn, pub_conn;
    REQUIRE(sub_conn.Connect(srv.url(), "ss-sub") == NATS_OK);
    REQUIRE(pub_conn.Connect(srv.url(), "ss-pub") == NATS_OK);
    StanSub sub;
    REQUIRE(sub.Durable("d").ManualAck(-1).Subscribe(sub_conn, "ss") == NATS_OK);
    REQUIRE(pub_conn.Publish("ss", "warm") == NATS_OK);  // channel and subscription are stored
    REQUIRE(sub.c.WaitCount(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));

    const uint64_t syncs_before = Metric(http_port, "tandem_store_syncs_total");
    for (int i = 0; i < kMsgs; ++i) {
      REQUIRE(pub_conn.Publish("ss", "m" + std::to_string(i)) == NATS_OK);
      std::this_thread::sleep_for(kGap);
    }
    REQUIRE(sub.c.WaitCount(kMsgs + 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the last acks' commit
    const uint64_t syncs = Metric(http_port, "tandem_store_syncs_total") - syncs_before;
    MESSAGE(kMsgs << " messages, each delivered and acked: " << syncs << " fdatasyncs");
    // One per message, a few more when the machine stalls past the hold; two per message
    // before the bookkeeping shared them.
    CHECK(syncs >= kMsgs);
    CHECK(syncs <= kMsgs * 13 / 10);
    std::vector<Delivered> got = sub.c.msgs();
    REQUIRE(got.size() == kMsgs + 1);
    for (size_t k = 0; k < got.size(); ++k) CHECK(got[k].seq == k + 1);

    // kill -9: the positions and acks were committed at once (only their sync was shared), so
    // after the restart the durable is not sent any of them again, only what comes next.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    REQUIRE(srv.Restart9(yaml));
    REQUIRE(pub_conn.PublishRetry("ss", "after") == NATS_OK);
    REQUIRE(sub.c.WaitFor([](const Delivered& d) { return d.data == "after"; }, 15s));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    got = sub.c.msgs();
    REQUIRE(got.size() == kMsgs + 2);
    CHECK(got.back().seq == kMsgs + 2);
    CHECK_FALSE(got.back().redelivered);
    CHECK(srv.Term() == 0);
  }
}

}  // namespace
}  // namespace tandem::test
