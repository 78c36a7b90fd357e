// Tests for ft/failover: every transition and every timer of the role state machine, on a
// FakeClock with a recording host. No sockets, no SQLite, no sleeps.
#include "ft/failover.h"

#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/fake_clock.h"

namespace tandem::ft {
namespace {

// A store that only knows its epoch (what Failover looks at) and whether it was closed.
class FakeStore final : public store::Store {
 public:
  explicit FakeStore(uint64_t epoch, bool* closed = nullptr) : epoch_(epoch), closed_(closed) {}
  Result<store::Recovered> Recover() override { return store::Recovered{}; }
  void Submit(store::WriteBatch, CommitDone done) override { done(Status::OK(), {}); }
  void ReadMsgs(int64_t, uint64_t, size_t, ReadDone done) override {
    done(std::vector<store::MsgRecord>{});
  }
  void FindSeqByTime(int64_t, int64_t, SeqDone done) override { done(uint64_t{1}); }
  Status Close() override {
    if (closed_) *closed_ = true;
    return Status::OK();
  }
  uint64_t epoch() const override { return epoch_; }
  Status health() const override { return Status::OK(); }

 private:
  uint64_t epoch_;
  bool* closed_;
};

// Records every call Failover makes.
class RecordingHost final : public FailoverHost {
 public:
  void TryLock() override { ++lock_attempts; }
  void Activate(std::unique_ptr<store::Store> s) override { store = std::move(s); ++activations; }
  void SendHeartbeat(const Heartbeat& hb) override { sent.push_back(hb); }
  void StopServing() override { ++stop_serving; }
  void Fence(const Status& why) override {
    fenced = true;
    fence_reason = why;
  }
  void Exit(int code) override { exit_code = code; }
  void RoleChanged(Role role, uint64_t) override { roles.push_back(role); }

  int CountSent(Role r) const {
    int n = 0;
    for (const auto& hb : sent) n += hb.role == r;
    return n;
  }

  int lock_attempts = 0;
  int activations = 0;
  int stop_serving = 0;
  bool fenced = false;
  Status fence_reason;
  int exit_code = -1;
  std::unique_ptr<store::Store> store;
  std::vector<Heartbeat> sent;
  std::vector<Role> roles;
};

constexpr int64_t kHb = 100;
constexpr int kMissed = 3;

FailoverOptions Opts(const std::string& name = "b", uint64_t instance = 2) {
  FailoverOptions o;
  o.name = name;
  o.instance = instance;
  o.heartbeat_ms = kHb;
  o.missed = kMissed;
  return o;
}

Result<std::unique_ptr<store::Store>> Busy() {
  return Status::Busy("store.db", "database is locked");
}
Result<std::unique_ptr<store::Store>> Locked(uint64_t epoch, bool* closed = nullptr) {
  return std::unique_ptr<store::Store>(std::make_unique<FakeStore>(epoch, closed));
}

Heartbeat Hb(const std::string& name, uint64_t instance, Role role, uint64_t epoch) {
  static uint64_t seq = 0;
  return Heartbeat{name, instance, role, epoch, ++seq};
}

// Advances the clock in tick steps, calling OnTick each time.
void Run(FakeClock& clock, Failover& f, int64_t ms) {
  int64_t step = f.tick_ms();
  for (int64_t t = 0; t < ms; t += step) {
    clock.Advance(step);
    f.OnTick();
  }
}

// Builds an active Failover (lock won, activation done) with epoch `epoch`.
void MakeActive(Failover& f, RecordingHost& host, uint64_t epoch) {
  f.Start();
  f.OnLockResult(Locked(epoch));
  f.OnActivated(Status::OK());
  REQUIRE(f.role() == Role::kActive);
  REQUIRE(host.activations == 1);
}

}  // namespace

TEST_SUITE("failover") {

TEST_CASE("failover: start tries the lock at once; winning it activates") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  CHECK(f.role() == Role::kStandby);
  f.Start();
  CHECK(host.lock_attempts == 1);
  CHECK(f.lock_in_flight());
  f.OnLockResult(Locked(5));
  CHECK(f.role() == Role::kActivating);
  CHECK(host.activations == 1);
  REQUIRE(host.store != nullptr);
  CHECK(host.store->epoch() == 5);
  CHECK(f.epoch() == 5);
  CHECK(host.sent.empty());  // no heartbeat before the port is bound
  f.OnActivated(Status::OK());
  CHECK(f.role() == Role::kActive);
  REQUIRE(host.sent.size() == 1);  // the first heartbeat goes out at once
  CHECK(host.sent[0].role == Role::kActive);
  CHECK(host.sent[0].epoch == 5);
  CHECK(host.sent[0].name == "b");
  CHECK(host.sent[0].instance == 2);
  CHECK(host.roles == std::vector<Role>{Role::kStandby, Role::kActivating, Role::kActive});
}

TEST_CASE("failover: the active heartbeats every interval with increasing seq") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  MakeActive(f, host, 1);
  Run(clock, f, 10 * kHb);
  CHECK(host.CountSent(Role::kActive) == 11);
  for (size_t i = 1; i < host.sent.size(); ++i) CHECK(host.sent[i].seq == host.sent[i - 1].seq + 1);
}

TEST_CASE("failover: a busy lock makes a standby that waits for heartbeats") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  f.Start();
  f.OnLockResult(Busy());
  CHECK(f.role() == Role::kStandby);
  CHECK_FALSE(f.lock_in_flight());
  // An active heartbeats: no new attempt as long as it keeps doing so.
  for (int i = 0; i < 50; ++i) {
    f.OnHeartbeat(Hb("a", 1, Role::kActive, 4));
    Run(clock, f, kHb);
  }
  CHECK(host.lock_attempts == 1);
  CHECK(f.epoch() == 4);
  CHECK(host.activations == 0);
  // The standby heartbeats too, as a standby, carrying the epoch it heard.
  CHECK(host.CountSent(Role::kStandby) >= 49);
  CHECK(host.CountSent(Role::kActive) == 0);
  CHECK(host.sent.back().epoch == 4);
}

TEST_CASE("failover: missed heartbeats make the standby try the lock, then every interval") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  f.Start();
  f.OnLockResult(Busy());
  f.OnHeartbeat(Hb("a", 1, Role::kActive, 4));
  // Just inside the window: nothing.
  Run(clock, f, kHb * kMissed - f.tick_ms());
  CHECK(host.lock_attempts == 1);
  Run(clock, f, f.tick_ms());
  CHECK(host.lock_attempts == 2);
  CHECK(f.lock_in_flight());
  // While the attempt is in flight no other starts.
  Run(clock, f, 5 * kHb);
  CHECK(host.lock_attempts == 2);
  f.OnLockResult(Busy());
  // The next one waits for the retry interval measured from the previous start.
  Run(clock, f, f.tick_ms());
  CHECK(host.lock_attempts == 3);  // 5 intervals already passed
  f.OnLockResult(Busy());
  Run(clock, f, kHb - f.tick_ms());
  CHECK(host.lock_attempts == 3);
  Run(clock, f, f.tick_ms());
  CHECK(host.lock_attempts == 4);
  f.OnLockResult(Locked(5));
  CHECK(f.role() == Role::kActivating);
}

TEST_CASE("failover: a heartbeat from the active stops the retries") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  f.Start();
  f.OnLockResult(Busy());
  for (int i = 0; i < 3; ++i) {  // nothing heard yet: retry every interval
    Run(clock, f, kHb);
    f.OnLockResult(Busy());
  }
  int before = host.lock_attempts;
  CHECK(before == 4);
  f.OnHeartbeat(Hb("a", 1, Role::kActive, 4));
  Run(clock, f, 2 * kHb);
  f.OnHeartbeat(Hb("a", 1, Role::kActive, 4));
  Run(clock, f, 2 * kHb);
  CHECK(host.lock_attempts == before);
}

TEST_CASE("failover: losing the connection to the active tries the lock at once") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  f.Start();
  f.OnLockResult(Busy());
  f.OnHeartbeat(Hb("a", 1, Role::kActive, 4));
  f.OnActiveLost();
  CHECK(host.lock_attempts == 2);
  f.OnLockResult(Locked(5));
  CHECK(f.role() == Role::kActivating);
  CHECK(f.epoch() == 5);
}

TEST_CASE("failover: a loss during an attempt in flight retries as soon as it reports Busy") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  f.Start();  // attempt 1 in flight
  f.OnActiveLost();
  CHECK(host.lock_attempts == 1);
  f.OnLockResult(Busy());
  CHECK(host.lock_attempts == 2);  // started again at once, not after the interval
  f.OnLockResult(Busy());
  CHECK(host.lock_attempts == 2);  // but only once
}

TEST_CASE("failover: a stopping heartbeat from the active triggers an immediate takeover") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  f.Start();
  f.OnLockResult(Busy());
  f.OnHeartbeat(Hb("a", 1, Role::kActive, 4));
  f.OnHeartbeat(Hb("a", 1, Role::kStopping, 4));
  CHECK(host.lock_attempts == 2);
  f.OnLockResult(Locked(5));
  f.OnActivated(Status::OK());
  CHECK(f.role() == Role::kActive);
}

TEST_CASE("failover: other store errors on the lock are retried like Busy") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  f.Start();
  f.OnLockResult(Status::IOError("store.db", "unable to open database file"));
  CHECK(f.role() == Role::kStandby);
  Run(clock, f, kHb);
  CHECK(host.lock_attempts == 2);
}

TEST_CASE("failover: our own heartbeats are ignored") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts("b", 2), &clock, &host);
  MakeActive(f, host, 3);
  f.OnHeartbeat(Hb("b", 2, Role::kActive, 99));
  CHECK(f.role() == Role::kActive);
  CHECK(f.peers().empty());
}

TEST_CASE("failover: an active hearing a higher epoch fences at once") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts("b", 2), &clock, &host);
  MakeActive(f, host, 3);
  size_t sent = host.sent.size();
  SUBCASE("active") { f.OnHeartbeat(Hb("z", 9, Role::kActive, 4)); }
  SUBCASE("activating") { f.OnHeartbeat(Hb("z", 9, Role::kActivating, 4)); }
  SUBCASE("stopping") { f.OnHeartbeat(Hb("z", 9, Role::kStopping, 4)); }
  CHECK(f.role() == Role::kFenced);
  CHECK(host.fenced);
  CHECK(host.fence_reason.IsFenced());
  // Terminal: nothing more reaches the host.
  Run(clock, f, 10 * kHb);
  f.OnHeartbeat(Hb("z", 9, Role::kActive, 4));
  f.RequestStop();
  f.OnStoreError(Status::IOError("x"));
  CHECK(host.sent.size() == sent);
  CHECK(host.stop_serving == 0);
  CHECK(host.exit_code == -1);
}

TEST_CASE("failover: an active hearing a lower epoch keeps serving") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts("b", 2), &clock, &host);
  MakeActive(f, host, 3);
  f.OnHeartbeat(Hb("a", 1, Role::kActive, 2));
  CHECK(f.role() == Role::kActive);
  CHECK_FALSE(host.fenced);
}

TEST_CASE("failover: equal epochs: exactly one of two actives survives") {
  FakeClock clock;
  RecordingHost host_a, host_b;
  Failover a(Opts("a", 1), &clock, &host_a);
  Failover b(Opts("b", 2), &clock, &host_b);
  MakeActive(a, host_a, 7);
  MakeActive(b, host_b, 7);
  a.OnHeartbeat(host_b.sent.back());
  b.OnHeartbeat(host_a.sent.back());
  CHECK(a.role() == Role::kActive);
  CHECK(b.role() == Role::kFenced);
  SUBCASE("same name, different instances") {
    RecordingHost h1, h2;
    Failover x1(Opts("x", 10), &clock, &h1);
    Failover x2(Opts("x", 11), &clock, &h2);
    MakeActive(x1, h1, 7);
    MakeActive(x2, h2, 7);
    x1.OnHeartbeat(h2.sent.back());
    x2.OnHeartbeat(h1.sent.back());
    CHECK(x1.role() == Role::kActive);
    CHECK(x2.role() == Role::kFenced);
  }
}

TEST_CASE("failover: an activating instance that hears a winner fences") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts("b", 2), &clock, &host);
  f.Start();
  f.OnLockResult(Locked(3));
  f.OnHeartbeat(Hb("a", 1, Role::kActive, 8));
  CHECK(f.role() == Role::kFenced);
  f.OnActivated(Status::OK());
  CHECK(f.role() == Role::kFenced);
  CHECK(host.sent.empty());
}

TEST_CASE("failover: a standby hears other standbys without reacting") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  f.Start();
  f.OnLockResult(Busy());
  f.OnHeartbeat(Hb("a", 1, Role::kActive, 4));
  f.OnHeartbeat(Hb("c", 3, Role::kStandby, 4));
  CHECK(f.role() == Role::kStandby);
  CHECK(host.lock_attempts == 1);
}

TEST_CASE("failover: activation failure is a failed start: exit 1, no heartbeat") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  f.Start();
  f.OnLockResult(Locked(2));
  f.OnActivated(Status::IOError("listen 0.0.0.0:4222", "address already in use"));
  CHECK(f.role() == Role::kStopped);
  CHECK(host.exit_code == 1);
  CHECK_FALSE(host.fenced);
  CHECK(host.sent.empty());
  f.OnStoreError(Status::IOError("x"));  // terminal
  CHECK_FALSE(host.fenced);
}

TEST_CASE("failover: a store error fences the active") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  MakeActive(f, host, 2);
  SUBCASE("io") { f.OnStoreError(Status::IOError("store.db", "disk I/O error")); }
  SUBCASE("fenced") { f.OnStoreError(Status::Fenced("epoch 3 in the store, ours 2")); }
  CHECK(f.role() == Role::kFenced);
  CHECK(host.fenced);
  CHECK(host.exit_code == -1);
}

TEST_CASE("failover: a store error means nothing to a standby") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  f.Start();
  f.OnLockResult(Busy());
  f.OnStoreError(Status::IOError("x"));
  CHECK(f.role() == Role::kStandby);
  CHECK_FALSE(host.fenced);
}

TEST_CASE("failover: graceful stop of the active") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  MakeActive(f, host, 6);
  f.RequestStop();
  CHECK(f.role() == Role::kStopping);
  CHECK(host.stop_serving == 1);
  size_t sent = host.sent.size();
  Run(clock, f, 5 * kHb);  // no heartbeat while stopping: the store may already be closed
  CHECK(host.sent.size() == sent);
  CHECK(host.exit_code == -1);
  f.RequestStop();  // a second signal changes nothing
  CHECK(host.stop_serving == 1);
  f.OnServingStopped(Status::OK());
  REQUIRE(host.sent.size() == sent + 1);
  CHECK(host.sent.back().role == Role::kStopping);  // only after the store is closed
  CHECK(host.sent.back().epoch == 6);
  CHECK(f.role() == Role::kStopped);
  CHECK(host.exit_code == 0);
}

TEST_CASE("failover: a graceful stop that fails to close the store exits non-zero") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  MakeActive(f, host, 6);
  f.RequestStop();
  f.OnServingStopped(Status::IOError("store.db", "disk I/O error"));
  CHECK(host.exit_code == 1);
}

TEST_CASE("failover: a store error while stopping fences") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  MakeActive(f, host, 6);
  f.RequestStop();
  f.OnStoreError(Status::IOError("store.db", "disk full"));
  CHECK(f.role() == Role::kFenced);
  f.OnServingStopped(Status::OK());
  CHECK(host.exit_code == -1);
}

TEST_CASE("failover: a write after our own graceful stop closed the store is no fence") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  MakeActive(f, host, 6);
  SUBCASE("while active it is") {
    f.OnStoreError(Status::ShutdownInProgress("store is closed"));
    CHECK(f.role() == Role::kFenced);
  }
  SUBCASE("while stopping it is not") {
    f.RequestStop();
    f.OnStoreError(Status::ShutdownInProgress("store is closed"));
    CHECK(f.role() == Role::kStopping);
    f.OnServingStopped(Status::OK());
    CHECK(host.exit_code == 0);
    CHECK_FALSE(host.fenced);
  }
}

TEST_CASE("failover: stopping a standby exits at once") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  f.Start();
  f.OnLockResult(Busy());
  f.RequestStop();
  CHECK(f.role() == Role::kStopped);
  CHECK(host.exit_code == 0);
  CHECK(host.stop_serving == 0);
}

TEST_CASE("failover: stopping a standby with an attempt in flight waits for it") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  f.Start();
  f.RequestStop();
  CHECK(f.role() == Role::kStopping);
  CHECK(host.exit_code == -1);
  // An active's heartbeat must not look like a rival to a stopping standby.
  f.OnHeartbeat(Hb("a", 1, Role::kActive, 9));
  CHECK_FALSE(host.fenced);
  SUBCASE("busy") {
    f.OnLockResult(Busy());
    CHECK(host.activations == 0);
  }
  SUBCASE("won: the store is closed again, not served") {
    bool closed = false;
    f.OnLockResult(Locked(3, &closed));
    CHECK(closed);
    CHECK(host.activations == 0);
  }
  CHECK(f.role() == Role::kStopped);
  CHECK(host.exit_code == 0);
}

TEST_CASE("failover: a stop during activation stops gracefully once active") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts(), &clock, &host);
  f.Start();
  f.OnLockResult(Locked(2));
  f.RequestStop();
  CHECK(f.role() == Role::kActivating);
  f.OnActivated(Status::OK());
  CHECK(f.role() == Role::kStopping);
  CHECK(host.stop_serving == 1);
}

TEST_CASE("failover: the active tracks its standbys: joined, lost, degraded, restored") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts("a", 1), &clock, &host);
  MakeActive(f, host, 1);
  CHECK(f.live_standbys() == 0);
  f.OnHeartbeat(Hb("b", 2, Role::kStandby, 1));
  f.OnHeartbeat(Hb("c", 3, Role::kStandby, 1));
  CHECK(f.live_standbys() == 2);
  Run(clock, f, 2 * kHb);
  auto peers = f.peers();
  REQUIRE(peers.size() == 2);
  CHECK(peers[0].name == "b");
  CHECK(peers[0].age_ms >= 2 * kHb);
  CHECK(peers[0].alive);
  // c keeps heartbeating, b goes quiet.
  for (int i = 0; i < 5; ++i) {
    f.OnHeartbeat(Hb("c", 3, Role::kStandby, 1));
    Run(clock, f, kHb);
  }
  CHECK(f.live_standbys() == 1);
  CHECK_FALSE(f.peers()[0].alive);
  // b restarts (a new instance id, same name) and is restored.
  f.OnHeartbeat(Hb("b", 22, Role::kStandby, 1));
  CHECK(f.live_standbys() == 2);
  CHECK(f.peers()[0].instance == 22);
  CHECK(f.peers().size() == 2);
  CHECK(f.role() == Role::kActive);
}

TEST_CASE("failover: the old active coming back as a standby is announced as joined") {
  FakeClock clock;
  RecordingHost host;
  Failover f(Opts("b", 2), &clock, &host);
  f.Start();
  f.OnLockResult(Busy());
  f.OnHeartbeat(Hb("a", 1, Role::kActive, 1));
  REQUIRE(f.peers().size() == 1);
  f.OnActiveLost();
  f.OnLockResult(Locked(2));
  f.OnActivated(Status::OK());
  CHECK(f.peers().empty());  // forgotten on activation
  CHECK(f.live_standbys() == 0);
  f.OnHeartbeat(Hb("a", 11, Role::kStandby, 2));
  CHECK(f.live_standbys() == 1);
  CHECK(f.peers()[0].role == Role::kStandby);
}

TEST_CASE("failover: tick period follows the heartbeat interval") {
  FakeClock clock;
  RecordingHost host;
  FailoverOptions o = Opts();
  o.heartbeat_ms = 1000;
  CHECK(Failover(o, &clock, &host).tick_ms() == 50);
  o.heartbeat_ms = 100;
  CHECK(Failover(o, &clock, &host).tick_ms() == 10);
  o.heartbeat_ms = 5;
  CHECK(Failover(o, &clock, &host).tick_ms() == 1);
}

}  // TEST_SUITE

}  // namespace tandem::ft
