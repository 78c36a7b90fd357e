// stan_delete_large_test.cc: a channel of 200,000 messages removed for inactivity, through the
// real binary. The deleting commit leaves its messages behind and the store reclaims them in
// steps (the log says when that starts and ends, with the rows and the steps), while another
// channel is published to all along and every one of its publishes is acknowledged. Once the
// server has stopped, the store file, opened read-only, holds no message and no span of a
// channel that is gone.
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "tests/integration/stan/stan_fixture.h"

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

}  // namespace

TEST_SUITE("stan_delete_large") {

TEST_CASE("stan_delete_large: an inactive channel's 200,000 messages go in steps, publishes "
          "to another channel are all acknowledged meanwhile") {
  StanServerProc srv;
  REQUIRE(srv.Start("limits:\n  channels:\n    big: {max_inactivity: 2s}\n"));
  StanConn pub;
  REQUIRE(pub.Connect(srv.url(), "big-pub") == NATS_OK);
  AckCount big;
  const std::string data(16, 'b');
  for (int i = 0; i < kBigMsgs; ++i) {
    REQUIRE(stanConnection_PublishAsync(pub, "big", data.data(), static_cast<int>(data.size()),
                                        AckCount::OnAck, &big) == NATS_OK);
  }
  REQUIRE(big.WaitOk(kBigMsgs, 30s));

  // Another channel, published to (each publish waits for its PubAck) from now until the
  // deleted channel's messages are gone.
  std::atomic<bool> stop{false};
  std::atomic<int> live_ok{0}, live_failed{0};
  std::thread live([&] {
    StanConn sc;
    if (sc.Connect(srv.url(), "live-pub") != NATS_OK) {
      live_failed++;
      return;
    }
    while (!stop.load()) {
      (sc.Publish("live", "x") == NATS_OK ? live_ok : live_failed)++;
      std::this_thread::sleep_for(1ms);
    }
  });

  TandemProcess& p = srv.process();
  CHECK(p.WaitForLog("stan: channel big inactive, deleting it", 15s));
  CHECK(p.WaitForLog("store: reclaiming the messages of deleted channel 1: 200000 rows to go",
                     10s));
  const bool reclaimed = p.WaitForLog("store: reclaimed the messages of deleted channel 1:", 30s);
  stop = true;
  live.join();
  REQUIRE(reclaimed);
  CHECK(live_failed.load() == 0);
  CHECK(live_ok.load() > 100);
  std::smatch m;
  const std::string log = p.Log();
  REQUIRE(std::regex_search(log, m, std::regex("channel 1: 200000 rows in ([0-9]+) steps.*")));
  const int steps = std::stoi(m[1].str());
  MESSAGE(m[0].str(), "; ", live_ok.load(), " publishes to another channel meanwhile");
  CHECK(steps >= kBigMsgs / 4096);
  pub.Destroy();
  REQUIRE(srv.Term() == 0);

  const std::string db = srv.dir() + "/data/store.db";
  CHECK(QueryStore(db, "SELECT count(*) FROM channels WHERE name='big'") == 0);
  CHECK(QueryStore(db, "SELECT count(*) FROM messages WHERE channel_id NOT IN "
                       "(SELECT id FROM channels)") == 0);
  CHECK(QueryStore(db, "SELECT count(*) FROM spans WHERE channel_id NOT IN "
                       "(SELECT id FROM channels)") == 0);
  CHECK(QueryStore(db, "SELECT value FROM meta WHERE key='orphan_spans'") == 0);
  CHECK(QueryStore(db, "SELECT msgs FROM channels WHERE name='live'") == live_ok.load());
  CHECK(QueryStore(db, "SELECT count(*) FROM messages") == live_ok.load());
}

}  // TEST_SUITE

}  // namespace tandem::test
