// stan_deliver_before_sync_test.cc: with store.sync full and store.deliver committed, a message
// goes to its subscribers once its batch has committed, and its PubAck only after the fdatasync
// that covers it (server/stan, StoreWriter's applied and durable continuations); with the
// default (store.deliver synced) both wait for the sync. Paced publishes from one client, a
// subscriber on another, both with SendAsap (libnats would otherwise hold a publish up to 1 ms);
// for each message the test records when it was delivered and when its PubAck arrived. The
// store is on the test's directory, a real disk whose fdatasync takes ~0.1-10 ms on this kind
// of machine, so the PubAck of a typical message arrives well after its delivery; a server that
// delivers only after the sync sends both in the same loop pass (delivery first), a few
// microseconds apart. Every message is also delivered once, in order, and acknowledged. On a
// file system whose fdatasync costs nothing (tmpfs) the two cannot be told apart: the test
// measures that first and then exits 77 (ctest: Skipped) saying so.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/stan/stan_fixture.h"
#include "tests/support/stan_client.h"

namespace tandem::test {
namespace {

constexpr int kMsgs = 600;
constexpr int kRate = 1000;                     // msgs/s: one batch per message, one sync each
constexpr int64_t kSyncGapUs = 100;             // a delivery this much before its PubAck
constexpr int64_t kClockUnset = INT64_MIN;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

stanConnection* ConnectAsap(const std::string& url, const std::string& id) {
  StanConnectOptions o;
  o.send_asap = true;
  o.pub_ack_wait_ms = 30000;
  std::string error;
  stanConnection* sc = ConnectStan(url, "test-cluster", id, o, &error);
  if (sc == nullptr) MESSAGE(error);
  return sc;
}

// The median of 31 fdatasync calls after a 4 KiB write, in a file of `dir`.
int64_t FdatasyncMedianUs(const std::string& dir) {
  const std::string path = dir + "/fdatasync-probe";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  std::string block(4096, 'p');
  std::vector<int64_t> us;
  for (int i = 0; i < 31; ++i) {
    REQUIRE(::pwrite(fd, block.data(), block.size(), 0) == static_cast<ssize_t>(block.size()));
    const int64_t t0 = NowUs();
    REQUIRE(::fdatasync(fd) == 0);
    us.push_back(NowUs() - t0);
  }
  ::close(fd);
  ::unlink(path.c_str());
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

struct Times {
  std::mutex mu;
  std::vector<int64_t> delivered_us = std::vector<int64_t>(kMsgs, kClockUnset);
  std::vector<int64_t> acked_us = std::vector<int64_t>(kMsgs, kClockUnset);
  std::vector<uint64_t> seqs;  // in delivery order
  std::atomic<int> deliveries{0}, acks{0}, ack_errors{0};
};

// The message's index is its data.
void OnMsg(stanConnection*, stanSubscription*, const char*, stanMsg* msg, void* closure) {
  const int64_t now = NowUs();
  auto* t = static_cast<Times*>(closure);
  int i = -1;
  if (stanMsg_GetDataLength(msg) == static_cast<int>(sizeof(i)))
    std::memcpy(&i, stanMsg_GetData(msg), sizeof(i));
  {
    std::lock_guard<std::mutex> lock(t->mu);
    if (i >= 0 && i < kMsgs && t->delivered_us[i] == kClockUnset) t->delivered_us[i] = now;
    t->seqs.push_back(stanMsg_GetSequence(msg));
  }
  t->deliveries++;
  stanMsg_Destroy(msg);
}

struct AckSlot {
  Times* times;
  int index;
};

void OnAck(const char*, const char* error, void* closure) {
  const int64_t now = NowUs();
  auto* slot = static_cast<AckSlot*>(closure);
  if (error != nullptr) slot->times->ack_errors++;
  {
    std::lock_guard<std::mutex> lock(slot->times->mu);
    slot->times->acked_us[slot->index] = now;
  }
  slot->times->acks++;
}

// Runs the paced load against a server started with `yaml` and returns, sorted, how long after
// its delivery each message's PubAck arrived (us). Every message is delivered once, in order.
std::vector<int64_t> AckAfterDelivery(const std::string& yaml) {
  StanServerProc server;
  REQUIRE(server.Start(yaml));
  stanConnection* sub_conn = ConnectAsap(server.url(), "dbs-sub");
  stanConnection* pub_conn = ConnectAsap(server.url(), "dbs-pub");
  REQUIRE(sub_conn != nullptr);
  REQUIRE(pub_conn != nullptr);
  Times times;
  stanSubscription* sub = nullptr;
  REQUIRE(stanConnection_Subscribe(&sub, sub_conn, "dbs", OnMsg, &times, nullptr) == NATS_OK);

  std::vector<AckSlot> slots(kMsgs);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kMsgs; ++i) {
    const auto due = start + std::chrono::microseconds(int64_t{1000000} * i / kRate);
    std::this_thread::sleep_until(due);
    slots[i] = AckSlot{&times, i};
    REQUIRE(stanConnection_PublishAsync(pub_conn, "dbs", &i, sizeof(i), OnAck, &slots[i]) ==
            NATS_OK);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((times.deliveries < kMsgs || times.acks < kMsgs) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(times.deliveries == kMsgs);
  REQUIRE(times.acks == kMsgs);
  CHECK(times.ack_errors == 0);

  std::vector<int64_t> gaps;  // PubAck time minus delivery time, per message
  {
    std::lock_guard<std::mutex> lock(times.mu);
    for (size_t k = 0; k < times.seqs.size(); ++k) REQUIRE(times.seqs[k] == k + 1);
    for (int i = 0; i < kMsgs; ++i) {
      REQUIRE(times.delivered_us[i] != kClockUnset);
      gaps.push_back(times.acked_us[i] - times.delivered_us[i]);
    }
  }
  std::sort(gaps.begin(), gaps.end());
  MESSAGE(yaml << ": PubAck after delivery, us: p10 " << gaps[gaps.size() / 10] << ", median "
               << gaps[gaps.size() / 2] << ", p90 " << gaps[gaps.size() * 9 / 10]);
  stanSubscription_Destroy(sub);
  stanConnection_Close(pub_conn);
  stanConnection_Close(sub_conn);
  stanConnection_Destroy(pub_conn);
  stanConnection_Destroy(sub_conn);
  CHECK(server.Term() == 0);
  return gaps;
}

TEST_SUITE("stan_deliver_before_sync") {
  TEST_CASE("stan: delivered after the commit or after the sync, as store.deliver says") {
    const std::string probe_dir = std::filesystem::temp_directory_path() / "tandem-dbs-probe";
    std::filesystem::create_directories(probe_dir);
    const int64_t sync_us = FdatasyncMedianUs(probe_dir);
    std::filesystem::remove_all(probe_dir);
    MESSAGE("fdatasync in the test directory: median " << sync_us << " us");
    if (sync_us < kSyncGapUs / 2) {
      std::fprintf(stderr,
                   "stan_deliver_before_sync_test skipped: fdatasync in the temporary directory "
                   "takes %lld us (a file system without a flush): delivery and PubAck cannot "
                   "be told apart\n",
                   static_cast<long long>(sync_us));
      std::fflush(stderr);
      std::_Exit(77);
    }
    // committed: the sync happens between the two, a typical message is delivered well before
    // its PubAck.
    const std::vector<int64_t> early = AckAfterDelivery("store: {deliver: committed}\n");
    const int64_t early_median = early[early.size() / 2];
    CHECK(early_median >= kSyncGapUs);
    // synced (the default): delivery and PubAck leave in the same loop pass after the sync.
    const std::vector<int64_t> strict = AckAfterDelivery("");
    CHECK(strict[strict.size() / 2] * 2 < early_median);
  }
}

}  // namespace
}  // namespace tandem::test
