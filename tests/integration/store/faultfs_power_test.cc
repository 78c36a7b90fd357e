// faultfs_power_test.cc: power losses at random moments under a durable publisher, with the
// store on faultfs (tests/faultfs), which forgets every write not yet synced when told
// `powerloss`.
//
// Each round starts tandem on the mount, checks that the store opened and that every message
// acknowledged in the round before is in the channel (a sentinel published synchronously marks
// the channel's end; a subscription from the first sequence that round could have used reads up
// to it), then publishes numbered messages asynchronously for a random 20-200 ms, recording the
// PubAcks, and cuts the power: SIGKILL, and once the process is gone, `powerloss` (what the
// server had not synced when it died is gone; nothing can write in between). After the last
// round the whole channel is read from sequence 1 and compared with every acknowledged message,
// and the store file passes SQLite's integrity check after the unmount.
//
// With store.sync: full nothing acknowledged may be lost. With store.sync: normal (commits not
// synced) acknowledged messages must be lost: that shows the file system and the check can see
// a violation. A third case arms `eio-fsync` instead of cutting the power, with large messages
// so that SQLite's checkpoints sync too: tandem must exit with status 3 each time and lose
// nothing acknowledged. Rounds: kRounds, or FAULTFS_ROUNDS (kEioRounds, FAULTFS_EIO_ROUNDS); the
// seed is random unless FAULTFS_SEED is set, and logged either way.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <sqlite3.h>

#define NATS_HAS_STREAMING 1  // Debian's libnats is built with the STAN API
#include <nats/nats.h>

#include "tests/support/faultfs_mount.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {
namespace {

constexpr int kRounds = 100;
constexpr int kEioRounds = 10;
constexpr const char* kCluster = "faultfs";
constexpr const char* kChannel = "power";

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// One STAN connection that does not reconnect: when the server dies, it is closed.
class StanClient {
 public:
  ~StanClient() {
    if (sc_ != nullptr) stanConnection_Destroy(sc_);
  }
  natsStatus Connect(int port, const std::string& client_id) {
    natsOptions* no = nullptr;
    natsOptions_Create(&no);
    const std::string url = "nats://127.0.0.1:" + std::to_string(port);
    natsOptions_SetURL(no, url.c_str());
    natsOptions_SetAllowReconnect(no, false);
    natsOptions_SetTimeout(no, 5000);
    stanConnOptions* so = nullptr;
    stanConnOptions_Create(&so);
    stanConnOptions_SetNATSOptions(so, no);
    stanConnOptions_SetPubAckWait(so, 10000);
    stanConnOptions_SetConnectionWait(so, 5000);
    natsStatus s = stanConnection_Connect(&sc_, kCluster, client_id.c_str(), so);
    stanConnOptions_Destroy(so);
    natsOptions_Destroy(no);
    return s;
  }
  stanConnection* get() const { return sc_; }

 private:
  stanConnection* sc_ = nullptr;
};

// What a subscription from some sequence saw up to the sentinel.
struct ChannelRead {
  bool ok = false;  // the sentinel arrived in time
  std::string error;
  std::set<uint64_t> ids;  // numbered messages seen
  uint64_t end_seq = 0;    // the sentinel's sequence
  uint64_t gaps = 0;       // sequences missing between `from` and the sentinel
};

struct ReadState {
  std::mutex mu;
  std::string sentinel;
  uint64_t expect_seq = 0;
  ChannelRead read;
  bool done = false;
};

void OnRead(stanConnection*, stanSubscription*, const char*, stanMsg* msg, void* closure) {
  auto* st = static_cast<ReadState*>(closure);
  std::string data(stanMsg_GetData(msg), static_cast<size_t>(stanMsg_GetDataLength(msg)));
  uint64_t seq = stanMsg_GetSequence(msg);
  stanMsg_Destroy(msg);
  std::lock_guard<std::mutex> lock(st->mu);
  if (st->done) return;
  if (seq > st->expect_seq) st->read.gaps += seq - st->expect_seq;
  st->expect_seq = std::max(st->expect_seq, seq + 1);
  if (data == st->sentinel) {
    st->read.end_seq = seq;
    st->read.ok = true;
    st->done = true;
  } else if (data.size() > 1 && data[0] == 'm') {
    st->read.ids.insert(std::strtoull(data.c_str() + 1, nullptr, 10));
  }
}

// Publishes `sentinel` (waiting for its PubAck), then reads the channel from `from` up to it.
ChannelRead ReadUpToSentinel(stanConnection* sc, const std::string& sentinel, uint64_t from) {
  ReadState st;
  st.sentinel = sentinel;
  st.expect_seq = from;
  natsStatus s =
      stanConnection_Publish(sc, kChannel, sentinel.data(), static_cast<int>(sentinel.size()));
  if (s != NATS_OK) {
    st.read.error = std::string("sentinel publish: ") + natsStatus_GetText(s);
    return st.read;
  }
  stanSubOptions* o = nullptr;
  stanSubOptions_Create(&o);
  stanSubOptions_StartAtSequence(o, from);
  stanSubOptions_SetMaxInflight(o, 16384);
  stanSubscription* sub = nullptr;
  s = stanConnection_Subscribe(&sub, sc, kChannel, OnRead, &st, o);
  stanSubOptions_Destroy(o);
  if (s != NATS_OK) {
    st.read.error = std::string("subscribe: ") + natsStatus_GetText(s);
    return st.read;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(st.mu);
      if (st.done) break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  stanSubscription_Close(sub);
  stanSubscription_Destroy(sub);
  std::lock_guard<std::mutex> lock(st.mu);
  st.done = true;
  if (!st.read.ok) st.read.error = "the sentinel " + sentinel + " did not arrive within 30 s";
  return st.read;
}

// Publishes "m<id>" asynchronously until stopped; remembers which ids were acknowledged.
class AckedPublisher {
 public:
  // Each payload is "m<id>" and then `pad` bytes.
  AckedPublisher(stanConnection* sc, uint64_t first_id, size_t pad = 0)
      : sc_(sc), next_id_(first_id), pad_(pad) {}
  ~AckedPublisher() { Stop(); }

  void Start() {
    thread_ = std::thread([this] {
      std::string buf;
      while (!stop_) {
        uint64_t id = next_id_++;
        buf = "m" + std::to_string(id) + " ";
        buf.resize(buf.size() + pad_, 'x');
        auto* ctx = new std::pair<AckedPublisher*, uint64_t>(this, id);
        if (stanConnection_PublishAsync(sc_, kChannel, buf.data(), static_cast<int>(buf.size()),
                                        AckCb, ctx) != NATS_OK) {
          delete ctx;  // the connection is gone: nothing more can be acknowledged
          break;
        }
        ++published_;
        std::this_thread::sleep_for(std::chrono::microseconds(300));
      }
    });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<uint64_t> acked() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  uint64_t published() const { return published_; }
  uint64_t next_id() const { return next_id_; }

 private:
  static void AckCb(const char*, const char* error, void* closure) {
    auto* ctx = static_cast<std::pair<AckedPublisher*, uint64_t>*>(closure);
    if (error == nullptr) {
      std::lock_guard<std::mutex> lock(ctx->first->mu_);
      ctx->first->acked_.push_back(ctx->second);
    }
    delete ctx;
  }

  stanConnection* sc_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> next_id_;
  std::atomic<uint64_t> published_{0};
  const size_t pad_;
  std::mutex mu_;
  std::vector<uint64_t> acked_;
};

// Runs tandem on a faultfs mount through power losses (see the top of the file).
class PowerLossRun {
 public:
  PowerLossRun(std::string sync, uint32_t seed) : sync_(std::move(sync)), rng_(seed) {}

  // Instead of a power loss, arm `fault` and expect tandem to exit with status 3 by itself
  // (then `clear`); messages carry `pad` extra bytes.
  void UseFault(std::string fault, size_t pad) {
    fault_ = std::move(fault);
    pad_ = pad;
  }

  void Mount() {
    std::string error;
    REQUIRE_MESSAGE(fs_.Mount(&error), error);
  }

  // Starts tandem and waits for its client port; fails the test when it does not come up.
  void StartServer() {
    ++starts_;
    proc_ =
        std::make_unique<TandemProcess>(logs_.path(), "tandem-" + std::to_string(starts_) + ".log");
    REQUIRE(proc_->Start({"serve", "--listen", "127.0.0.1:" + std::to_string(port_), "--store",
                          fs_.mountpoint() + "/data", "--sync", sync_, "--cluster-id", kCluster}));
    REQUIRE_MESSAGE(proc_->WaitForPort(port_, std::chrono::milliseconds(20000)),
                    "tandem did not start on the mount: " << proc_->Log());
  }

  // Checks the channel (from sequence 1 for `full_read`, else from where the last check ended)
  // against the acknowledged messages and returns how many of them are missing; then, if
  // `publish`, publishes for a random time and cuts the power.
  uint64_t Round(bool publish, bool full_read) {
    StartServer();
    StanClient c;
    const std::string id = "c" + std::to_string(starts_);
    REQUIRE_MESSAGE(c.Connect(port_, id) == NATS_OK, "connect: " << proc_->Log());
    const uint64_t lost = Check(c.get(), full_read);
    if (!publish) return lost;
    AckedPublisher pub(c.get(), next_id_, pad_);
    pub.Start();
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 200)(rng_)));
    if (fault_.empty()) {
      REQUIRE(proc_->Signal(SIGKILL));
      REQUIRE(proc_->WaitExit(std::chrono::milliseconds(10000)).has_value());
      REQUIRE(fs_.Command("powerloss"));
    } else {
      REQUIRE(fs_.Command(fault_));
      auto rc = proc_->WaitExit(std::chrono::milliseconds(20000));
      REQUIRE_MESSAGE(rc.has_value(), "tandem did not exit after "
                                          << fault_ << " (faultfs injected "
                                          << fs_.Counters()["injected"] << ")\n"
                                          << proc_->Log());
      CHECK_MESSAGE(*rc == 3, proc_->Log());
      REQUIRE(fs_.Command("clear"));
    }
    pub.Stop();
    next_id_ = pub.next_id();
    published_ += pub.published();
    for (uint64_t a : pub.acked()) {
      acked_.insert(a);
      unverified_.insert(a);
    }
    ++power_losses_;
    return lost;
  }

  // Reads the whole channel from sequence 1 on the running server; how many acknowledged
  // messages are missing.
  uint64_t CheckWhole() {
    StanClient c;
    REQUIRE(c.Connect(port_, "whole") == NATS_OK);
    return Check(c.get(), true);
  }

  // A clean stop, the unmount, and SQLite's integrity check of the store file left behind.
  void StopAndCheckFile() {
    REQUIRE(proc_->Signal(SIGTERM));
    CHECK(proc_->WaitExit(std::chrono::milliseconds(20000)) == 0);
    REQUIRE_MESSAGE(fs_.Unmount(), "faultfs: " << fs_.Log());
    sqlite3* db = nullptr;
    const std::string path = fs_.backing() + "/data/store.db";
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    std::string result;
    sqlite3_exec(
        db, "PRAGMA integrity_check",
        [](void* out, int, char** v, char**) {
          *static_cast<std::string*>(out) += v[0] != nullptr ? v[0] : "";
          return 0;
        },
        &result, nullptr);
    sqlite3_close(db);
    CHECK(result == "ok");
  }

  int power_losses() const { return power_losses_; }
  uint64_t published() const { return published_; }
  uint64_t acked() const { return acked_.size(); }
  const std::string& first_lost() const { return first_lost_; }
  FaultFsMount& fs() { return fs_; }

 private:
  uint64_t Check(stanConnection* sc, bool full_read) {
    ChannelRead r =
        ReadUpToSentinel(sc, "sentinel-" + std::to_string(starts_), full_read ? 1 : from_seq_);
    REQUIRE_MESSAGE(r.ok, r.error << "\n" << proc_->Log());
    from_seq_ = r.end_seq + 1;
    if (full_read) CHECK_MESSAGE(r.gaps == 0, r.gaps << " sequence(s) missing in the channel");
    uint64_t lost = 0;
    for (uint64_t a : full_read ? acked_ : unverified_) {
      if (r.ids.count(a) != 0) continue;
      ++lost;
      if (first_lost_.size() < 200) first_lost_ += "m" + std::to_string(a) + " ";
    }
    unverified_.clear();
    return lost;
  }

  FaultFsMount fs_;
  TempDir logs_;
  int port_ = FreePort();
  std::string sync_;
  std::mt19937 rng_;
  std::unique_ptr<TandemProcess> proc_;
  int starts_ = 0;
  int power_losses_ = 0;
  uint64_t next_id_ = 0;
  uint64_t from_seq_ = 1;
  uint64_t published_ = 0;
  std::string fault_;  // empty: power loss
  size_t pad_ = 0;
  std::set<uint64_t> acked_;       // every acknowledged message
  std::set<uint64_t> unverified_;  // acknowledged since the last check
  std::string first_lost_;
};

uint32_t Seed() {
  int env = EnvInt("FAULTFS_SEED", -1);
  return env >= 0 ? static_cast<uint32_t>(env) : std::random_device{}();
}

}  // namespace

TEST_CASE("power loss: with store.sync full, no acknowledged message is lost") {
  const int rounds = EnvInt("FAULTFS_ROUNDS", kRounds);
  const uint32_t seed = Seed();
  MESSAGE("seed " << seed << " (FAULTFS_SEED), rounds " << rounds << " (FAULTFS_ROUNDS)");
  PowerLossRun run("full", seed);
  run.Mount();
  uint64_t lost = 0;
  for (int i = 0; i < rounds; ++i) lost += run.Round(true, false);
  lost += run.Round(false, false);                    // the last round's messages
  const uint64_t lost_in_channel = run.CheckWhole();  // everything, from sequence 1
  MESSAGE("power losses " << run.power_losses() << ", published " << run.published()
                          << ", acknowledged " << run.acked() << ", lost " << lost
                          << " (whole channel at the end: " << lost_in_channel
                          << " missing); faultfs dropped " << run.fs().Counters()["dropped_bytes"]
                          << " unsynced bytes");
  CHECK_MESSAGE(lost == 0, "lost acknowledged messages: " << run.first_lost());
  CHECK_MESSAGE(lost_in_channel == 0, "lost acknowledged messages: " << run.first_lost());
  CHECK(run.acked() > 0);
  run.StopAndCheckFile();
}

TEST_CASE("power loss: with store.sync normal, acknowledged messages are lost (the check works)") {
  const uint32_t seed = Seed();
  MESSAGE("seed " << seed);
  PowerLossRun run("normal", seed);
  run.Mount();
  // Commits are not synced, so the first power loss after a few PubAcks loses them; a few
  // rounds in case one acknowledged nothing.
  uint64_t lost = 0;
  for (int i = 0; i <= 10 && lost == 0; ++i) lost = run.Round(i < 10, true);
  MESSAGE("sync normal: acknowledged " << run.acked() << ", lost " << lost);
  CHECK(lost > 0);
}

TEST_CASE(
    "failed syncs at random moments: the server exits 3 each time, nothing acknowledged lost") {
  // 60 KB messages fill the WAL quickly, so SQLite's own checkpoints (which sync the WAL and the
  // database, and whose errors SQLite does not pass on) run while the fault is armed, and the
  // failed sync is sometimes theirs rather than tandem's fdatasync.
  const uint32_t seed = Seed();
  const int rounds = EnvInt("FAULTFS_EIO_ROUNDS", kEioRounds);
  MESSAGE("seed " << seed << ", rounds " << rounds << " (FAULTFS_EIO_ROUNDS)");
  PowerLossRun run("full", seed);
  run.UseFault("eio-fsync", 60000);
  run.Mount();
  uint64_t lost = 0;
  for (int i = 0; i < rounds; ++i) lost += run.Round(true, false);
  lost += run.Round(false, false);
  const uint64_t lost_in_channel = run.CheckWhole();
  MESSAGE("failed syncs " << rounds << ", acknowledged " << run.acked() << ", lost " << lost);
  CHECK_MESSAGE(lost == 0, "lost acknowledged messages: " << run.first_lost());
  CHECK(lost_in_channel == 0);
  CHECK(run.acked() > 0);
  run.StopAndCheckFile();
}

}  // namespace tandem::test
