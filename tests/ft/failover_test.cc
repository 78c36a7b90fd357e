// Tests for ft/failover: every transition and every timer of the role state machine, on a
// FakeClock with a recording host. No sockets, no SQLite, no sleeps.
#include "ft/failover.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "ft/store_failure.h"
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
  const store::StoreIdentity& identity() const override { return identity_; }
  Status health() const override { return Status::OK(); }

 private:
  uint64_t epoch_;
  bool* closed_;
  store::StoreIdentity identity_{"0123456789abcdef0123456789abcdef", "c", "g", "", ""};
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
  // Answers at once with `ownership` when `owner` is set; else the test answers.
  void VerifyOwnership() override {
    ++verifications;
    if (owner) owner->OnOwnershipVerified(ownership);
  }
  // The store's sticky error as the test sets it; counts how often Failover asks.
  Status StoreHealth() override {
    ++health_checks;
    return health;
  }

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
  int verifications = 0;
  Failover* owner = nullptr;
  Status ownership;
  Status health;
  int health_checks = 0;
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
  return Heartbeat{name, instance, role, epoch, ++seq, ""};
}

// Builds an active Failover (lock won, activation done) with epoch `epoch`.
void MakeActive(Failover& f, RecordingHost& host, uint64_t epoch) {
  f.Start();
  f.OnLockResult(Locked(epoch));
  f.OnActivated(Status::OK());
  REQUIRE(f.role() == Role::kActive);
  REQUIRE(host.activations == 1);
}

// Makes two instances (options `ox`, `oy`) active at the same epoch on one clock, lets each
// hear the other's heartbeat, and returns their roles after that. Each store, asked, says the
// epoch moved on (as a store shared without working locks would): only the one that computes
// that the other wins asks.
std::pair<Role, Role> RolesAfterEqualEpochsMeet(const FailoverOptions& ox,
                                                const FailoverOptions& oy) {
  FakeClock clock;
  RecordingHost hx, hy;
  Failover x(ox, &clock, &hx);
  Failover y(oy, &clock, &hy);
  MakeActive(x, hx, 7);
  MakeActive(y, hy, 7);
  hx.owner = &x;
  hy.owner = &y;
  hx.ownership = hy.ownership = Status::Fenced("store epoch is 8");
  x.OnHeartbeat(hy.sent.back());
  y.OnHeartbeat(hx.sent.back());
  return {x.role(), y.role()};
}

// One Failover (options Opts() unless given) on its own FakeClock with a RecordingHost: what
// nearly every case starts from, as a doctest fixture.
struct Rig {
  explicit Rig(const FailoverOptions& o = Opts()) : failover(o, &clock, &host) {}

  // Advances the clock in tick steps, calling OnTick each time.
  void Run(int64_t ms) {
    int64_t step = failover.tick_ms();
    for (int64_t t = 0; t < ms; t += step) {
      clock.Advance(step);
      failover.OnTick();
    }
  }
  // Lock won and activation done at `epoch` (see the free MakeActive).
  void MakeActive(uint64_t epoch) { ft::MakeActive(failover, host, epoch); }
  // Starts and loses the first lock attempt to a Busy store: a standby that heard no one yet.
  void MakeStandby() {
    failover.Start();
    failover.OnLockResult(Busy());
  }
  // Delivers a heartbeat of the active "a" (instance 1) at `epoch`.
  void HearActive(uint64_t epoch) { failover.OnHeartbeat(Hb("a", 1, Role::kActive, epoch)); }

  FakeClock clock;
  RecordingHost host;
  Failover failover;
};

// The Rig of instance "a" (1), for cases where this instance must sort first.
struct RigA : Rig {
  RigA() : Rig(Opts("a", 1)) {}
};

}  // namespace

TEST_SUITE("failover") {

TEST_CASE_FIXTURE(Rig, "failover: start tries the lock at once; winning it activates") {
  CHECK(failover.role() == Role::kStandby);
  failover.Start();
  CHECK(host.lock_attempts == 1);
  CHECK(failover.lock_in_flight());
  failover.OnLockResult(Locked(5));
  CHECK(failover.role() == Role::kActivating);
  CHECK(host.activations == 1);
  REQUIRE(host.store != nullptr);
  CHECK(host.store->epoch() == 5);
  CHECK(failover.epoch() == 5);
  CHECK(host.sent.empty());  // no heartbeat before the port is bound
  failover.OnActivated(Status::OK());
  CHECK(failover.role() == Role::kActive);
  REQUIRE(host.sent.size() == 1);  // the first heartbeat goes out at once
  CHECK(host.sent[0].role == Role::kActive);
  CHECK(host.sent[0].epoch == 5);
  CHECK(host.sent[0].name == "b");
  CHECK(host.sent[0].instance == 2);
  CHECK(host.roles == std::vector<Role>{Role::kStandby, Role::kActivating, Role::kActive});
}

TEST_CASE_FIXTURE(Rig, "failover: serving is the role machine's answer: active, and nothing else") {
  CHECK_FALSE(failover.serving());
  failover.Start();
  CHECK_FALSE(failover.serving());  // standby, attempt in flight
  failover.OnLockResult(Locked(2));
  CHECK_FALSE(failover.serving());  // activating: the port is not bound yet
  failover.OnActivated(Status::OK());
  CHECK(failover.serving());
  failover.RequestStop();
  CHECK_FALSE(failover.serving());  // stopping: no longer accepting
  failover.OnServingStopped(Status::OK());
  CHECK_FALSE(failover.serving());
  SUBCASE("fenced") {
    Rig other;
    other.MakeActive(3);
    other.host.health = Status::Fenced("epoch 4 in the store, ours 3");
    other.Run(other.failover.tick_ms());
    CHECK(other.failover.role() == Role::kFenced);
    CHECK_FALSE(other.failover.serving());
  }
}

TEST_CASE_FIXTURE(Rig, "failover: the active heartbeats every interval with increasing seq") {
  MakeActive(1);
  Run(10 * kHb);
  CHECK(host.CountSent(Role::kActive) == 11);
  for (size_t i = 1; i < host.sent.size(); ++i) CHECK(host.sent[i].seq == host.sent[i - 1].seq + 1);
}

TEST_CASE_FIXTURE(Rig, "failover: a busy lock makes a standby that waits for heartbeats") {
  MakeStandby();
  CHECK(failover.role() == Role::kStandby);
  CHECK_FALSE(failover.lock_in_flight());
  // An active heartbeats: no new attempt as long as it keeps doing so.
  for (int i = 0; i < 50; ++i) {
    HearActive(4);
    Run(kHb);
  }
  CHECK(host.lock_attempts == 1);
  CHECK(failover.epoch() == 4);
  CHECK(host.activations == 0);
  // The standby heartbeats too, as a standby, carrying the epoch it heard.
  CHECK(host.CountSent(Role::kStandby) >= 49);
  CHECK(host.CountSent(Role::kActive) == 0);
  CHECK(host.sent.back().epoch == 4);
}

TEST_CASE_FIXTURE(Rig,
                  "failover: missed heartbeats make the standby try the lock, then every interval") {
  MakeStandby();
  HearActive(4);
  // Just inside the window: nothing.
  Run(kHb * kMissed - failover.tick_ms());
  CHECK(host.lock_attempts == 1);
  Run(failover.tick_ms());
  CHECK(host.lock_attempts == 2);
  CHECK(failover.lock_in_flight());
  // While the attempt is in flight no other starts.
  Run(5 * kHb);
  CHECK(host.lock_attempts == 2);
  failover.OnLockResult(Busy());
  // The next one waits for the retry interval measured from the previous start.
  Run(failover.tick_ms());
  CHECK(host.lock_attempts == 3);  // 5 intervals already passed
  failover.OnLockResult(Busy());
  Run(kHb - failover.tick_ms());
  CHECK(host.lock_attempts == 3);
  Run(failover.tick_ms());
  CHECK(host.lock_attempts == 4);
  failover.OnLockResult(Locked(5));
  CHECK(failover.role() == Role::kActivating);
}

TEST_CASE_FIXTURE(Rig, "failover: a heartbeat from the active stops the retries") {
  MakeStandby();
  for (int i = 0; i < 3; ++i) {  // nothing heard yet: retry every interval
    Run(kHb);
    failover.OnLockResult(Busy());
  }
  int before = host.lock_attempts;
  CHECK(before == 4);
  HearActive(4);
  Run(2 * kHb);
  HearActive(4);
  Run(2 * kHb);
  CHECK(host.lock_attempts == before);
}

TEST_CASE_FIXTURE(Rig, "failover: losing the connection to the active tries the lock at once") {
  MakeStandby();
  HearActive(4);
  failover.OnActiveLost();
  CHECK(host.lock_attempts == 2);
  failover.OnLockResult(Locked(5));
  CHECK(failover.role() == Role::kActivating);
  CHECK(failover.epoch() == 5);
}

TEST_CASE_FIXTURE(Rig, "failover: the active's lock freed makes a standby try the lock at once") {
  MakeStandby();
  HearActive(4);
  failover.OnActiveLockFreed();
  CHECK(host.lock_attempts == 2);
  failover.OnActiveLockFreed();  // an attempt is in flight: no second one
  CHECK(host.lock_attempts == 2);
  // The dead active's store lock may outlive its other lock by a moment: Busy is retried within
  // a few milliseconds, not after the heartbeat interval.
  failover.OnLockResult(Busy());
  Run(Failover::kFreedRetryMs + failover.tick_ms());
  CHECK(host.lock_attempts == 3);
  failover.OnLockResult(Locked(5));
  CHECK(failover.role() == Role::kActivating);
  failover.OnActivated(Status::OK());
  REQUIRE(failover.role() == Role::kActive);
  failover.OnActiveLockFreed();  // an active ignores it
  CHECK(failover.role() == Role::kActive);
  CHECK(host.lock_attempts == 3);
}

TEST_CASE_FIXTURE(Rig,
                  "failover: a loss during an attempt in flight retries as soon as it reports Busy") {
  failover.Start();  // attempt 1 in flight
  failover.OnActiveLost();
  CHECK(host.lock_attempts == 1);
  failover.OnLockResult(Busy());
  CHECK(host.lock_attempts == 2);  // started again at once, not after the interval
  failover.OnLockResult(Busy());
  CHECK(host.lock_attempts == 2);  // but only once
}

TEST_CASE_FIXTURE(Rig, "failover: the standby's state through losses, heartbeats and answers") {
  CHECK(failover.standby_state() == StandbyState::kIdle);
  failover.Start();
  CHECK(failover.standby_state() == StandbyState::kLocking);
  failover.OnLockResult(Busy());
  CHECK(failover.standby_state() == StandbyState::kSeeking);
  HearActive(4);
  CHECK(failover.standby_state() == StandbyState::kFollowing);
  failover.OnActiveLost();  // an attempt at once
  CHECK(host.lock_attempts == 2);
  CHECK(failover.standby_state() == StandbyState::kLocking);
  HearActive(4);
  CHECK(failover.standby_state() == StandbyState::kLockingHeard);
  failover.OnActiveLost();
  CHECK(failover.standby_state() == StandbyState::kLockingRetry);
  HearActive(4);  // heard again: the retry stays due, and the next attempt follows
  CHECK(failover.standby_state() == StandbyState::kLockingRetryHeard);
  failover.OnLockResult(Busy());
  CHECK(host.lock_attempts == 3);
  CHECK(failover.standby_state() == StandbyState::kLockingHeard);
  failover.OnLockResult(Busy());
  CHECK(host.lock_attempts == 3);
  CHECK(failover.standby_state() == StandbyState::kFollowing);
  Run(kHb * kMissed);  // the active goes quiet
  CHECK(host.lock_attempts == 4);
  CHECK(failover.standby_state() == StandbyState::kLocking);
  failover.OnLockResult(Locked(5));
  CHECK(failover.standby_state() == StandbyState::kIdle);  // no longer standing by
  CHECK(failover.role() == Role::kActivating);
  failover.Start();  // refused: started once
  CHECK(host.lock_attempts == 4);
}

TEST_CASE_FIXTURE(Rig,
                  "failover: a stopping heartbeat from the active triggers an immediate takeover") {
  MakeStandby();
  HearActive(4);
  failover.OnHeartbeat(Hb("a", 1, Role::kStopping, 4));
  CHECK(host.lock_attempts == 2);
  failover.OnLockResult(Locked(5));
  failover.OnActivated(Status::OK());
  CHECK(failover.role() == Role::kActive);
}

TEST_CASE_FIXTURE(Rig, "failover: a damaged store ends the member at once with exit 1") {
  failover.Start();
  SUBCASE("corruption") {
    failover.OnLockResult(Status::Corruption("store.db", "file is not a database"));
  }
  SUBCASE("invalid") { failover.OnLockResult(Status::InvalidArgument("store.db", "bad path")); }
  CHECK(failover.role() == Role::kStopped);
  CHECK(host.exit_code == 1);
  CHECK(host.activations == 0);
  Run(10 * kHb);
  CHECK(host.lock_attempts == 1);  // never tried again
}

TEST_CASE_FIXTURE(Rig, "failover: an I/O error on the lock is retried with backoff, then exit 1") {
  failover.Start();
  auto io = [] { return Status::IOError("store.db", "unable to open database file"); };
  failover.OnLockResult(io());
  CHECK(failover.role() == Role::kStandby);
  CHECK(failover.store_error().IsIOError());
  int64_t delay = kStoreRetryFirstMs;
  for (int retry = 1; retry <= kStoreRetries; ++retry) {
    Run(delay - 2 * failover.tick_ms());
    CHECK(host.lock_attempts == retry);  // not before the backoff
    Run(4 * failover.tick_ms());
    REQUIRE(host.lock_attempts == retry + 1);
    failover.OnLockResult(io());
    delay *= 2;
  }
  CHECK(failover.role() == Role::kStopped);
  CHECK(host.exit_code == 1);
}

TEST_CASE_FIXTURE(Rig, "failover: a passing I/O error followed by Busy stands by as usual") {
  failover.Start();
  failover.OnLockResult(Status::IOError("store.db", "disk I/O error"));
  Run(kStoreRetryFirstMs + 4 * failover.tick_ms());
  REQUIRE(host.lock_attempts == 2);
  failover.OnLockResult(Busy());
  CHECK(failover.role() == Role::kStandby);
  CHECK(failover.store_error().ok());
  CHECK(host.exit_code == -1);
}

TEST_CASE_FIXTURE(Rig, "failover: our own heartbeats are ignored") {
  // The Rig's own name and instance are "b" and 2.
  MakeActive(3);
  failover.OnHeartbeat(Hb("b", 2, Role::kActive, 99));
  CHECK(failover.role() == Role::kActive);
  CHECK(failover.peers().empty());
}

TEST_CASE_FIXTURE(Rig, "failover: an active hearing a higher epoch fences once the store agrees") {
  MakeActive(3);
  size_t sent = host.sent.size();
  SUBCASE("active") { failover.OnHeartbeat(Hb("z", 9, Role::kActive, 4)); }
  SUBCASE("activating") { failover.OnHeartbeat(Hb("z", 9, Role::kActivating, 4)); }
  SUBCASE("stopping") { failover.OnHeartbeat(Hb("z", 9, Role::kStopping, 4)); }
  // A claim alone changes nothing: the store is asked, once while the question is open.
  CHECK(host.verifications == 1);
  CHECK(failover.role() == Role::kActive);
  failover.OnHeartbeat(Hb("z", 9, Role::kActive, 4));
  CHECK(host.verifications == 1);
  failover.OnOwnershipVerified(Status::Fenced("store epoch is 4, ours is 3"));
  CHECK(failover.role() == Role::kFenced);
  CHECK(host.fenced);
  CHECK(host.fence_reason.IsFenced());
  // Terminal: nothing more reaches the host.
  Run(10 * kHb);
  failover.OnHeartbeat(Hb("z", 9, Role::kActive, 4));
  failover.RequestStop();
  host.health = Status::IOError("x");
  Run(kHb);
  CHECK(host.sent.size() == sent);
  CHECK(host.stop_serving == 0);
  CHECK(host.exit_code == -1);
}

TEST_CASE_FIXTURE(Rig, "failover: a claim the store contradicts fences nothing") {
  MakeActive(3);
  failover.OnHeartbeat(Hb("intruder", 9, Role::kActive, 1000000));
  REQUIRE(host.verifications == 1);
  failover.OnOwnershipVerified(Status::OK());  // the stored epoch is still ours
  CHECK(failover.role() == Role::kActive);
  CHECK_FALSE(host.fenced);
  // It keeps serving and heartbeating; the next claim is checked again.
  Run(3 * kHb);
  CHECK(failover.role() == Role::kActive);
  failover.OnHeartbeat(Hb("intruder", 9, Role::kActive, 1000000));
  CHECK(host.verifications == 2);
}

TEST_CASE_FIXTURE(Rig, "failover: heartbeats of another store are ignored") {
  MakeActive(3);  // the FakeStore's id is 0123...
  Heartbeat hb = Hb("z", 9, Role::kActive, 40);
  hb.store_id = "ffffffffffffffffffffffffffffffff";
  failover.OnHeartbeat(hb);
  CHECK(host.verifications == 0);
  CHECK(failover.peers().empty());
  CHECK(failover.role() == Role::kActive);
}

TEST_CASE_FIXTURE(Rig, "failover: a refused store ends the process instead of standing by") {
  failover.Start();
  SUBCASE("missing, may not be created") {
    failover.OnLockResult(Status::NotFound("store.db", "no store here"));
  }
  SUBCASE("another identity or an older epoch") {
    failover.OnLockResult(Status::InvalidArgument("store.db", "older copy"));
  }
  CHECK(failover.role() == Role::kStopped);
  CHECK(host.exit_code == 1);
  CHECK(host.activations == 0);
}

TEST_CASE_FIXTURE(Rig, "failover: an active hearing a lower epoch keeps serving") {
  MakeActive(3);
  HearActive(2);
  CHECK(failover.role() == Role::kActive);
  CHECK_FALSE(host.fenced);
}

TEST_CASE("failover: equal epochs: exactly one of two actives survives") {
  auto [a, b] = RolesAfterEqualEpochsMeet(Opts("a", 1), Opts("b", 2));
  CHECK(a == Role::kActive);
  CHECK(b == Role::kFenced);
  SUBCASE("same name, different instances") {
    auto [x1, x2] = RolesAfterEqualEpochsMeet(Opts("x", 10), Opts("x", 11));
    CHECK(x1 == Role::kActive);
    CHECK(x2 == Role::kFenced);
  }
}

TEST_CASE_FIXTURE(Rig, "failover: claims heard while activating wait until it is active") {
  failover.Start();
  failover.OnLockResult(Locked(3));
  HearActive(8);
  CHECK(failover.role() == Role::kActivating);
  CHECK(host.verifications == 0);  // the store is busy recovering
  failover.OnActivated(Status::OK());
  HearActive(8);
  CHECK(host.verifications == 1);
  failover.OnOwnershipVerified(Status::Fenced("store epoch is 8"));
  CHECK(failover.role() == Role::kFenced);
}

TEST_CASE_FIXTURE(Rig, "failover: a standby hears other standbys without reacting") {
  MakeStandby();
  HearActive(4);
  failover.OnHeartbeat(Hb("c", 3, Role::kStandby, 4));
  CHECK(failover.role() == Role::kStandby);
  CHECK(host.lock_attempts == 1);
}

TEST_CASE_FIXTURE(Rig, "failover: activation failure is a failed start: exit 1, no heartbeat") {
  failover.Start();
  failover.OnLockResult(Locked(2));
  failover.OnActivated(Status::IOError("listen 0.0.0.0:4222", "address already in use"));
  CHECK(failover.role() == Role::kStopped);
  CHECK(host.exit_code == 1);
  CHECK_FALSE(host.fenced);
  CHECK(host.sent.empty());
  host.health = Status::IOError("x");
  Run(kHb);  // terminal: the store is not even asked
  CHECK(host.health_checks == 0);
  CHECK_FALSE(host.fenced);
}

TEST_CASE_FIXTURE(Rig, "failover: a store error fences the active at the next tick") {
  MakeActive(2);
  Run(kHb);
  CHECK(host.health_checks > 0);  // asked on every tick while active
  size_t sent = host.sent.size();
  SUBCASE("io") { host.health = Status::IOError("store.db", "disk I/O error"); }
  SUBCASE("fenced") { host.health = Status::Fenced("epoch 3 in the store, ours 2"); }
  clock.Advance(failover.tick_ms());
  failover.OnTick();
  CHECK(failover.role() == Role::kFenced);
  CHECK(host.fenced);
  CHECK(host.fence_reason.ToString() == host.health.ToString());
  CHECK(host.exit_code == -1);
  int checks = host.health_checks;
  Run(10 * kHb);  // terminal: nothing more is asked or sent
  CHECK(host.health_checks == checks);
  CHECK(host.sent.size() == sent);
}

TEST_CASE_FIXTURE(Rig, "failover: the store is not asked while standing by or activating") {
  host.health = Status::IOError("x");
  MakeStandby();
  Run(10 * kHb);
  CHECK(failover.role() == Role::kStandby);
  failover.OnActiveLost();
  failover.OnLockResult(Locked(3));
  REQUIRE(failover.role() == Role::kActivating);
  Run(10 * kHb);  // recovery's own failure is the activation's (a failed start, exit 1)
  CHECK(host.health_checks == 0);
  CHECK_FALSE(host.fenced);
  failover.OnActivated(Status::OK());
  Run(failover.tick_ms());
  CHECK(host.health_checks == 1);
  CHECK(host.fenced);
}

TEST_CASE_FIXTURE(Rig, "failover: graceful stop of the active") {
  MakeActive(6);
  failover.RequestStop();
  CHECK(failover.role() == Role::kStopping);
  CHECK(host.stop_serving == 1);
  size_t sent = host.sent.size();
  Run(5 * kHb);  // no heartbeat while stopping: the store may already be closed
  CHECK(host.sent.size() == sent);
  CHECK(host.exit_code == -1);
  failover.RequestStop();  // a second signal changes nothing
  CHECK(host.stop_serving == 1);
  failover.OnServingStopped(Status::OK());
  REQUIRE(host.sent.size() == sent + 1);
  CHECK(host.sent.back().role == Role::kStopping);  // only after the store is closed
  CHECK(host.sent.back().epoch == 6);
  CHECK(failover.role() == Role::kStopped);
  CHECK(host.exit_code == 0);
}

TEST_CASE_FIXTURE(Rig, "failover: a graceful stop that fails to close the store exits non-zero") {
  MakeActive(6);
  failover.RequestStop();
  failover.OnServingStopped(Status::IOError("store.db", "disk I/O error"));
  CHECK(host.exit_code == 1);
}

TEST_CASE_FIXTURE(Rig, "failover: a store error while stopping fences") {
  MakeActive(6);
  failover.RequestStop();
  host.health = Status::IOError("store.db", "disk full");
  Run(failover.tick_ms());
  CHECK(failover.role() == Role::kFenced);
  failover.OnServingStopped(Status::OK());
  CHECK(host.exit_code == -1);
}

TEST_CASE_FIXTURE(Rig,
                  "failover: a write after our own graceful stop closed the store is no fence") {
  MakeActive(6);
  host.health = Status::ShutdownInProgress("store is closed");
  SUBCASE("while active it is") {
    Run(failover.tick_ms());
    CHECK(failover.role() == Role::kFenced);
  }
  SUBCASE("while stopping it is not") {
    failover.RequestStop();
    Run(failover.tick_ms());
    CHECK(host.health_checks > 0);
    CHECK(failover.role() == Role::kStopping);
    failover.OnServingStopped(Status::OK());
    CHECK(host.exit_code == 0);
    CHECK_FALSE(host.fenced);
  }
}

TEST_CASE_FIXTURE(Rig, "failover: stopping a standby exits at once") {
  MakeStandby();
  failover.RequestStop();
  CHECK(failover.role() == Role::kStopped);
  CHECK(host.exit_code == 0);
  CHECK(host.stop_serving == 0);
}

TEST_CASE_FIXTURE(Rig, "failover: stopping a standby with an attempt in flight waits for it") {
  failover.Start();
  failover.RequestStop();
  CHECK(failover.role() == Role::kStopping);
  CHECK(host.exit_code == -1);
  // An active's heartbeat must not look like a rival to a stopping standby.
  HearActive(9);
  CHECK_FALSE(host.fenced);
  SUBCASE("busy") {
    failover.OnLockResult(Busy());
    CHECK(host.activations == 0);
  }
  SUBCASE("won: the store is closed again, not served") {
    bool closed = false;
    failover.OnLockResult(Locked(3, &closed));
    CHECK(closed);
    CHECK(host.activations == 0);
  }
  CHECK(failover.role() == Role::kStopped);
  CHECK(host.exit_code == 0);
}

TEST_CASE_FIXTURE(Rig, "failover: a stop during activation stops gracefully once active") {
  failover.Start();
  failover.OnLockResult(Locked(2));
  failover.RequestStop();
  CHECK(failover.role() == Role::kActivating);
  failover.OnActivated(Status::OK());
  CHECK(failover.role() == Role::kStopping);
  CHECK(host.stop_serving == 1);
}

TEST_CASE_FIXTURE(RigA,
                  "failover: the active tracks its standbys: joined, lost, degraded, restored") {
  MakeActive(1);
  CHECK(failover.live_standbys() == 0);
  failover.OnHeartbeat(Hb("b", 2, Role::kStandby, 1));
  failover.OnHeartbeat(Hb("c", 3, Role::kStandby, 1));
  CHECK(failover.live_standbys() == 2);
  Run(2 * kHb);
  auto peers = failover.peers();
  REQUIRE(peers.size() == 2);
  CHECK(peers[0].name == "b");
  CHECK(peers[0].age_ms >= 2 * kHb);
  CHECK(peers[0].alive);
  // c keeps heartbeating, b goes quiet.
  for (int i = 0; i < 5; ++i) {
    failover.OnHeartbeat(Hb("c", 3, Role::kStandby, 1));
    Run(kHb);
  }
  CHECK(failover.live_standbys() == 1);
  CHECK_FALSE(failover.peers()[0].alive);
  // b restarts (a new instance id, same name) and is restored.
  failover.OnHeartbeat(Hb("b", 22, Role::kStandby, 1));
  CHECK(failover.live_standbys() == 2);
  CHECK(failover.peers()[0].instance == 22);
  CHECK(failover.peers().size() == 2);
  CHECK(failover.role() == Role::kActive);
}

TEST_CASE_FIXTURE(Rig, "failover: the old active coming back as a standby is announced as joined") {
  MakeStandby();
  HearActive(1);
  REQUIRE(failover.peers().size() == 1);
  failover.OnActiveLost();
  failover.OnLockResult(Locked(2));
  failover.OnActivated(Status::OK());
  CHECK(failover.peers().empty());  // forgotten on activation
  CHECK(failover.live_standbys() == 0);
  failover.OnHeartbeat(Hb("a", 11, Role::kStandby, 2));
  CHECK(failover.live_standbys() == 1);
  CHECK(failover.peers()[0].role == Role::kStandby);
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
