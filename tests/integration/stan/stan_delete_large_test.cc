// stan_delete_large_test.cc: a channel of 200,000 messages removed for inactivity, through the
// real binary. The deleting commit leaves its messages behind and the store reclaims them in
// steps (the log says when that starts and ends, with the rows and the steps), while another
// channel is published to all along and every one of its publishes is acknowledged; a kill -9
// once it has started leaves the rest to the next start, and to the standby that takes over,
// which find it in the store and finish. Once the server has stopped, the store file, opened read-only, holds no message and
// no span of a channel that is gone. While the steps run, /metrics and /streaming/storez show
// the rows left falling and the rows reclaimed rising, always adding up to the channel's
// messages, until nothing is left.
#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "tests/integration/stan/stan_fixture.h"
#include "tests/support/ft_harness.h"
#include "tests/support/monitor_http.h"

namespace tandem::test {
namespace {

constexpr int kBigMsgs = 200'000;

struct AckCount {
  std::atomic<int> ok{0}, failed{0};
  static void OnAck(const char*, const char* error, void* closure) {
    auto* self = static_cast<AckCount*>(closure);
    (error != nullptr && *error != 0 ? self->failed : self->ok)++;
  }
  bool WaitOk(int n, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (ok.load() + failed.load() < n && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(2ms);
    return ok.load() == n;
  }
};

// The first column of the first row of `sql` on the store file, read-only; -1 when none.
int64_t QueryStore(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  int64_t out = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      out = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

constexpr char kConfig[] = "limits:\n  channels:\n    big: {max_inactivity: 2s}\n";

// Publishes kBigMsgs messages of 16 B to "big" as fast as the PubAcks come; REQUIREs them all.
void FillBig(const std::string& url, const char* cluster = "test-cluster") {
  StanConn pub;
  REQUIRE(pub.Connect(url, "big-pub", 16384, cluster) == NATS_OK);
  AckCount acks;
  const std::string data(16, 'b');
  for (int i = 0; i < kBigMsgs; ++i) {
    REQUIRE(stanConnection_PublishAsync(pub, "big", data.data(), static_cast<int>(data.size()),
                                        AckCount::OnAck, &acks) == NATS_OK);
  }
  REQUIRE(acks.WaitOk(kBigMsgs, 30s));
}

// Publishes to "live" on a thread of its own, one publish at a time (each waits for its
// PubAck), until Stop().
class LivePublisher {
 public:
  explicit LivePublisher(const std::string& url)
      : thread_([this, url] {
          StanConn sc;
          if (sc.Connect(url, "live-pub") != NATS_OK) {
            failed++;
            return;
          }
          while (!stop_.load()) {
            (sc.Publish("live", "x") == NATS_OK ? ok : failed)++;
            std::this_thread::sleep_for(1ms);
          }
        }) {}
  ~LivePublisher() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::atomic<int> ok{0}, failed{0};

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The store file of a stopped server holds nothing of a deleted channel, and `live` messages
// on "live" (0: no such channel).
void CheckStoreClean(const std::string& db, int64_t live) {
  CHECK(QueryStore(db, "SELECT count(*) FROM channels WHERE name='big'") == 0);
  CHECK(QueryStore(db, "SELECT count(*) FROM messages WHERE channel_id NOT IN "
                       "(SELECT id FROM channels)") == 0);
  CHECK(QueryStore(db, "SELECT count(*) FROM spans WHERE channel_id NOT IN "
                       "(SELECT id FROM channels)") == 0);
  CHECK(QueryStore(db, "SELECT value FROM meta WHERE key='orphan_spans'") == 0);
  CHECK(QueryStore(db, "SELECT coalesce(sum(msgs), 0) FROM channels WHERE name='live'") == live);
  CHECK(QueryStore(db, "SELECT count(*) FROM messages") == live);
}

// The reclaim figures as /metrics and /streaming/storez showed them, polled until both said
// that every row of the deleted channel was reclaimed.
struct ReclaimSeen {
  int samples = 0;
  double metrics_most_left = 0, storez_most_left = 0;  // rows left seen while under way
  int wrong_sums = 0;  // samples under way whose rows left + reclaimed were not kBigMsgs
  bool metrics_done = false, storez_done = false;  // 0 channels, 0 left, kBigMsgs reclaimed
};

ReclaimSeen WatchReclaim(int http, std::chrono::milliseconds timeout) {
  ReclaimSeen seen;
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!(seen.metrics_done && seen.storez_done) && std::chrono::steady_clock::now() < end) {
    // One scrape's figures were read together, as were one storez answer's; the two need not
    // agree with each other.
    const std::string text = ScrapeMetrics(http).value_or("");
    const std::optional<double> channels = MetricIn(text, "tandem_store_reclaim_channels");
    const std::optional<double> left = MetricIn(text, "tandem_store_reclaim_rows");
    const std::optional<double> done = MetricIn(text, "tandem_store_reclaimed_rows_total");
    const std::optional<nlohmann::json> storez = JsonAt(http, "/streaming/storez");
    if (!channels || !left || !done || !storez || !storez->contains("reclaim")) {
      std::this_thread::sleep_for(20ms);
      continue;
    }
    ++seen.samples;
    const auto& r = (*storez)["reclaim"];
    const double s_left = r.value("rows_left", -1.0), s_done = r.value("rows_reclaimed", -1.0);
    if (*channels == 1) {
      seen.metrics_most_left = std::max(seen.metrics_most_left, *left);
      seen.wrong_sums += *left + *done != kBigMsgs;
    }
    if (r.value("channels", -1) == 1) {
      seen.storez_most_left = std::max(seen.storez_most_left, s_left);
      seen.wrong_sums += s_left + s_done != kBigMsgs;
    }
    seen.metrics_done = *channels == 0 && *left == 0 && *done == kBigMsgs;
    seen.storez_done = r.value("channels", -1) == 0 && s_left == 0 && s_done == kBigMsgs;
    std::this_thread::sleep_for(20ms);
  }
  return seen;
}

}  // namespace

TEST_SUITE("stan_delete_large") {

TEST_CASE("stan_delete_large: an inactive channel's 200,000 messages go in steps, publishes "
          "to another channel are all acknowledged meanwhile, monitoring shows the progress") {
  const int http = FreePort();
  StanServerProc srv;
  REQUIRE(srv.Start(std::string(kConfig) + "http: 127.0.0.1:" + std::to_string(http) + "\n"));
  TandemProcess& p = srv.process();
  REQUIRE(p.WaitForPort(http));
  FillBig(srv.url());
  // Another channel is published to from now until the deleted channel's messages are gone.
  LivePublisher live(srv.url());
  CHECK(p.WaitForLog("stan: channel big inactive, deleting it", 15s));
  const ReclaimSeen seen = WatchReclaim(http, 40s);
  const bool reclaimed = p.WaitForLog("store: reclaimed the messages of deleted channel 1:", 10s);
  live.Stop();
  REQUIRE(reclaimed);
  CHECK(p.WaitForLog("store: reclaiming the messages of deleted channel 1: 200000 rows to go",
                     1s));
  MESSAGE(seen.samples, " samples; most rows left seen: /metrics ", seen.metrics_most_left,
          ", storez ", seen.storez_most_left);
  CHECK(seen.metrics_most_left > 0);
  CHECK(seen.storez_most_left > 0);
  CHECK(seen.wrong_sums == 0);
  CHECK(seen.metrics_done);
  CHECK(seen.storez_done);
  CHECK(live.failed.load() == 0);
  CHECK(live.ok.load() > 100);
  std::smatch m;
  const std::string log = p.Log();
  REQUIRE(std::regex_search(
      log, m, std::regex("channel 1: 200000 rows in ([0-9]+) steps over ([0-9]+) ms.*")));
  MESSAGE(m[0].str(), "; ", live.ok.load(), " publishes to another channel meanwhile");
  CHECK(std::stoi(m[1].str()) >= kBigMsgs / 4096);
  CHECK(std::stoi(m[2].str()) > 0);
  REQUIRE(srv.Term() == 0);
  CheckStoreClean(srv.dir() + "/data/store.db", live.ok.load());
}

TEST_CASE("stan_delete_large: a kill -9 once the reclaim has started leaves the rest to the "
          "next start, which finishes it") {
  StanServerProc srv;
  REQUIRE(srv.Start(kConfig));
  FillBig(srv.url());
  TandemProcess* p = &srv.process();
  {
    LivePublisher live(srv.url());  // keeps the store busy, so the steps come paced
    REQUIRE(p->WaitForLog("store: reclaiming the messages of deleted channel 1", 15s));
    std::this_thread::sleep_for(100ms);  // a step or more (49 need at least 5 ms apart each)
    REQUIRE(srv.Restart9(kConfig));
  }
  p = &srv.process();
  // Found again in the store: the first run was killed 0.1 s after it started, far from its
  // end (on a loaded machine its first step may not have committed yet: then all 200,000 rows
  // are left, and the restart must find them all the same).
  CHECK(p->WaitForLog("store: 1 deleted channel(s) with messages left to reclaim", 10s));
  REQUIRE(p->WaitForLog("store: reclaimed the messages of deleted channel 1:", 30s));
  std::smatch m;
  const std::string log = p->Log();
  // The rows the open found left (from the spans) are the rows the reclaim then deleted.
  REQUIRE(std::regex_search(log, m, std::regex("left to reclaim: ([0-9]+) rows")));
  const std::string found = m[1].str();
  REQUIRE(std::regex_search(log, m, std::regex("channel 1: ([0-9]+) rows in [0-9]+ steps.*")));
  MESSAGE("after the restart: ", m[0].str());
  CHECK(m[1].str() == found);
  CHECK(std::stoi(m[1].str()) <= kBigMsgs);
  REQUIRE(srv.Term() == 0);
  const std::string db = srv.dir() + "/data/store.db";
  CheckStoreClean(db, QueryStore(db, "SELECT msgs FROM channels WHERE name='live'"));
}

TEST_CASE("stan_delete_large: the standby that takes over finishes the reclaim the active "
          "started") {
  FtPair pair(kConfig);
  REQUIRE(pair.StartActiveThenStandby());
  FillBig("nats://127.0.0.1:" + std::to_string(pair.port), "ft-test");
  REQUIRE(pair.a.process().WaitForLog("store: reclaiming the messages of deleted channel 1", 15s));
  REQUIRE(pair.a.process().Signal(SIGKILL));
  REQUIRE(pair.b.WaitActive(15s));
  TandemProcess& b = pair.b.process();
  CHECK(b.WaitForLog("store: 1 deleted channel(s) with messages left to reclaim", 10s));
  REQUIRE(b.WaitForLog("store: reclaimed the messages of deleted channel 1:", 30s));
  REQUIRE(b.Signal(SIGTERM));
  REQUIRE(b.WaitExit() == 0);
  CheckStoreClean(pair.dir.path() + "/store/store.db", 0);
}

}  // TEST_SUITE

}  // namespace tandem::test
