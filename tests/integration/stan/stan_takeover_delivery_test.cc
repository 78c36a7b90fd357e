// stan_takeover_delivery_test.cc: after a restart (kill -9, then a new process on the same
// store) or an ft takeover, the subscribers' NATS connections come back only after their
// reconnect wait; the pending messages and the new ones must reach them soon after they have
// reconnected, not one AckWait (30 s here) later because they were sent to nobody.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "tests/integration/stan/stan_fixture.h"
#include "tests/support/ft_harness.h"

namespace tandem::test {
namespace {

using Clock = std::chrono::steady_clock;

// Seconds of AckWait: far longer than the test waits, so only the takeover redelivery counts.
constexpr int kAckWaitMs = 30000;
constexpr auto kPrompt = std::chrono::milliseconds(3000);

// A STAN connection like StanConn's, with a reconnect wait of `reconnect_ms` and a callback
// that records when the NATS connection came back.
struct ReconnectingConn {
  stanConnection* sc = nullptr;
  std::atomic<int64_t> reconnected_us{0};
  ReconnectingConn() = default;
  ReconnectingConn(const ReconnectingConn&) = delete;
  ReconnectingConn& operator=(const ReconnectingConn&) = delete;
  ~ReconnectingConn() {
    if (sc != nullptr) stanConnection_Destroy(sc);
  }
  static void OnReconnected(natsConnection*, void* closure) {
    static_cast<ReconnectingConn*>(closure)->reconnected_us.store(SteadyNowUs());
  }
  natsStatus Connect(const std::string& url, const char* cluster, const std::string& client_id,
                     int reconnect_ms) {
    stanConnOptions* o = nullptr;
    natsOptions* no = nullptr;
    natsStatus s = stanConnOptions_Create(&o);
    if (s == NATS_OK) s = natsOptions_Create(&no);
    if (s == NATS_OK) s = natsOptions_SetURL(no, url.c_str());
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(no, reconnect_ms);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(no, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(no, OnReconnected, this);
    if (s == NATS_OK) s = stanConnOptions_SetNATSOptions(o, no);
    if (s == NATS_OK) s = stanConnOptions_SetConnectionWait(o, 5000);
    if (s == NATS_OK) s = stanConnection_Connect(&sc, cluster, client_id.c_str(), o);
    stanConnOptions_Destroy(o);
    natsOptions_Destroy(no);
    return s;
  }
  natsStatus PublishRetry(const std::string& channel, const std::string& data) {
    auto end = Clock::now() + std::chrono::seconds(15);
    natsStatus s;
    while ((s = stanConnection_Publish(sc, channel.c_str(), data.data(),
                                       static_cast<int>(data.size()))) != NATS_OK &&
           Clock::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return s;
  }
};

// Subscribes `c` (manual acks, none sent) on channel "t" and gets messages 1..n pending.
void SubscribeWithPending(ReconnectingConn& conn, StanSubscription& sub, Collector& c, int n,
                          const char* queue) {
  c.manual_ack = true;
  c.ack_limit = 0;
  StanSubOpts so;
  stanSubOptions_SetManualAckMode(so, true);
  stanSubOptions_SetAckWait(so, kAckWaitMs);
  stanSubOptions_SetDurableName(so, "dur");
  REQUIRE(sub.Subscribe(conn.sc, "t", &c, so, queue) == NATS_OK);
  for (int i = 1; i <= n; ++i) REQUIRE(conn.PublishRetry("t", std::to_string(i)) == NATS_OK);
  REQUIRE(c.WaitCount(static_cast<size_t>(n)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // pending rows are written
}

// Every one of 1..n came back redelivered, and a new message is delivered too, all promptly
// after the reconnection (measured from `since_us` when no reconnection was seen).
void CheckPromptAfterTakeover(ReconnectingConn& conn, Collector& c, int n, int64_t since_us) {
  for (int seq = 1; seq <= n; ++seq) {
    auto redelivered = [seq](const Delivered& d) {
      return d.seq == static_cast<uint64_t>(seq) && d.redelivered;
    };
    CHECK_MESSAGE(c.WaitFor(redelivered, std::chrono::milliseconds(8000)), "seq ", seq);
  }
  int64_t back_us = std::max(conn.reconnected_us.load(), since_us);
  int64_t waited_ms = (SteadyNowUs() - back_us) / 1000;
  CHECK_MESSAGE(waited_ms < kPrompt.count(), "redelivered ", waited_ms, " ms after reconnecting");
  REQUIRE(conn.PublishRetry("t", "new") == NATS_OK);
  CHECK(c.WaitFor([](const Delivered& d) { return d.data == "new"; }, kPrompt));
}

}  // namespace

TEST_SUITE("stan_takeover_delivery") {
  TEST_CASE("stan_takeover_delivery: pending messages arrive promptly after kill -9 and restart") {
    StanServerProc srv;
    REQUIRE(srv.Start());
    ReconnectingConn conn;
    // A reconnect wait longer than the restart takes: the server is back well before the client.
    REQUIRE(conn.Connect(srv.url(), "test-cluster", "sub-client", 500) == NATS_OK);
    Collector c;
    StanSubscription sub;
    const char* queue = nullptr;
    SUBCASE("durable") {}
    SUBCASE("durable queue member") { queue = "grp"; }
    SubscribeWithPending(conn, sub, c, 5, queue);
    int64_t restart_us = SteadyNowUs();
    REQUIRE(srv.Restart9());
    CHECK(srv.process().WaitForLog("stan: serving", std::chrono::milliseconds(3000)));
    CheckPromptAfterTakeover(conn, c, 5, restart_us);
  }

  TEST_CASE("stan_takeover_delivery: an ft takeover delivers pending messages promptly") {
    TempDir dir;
    int port = FreePort();
    auto member = [&](const std::string& name) {
      FtMemberOptions o;
      o.name = name;
      o.listen = "127.0.0.1:" + std::to_string(port);
      o.peers = {o.listen};
      o.store_dir = dir.Join("store");
      return o;
    };
    FtMember a(dir.path(), member("a"));
    FtMember b(dir.path(), member("b"));
    REQUIRE(a.Start());
    REQUIRE(a.WaitActive());
    REQUIRE(b.Start());
    REQUIRE(b.WaitStandby());
    ReconnectingConn conn;
    REQUIRE(conn.Connect("nats://127.0.0.1:" + std::to_string(port), "ft-test", "sub-client",
                         500) == NATS_OK);
    Collector c;
    StanSubscription sub;
    SubscribeWithPending(conn, sub, c, 5, nullptr);
    int signum = SIGKILL;
    SUBCASE("kill -9") {}
    SUBCASE("SIGTERM") { signum = SIGTERM; }
    int64_t fault_us = SteadyNowUs();
    REQUIRE(a.process().Signal(signum));
    a.process().WaitExit();
    REQUIRE(b.WaitActive(std::chrono::milliseconds(5000)));
    CheckPromptAfterTakeover(conn, c, 5, fault_us);
  }
}

}  // namespace tandem::test
