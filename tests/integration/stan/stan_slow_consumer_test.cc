// stan_slow_consumer_test.cc: a streaming subscriber whose connection stops reading (a proxy
// between it and the server stops forwarding the server's bytes) while a publisher keeps
// going. The server's memory stays bounded: its deliveries wait for that connection to drain
// instead of queueing everything MaxInflight allows (50 MiB here): /connz shows that
// connection's queue at the streaming high-water mark, and the process's RSS grows by the
// store's and the channel's caches, not by the held messages. The connection is not closed as
// a slow consumer, and once it reads again every message arrives, in order, exactly once.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "server/monitor/status_http.h"

#include "tests/integration/stan/stan_fixture.h"
#include "tests/integration/stan/tcp_proxy.h"
#include "tests/support/proc_status.h"

namespace tandem::test {
namespace {

constexpr int kWarmup = 2000;
constexpr int kHeld = 50000;  // published while the subscriber does not read
constexpr size_t kSize = 1024;
// Bytes queued to the stuck connection at most: the streaming high-water mark (512 KiB), what
// one subscription sends between two looks at it (16 KiB) and a message; slack for the rest.
constexpr long kMaxQueued = 1024 * 1024;
// RSS the server may gain meanwhile: SQLite's page cache (32 MiB), the channel's cache
// (8 MiB), the publisher's 16,384 unacknowledged messages in store batches (16 MiB), the
// allocator's slack; queueing the held messages would add their 55 MiB on top.
constexpr long kMaxGrowthKiB = 88 * 1024;

struct AckCount {
  std::atomic<long> ok{0}, failed{0};
  static void Cb(const char*, const char* err, void* closure) {
    auto* self = static_cast<AckCount*>(closure);
    (err == nullptr ? self->ok : self->failed).fetch_add(1);
  }
};

}  // namespace

TEST_SUITE("stan_slow_consumer") {
  TEST_CASE("a subscriber that stops reading costs bounded memory, and loses nothing") {
    StanServerProc srv;
    const int http = FreePort();
    // A write deadline past the test's pause: the connection must survive it.
    REQUIRE(srv.Start("http: 127.0.0.1:" + std::to_string(http) +
                      "\nnats: {write_deadline: 2m}\n"));
    REQUIRE(srv.process().WaitForPort(http));
    TcpProxy proxy(srv.port());
    REQUIRE(proxy.port() != 0);
    StanConn subc;
    REQUIRE(subc.Connect("nats://127.0.0.1:" + std::to_string(proxy.port()), "slow-sub") ==
            NATS_OK);
    StanSub sub;
    stanSubOptions_SetMaxInflight(sub.opts, 100000);
    stanSubOptions_SetAckWait(sub.opts, 120000);  // no redelivery during the test
    REQUIRE(sub.Subscribe(subc, "slow") == NATS_OK);
    StanConn pubc;
    REQUIRE(pubc.Connect(srv.url(), "slow-pub") == NATS_OK);

    const std::string data(kSize, 'm');
    AckCount acks;
    std::atomic<int> refused{0};  // publishes libnats refused (checked on the test thread)
    auto publish = [&](int n) {
      for (int i = 0; i < n; ++i) {
        if (stanConnection_PublishAsync(pubc, "slow", data.data(), static_cast<int>(data.size()),
                                        AckCount::Cb, &acks) != NATS_OK) {
          ++refused;
        }
      }
    };
    // Warm-up, read normally: the server's buffers and caches exist before the baseline.
    publish(kWarmup);
    REQUIRE(refused == 0);
    REQUIRE(sub.c.WaitCount(kWarmup, 30s));

    proxy.Pause(true);
    const pid_t pid = srv.process().pid();
    const long base = StatusKiB(pid, "VmRSS:");
    REQUIRE(base > 0);
    long peak = base;
    std::thread publisher([&] { publish(kHeld); });
    long queued = 0;  // the most any connection had queued, per /connz
    auto sample = [&] {
      peak = std::max(peak, StatusKiB(pid, "VmRSS:"));
      Result<server::HttpReply> r = server::HttpGet("127.0.0.1", http, "/connz", 5000);
      if (!r.ok() || r.value().status != 200) {
        MESSAGE("connz: ", r.ok() ? std::to_string(r.value().status) : r.status().ToString());
        return;
      }
      const nlohmann::json connz = nlohmann::json::parse(r.value().body);
      for (const auto& c : connz["connections"]) {
        queued = std::max(queued, c.value("pending_bytes", 0L));
      }
    };
    const auto end = std::chrono::steady_clock::now() + 60s;
    while (acks.ok + acks.failed < kWarmup + kHeld && std::chrono::steady_clock::now() < end) {
      sample();
      std::this_thread::sleep_for(20ms);
    }
    publisher.join();
    REQUIRE(refused == 0);
    REQUIRE(acks.ok == kWarmup + kHeld);
    // Whatever the server queues for the stuck connection, it queues soon after the commits.
    for (int i = 0; i < 50; ++i) {
      sample();
      std::this_thread::sleep_for(20ms);
    }
    MESSAGE("RSS before ", base, " KiB, peak ", peak, " KiB, at most ", queued,
            " B queued to a connection while ", kHeld, " x ", kSize, " B waited");
    CHECK(queued > 0);  // the connection's queue really filled up
    CHECK(queued < kMaxQueued);
    CHECK(peak - base < kMaxGrowthKiB);
    CHECK(sub.c.count() < static_cast<size_t>(kWarmup + kHeld));  // it really was held

    proxy.Pause(false);
    REQUIRE(sub.c.WaitCount(kWarmup + kHeld, 60s));
    std::this_thread::sleep_for(300ms);  // any duplicate would arrive meanwhile
    const auto msgs = sub.c.msgs();
    REQUIRE(msgs.size() == static_cast<size_t>(kWarmup + kHeld));
    for (size_t i = 0; i < msgs.size(); ++i) {
      if (msgs[i].seq != i + 1 || msgs[i].redelivered) {
        FAIL("delivery ", i, " is seq ", msgs[i].seq, msgs[i].redelivered ? " (redelivered)" : "");
      }
    }
    CHECK(srv.process().Log().find("slow consumer") == std::string::npos);
    CHECK(proxy.accepted() == 1);  // never cut and reconnected
  }
}

}  // namespace tandem::test
