// stan_fanout_rows_test.cc: a fan-out whose subscribers hold their acks. Every delivery stays
// unacked past Delivery::kPersistDelayMs and so is due a pending row, all of them within a
// moment; the rows go to the store at most Delivery::kPersistPerBatch a batch, so no group
// commit grows with the fan-out (tandem_store_commit_ops in /metrics: none above 10,000
// operations, where a batch of every aged delivery held tens of thousands). After a kill -9
// every unacked message reaches every subscriber again, whether its row was written or not.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "server/monitor/status_http.h"

#include "tests/integration/stan/stan_fixture.h"

namespace tandem::test {
namespace {

constexpr int kSubs = 40;
constexpr int kMsgs = 4000;  // kSubs x kMsgs deliveries, none acked
// The largest bucket bound of tandem_store_commit_ops. A batch holds at most about
// StoreWriter::kSealOps appends (2,048) and Delivery::kPersistPerBatch rows (4,096), and one
// position per subscription; a batch of every row due at once held over 10,000.
constexpr const char* kBound = "10000";

// The value of the series `name` (the whole text before the value) in a /metrics text; -1
// when it is absent.
double Series(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ' ') {
      return std::stod(line.substr(name.size() + 1));
    }
  }
  return -1;
}

struct AckCount {
  std::atomic<long> ok{0}, failed{0};
  static void Cb(const char*, const char* err, void* closure) {
    auto* self = static_cast<AckCount*>(closure);
    (err == nullptr ? self->ok : self->failed).fetch_add(1);
  }
};

// Until every subscription's collector holds `n` deliveries, for at most `timeout`.
bool WaitAll(std::vector<std::unique_ptr<StanSub>>& subs, size_t n,
             std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (auto& s : subs) {
    while (s->c.count() < n && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(10ms);
    if (s->c.count() < n) return false;
  }
  return true;
}

}  // namespace

TEST_SUITE("stan_fanout_rows") {
  TEST_CASE("rows of a fan-out's unacked deliveries go in bounded batches, and survive kill -9") {
    StanServerProc srv;
    const int http = FreePort();
    const std::string yaml = "http: 127.0.0.1:" + std::to_string(http) + "\n";
    REQUIRE(srv.Start(yaml));
    REQUIRE(srv.process().WaitForPort(http));
    StanConn subc;
    REQUIRE(subc.Connect(srv.url(), "fan-sub") == NATS_OK);
    std::vector<std::unique_ptr<StanSub>> subs;
    for (int i = 0; i < kSubs; ++i) {
      subs.push_back(std::make_unique<StanSub>());
      subs.back()->ManualAck(0);  // never acked
      stanSubOptions_SetMaxInflight(subs.back()->opts, kMsgs);
      stanSubOptions_SetAckWait(subs.back()->opts, 120000);  // no redelivery during the test
      REQUIRE(subs.back()->Subscribe(subc, "fan") == NATS_OK);
    }
    StanConn pubc;
    REQUIRE(pubc.Connect(srv.url(), "fan-pub") == NATS_OK);
    AckCount acks;
    const std::string data(64, 'f');
    for (int i = 0; i < kMsgs; ++i) {
      REQUIRE(stanConnection_PublishAsync(pubc, "fan", data.data(), static_cast<int>(data.size()),
                                          AckCount::Cb, &acks) == NATS_OK);
    }
    REQUIRE(WaitAll(subs, kMsgs, 60s));
    const auto end = std::chrono::steady_clock::now() + 30s;
    while (acks.ok + acks.failed < kMsgs && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(10ms);
    REQUIRE(acks.ok == kMsgs);

    // Every delivery is aged now; the rows are written while the commits count on.
    double commits = -1, before = -2;
    std::string metrics;
    for (int i = 0; i < 100 && commits != before; ++i) {
      std::this_thread::sleep_for(300ms);
      Result<server::HttpReply> r = server::HttpGet("127.0.0.1", http, "/metrics", 5000);
      REQUIRE(r.ok());
      REQUIRE(r.value().status == 200);
      metrics = r.value().body;
      before = commits;
      commits = Series(metrics, "tandem_store_commits_total");
    }
    REQUIRE(commits == before);  // settled
    const double count = Series(metrics, "tandem_store_commit_ops_count");
    const double within =
        Series(metrics, std::string("tandem_store_commit_ops_bucket{le=\"") + kBound + "\"}");
    const double ops = Series(metrics, "tandem_store_commit_ops_sum");
    MESSAGE(count, " commits of ", ops, " operations, ", count - within, " above ", std::string(kBound));
    REQUIRE(count > 0);
    CHECK(ops >= kSubs * kMsgs);  // every delivery's row was written (the test measures those)
    CHECK(within == count);

    // kill -9: every subscriber gets every message again (acked none).
    for (auto& s : subs) s->c.Clear();
    REQUIRE(srv.Restart9(yaml));
    REQUIRE(WaitAll(subs, kMsgs, 60s));
    std::this_thread::sleep_for(300ms);
    for (auto& s : subs) {
      std::set<uint64_t> seqs;
      for (const Delivered& d : s->c.msgs()) seqs.insert(d.seq);
      REQUIRE(seqs.size() == static_cast<size_t>(kMsgs));
      CHECK(*seqs.begin() == 1);
      CHECK(*seqs.rbegin() == static_cast<uint64_t>(kMsgs));
    }
  }
}

}  // namespace tandem::test
