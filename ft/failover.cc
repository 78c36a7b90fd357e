// failover.cc: the role state machine of a fault-tolerant instance (transitions in failover.h).
//
// Invariants (each is relied on by the server and checked by tests/ft/failover_test.cc):
//
//  1. Takeover only after the lock is held: Activate() is called only with a store whose Open
//     succeeded, that is whose exclusive lock is ours and whose epoch was bumped by that Open.
//  2. A standby never listens for clients: the host binds the client port only inside Activate
//     and the standby has no store, so it cannot acknowledge anything.
//  3. An active never writes after the store confirmed that a winning active (a higher epoch,
//     or an equal one with a lower name) took it over: Fence() is called as soon as the store
//     says so, and it is the last call Failover makes. A claim the store contradicts (our epoch
//     is still the stored one, so our lock is valid) fences nothing.
//  4. After Fence() or Exit() no further call reaches the host; kFenced and kStopped ignore
//     every input.
//  5. At most one lock attempt is in flight (StandbyMachine refuses a second). A loss of the
//     active noticed during an attempt makes a new attempt start the moment the old one
//     reports Busy.
//  6. The "stopping" heartbeat goes out only after the store is closed, so a standby that
//     reacts to it at once finds the lock free.
//  7. A sticky store error while holding the lock is fatal (Fence): we never retry a write whose
//     outcome is unknown.
//  8. Only the steady Clock and epochs order events; wall clocks are never compared.
//
// A standby tries the lock at start, when its connection to the active drops, when the active
// says it is stopping, and while no active heartbeat was heard for `missed` intervals, every
// `retry_ms` after that. Trying is cheap and harmless: Open fails with Busy while another
// process holds the lock. Any other failure means this member cannot use the store: it retries
// a passing error a few times and then, like at once for a damaged file, exits with status 1
// (store_failure.h), so it is never mistaken for a healthy standby.
#include "ft/failover.h"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "ft/store_failure.h"

namespace tandem::ft {

Failover::Failover(const FailoverOptions& options, Clock* clock, FailoverHost* host)
    : options_(options), clock_(clock), host_(host) {}

int64_t Failover::tick_ms() const { return std::clamp<int64_t>(options_.heartbeat_ms / 10, 1, 50); }

void Failover::Start() {
  if (role_ != Role::kStandby || !standby_.Start()) return;
  next_hb_ms_ = clock_->NowMs();
  spdlog::info("ft: {} starting as standby, trying the store lock", options_.name);
  host_->RoleChanged(role_, epoch_);
  StartLockAttempt();
}

void Failover::SetRole(Role role) {
  if (role == role_) return;
  spdlog::info("ft: {} role {} -> {} (epoch {})", options_.name, RoleName(role_), RoleName(role),
               epoch_);
  role_ = role;
  host_->RoleChanged(role_, epoch_);
}

void Failover::StartLockAttempt() {
  if (!standby_.BeginAttempt()) return;  // at most one attempt in flight
  int64_t retry = options_.retry_ms > 0 ? options_.retry_ms : options_.heartbeat_ms;
  const int64_t now = clock_->NowMs();
  if (now < lock_freed_until_ms_) retry = std::min(retry, kFreedRetryMs);
  next_lock_ms_ = now + retry;
  host_->TryLock();
}

void Failover::TryLockSoon() {
  if (role_ != Role::kStandby) return;
  // In flight: the machine notes that a Busy answer must be retried at once.
  if (standby_.LoseActive() && !standby_.lock_in_flight()) StartLockAttempt();
}

void Failover::OnLockResult(Result<std::unique_ptr<store::Store>> result) {
  if (!standby_.lock_in_flight()) return;
  const bool retry_due = standby_.retry_due();
  if (role_ == Role::kStopping) {  // FinishStop leaves the standby state
    if (result.ok()) {
      Status s = result.value()->Close();
      if (!s.ok()) spdlog::warn("ft: closing the store on stop: {}", s.ToString());
    }
    FinishStop(0);
    return;
  }
  if (role_ != Role::kStandby || result.ok()) standby_.Leave();
  if (role_ != Role::kStandby) return;
  if (result.ok()) {
    std::unique_ptr<store::Store> store = std::move(result).value();
    epoch_ = store->epoch();
    store_id_ = store->identity().store_id;
    busy_count_ = 0;
    store_failures_ = 0;
    store_error_ = Status::OK();
    holds_lock_ = true;
    spdlog::info("ft: {} holds the store lock, epoch {}", options_.name, epoch_);
    SetRole(Role::kActivating);
    host_->Activate(std::move(store));
    return;
  }
  const Status& s = result.status();
  if (s.IsNotFound() || s.IsInvalidArgument()) {
    // The store is missing and may not be created, or it is not the group's: no amount of
    // waiting makes it servable, and standing by would hide that nobody can take over.
    spdlog::error("ft: {} cannot serve this store: {}", options_.name, s.ToString());
    FinishStop(1);
    return;
  }
  standby_.Answered();  // no lock: back to following or seeking
  if (!s.IsBusy()) {
    HandleStoreFailure(s);
    return;
  }
  store_failures_ = 0;
  store_error_ = Status::OK();
  if (busy_count_++ == 0) {
    spdlog::info("ft: {} standing by: the store is locked by another instance", options_.name);
  } else {
    spdlog::debug("ft: store still locked ({} attempts)", busy_count_);
  }
  if (retry_due) StartLockAttempt();
}

void Failover::HandleStoreFailure(const Status& s) {
  store_error_ = s;
  ++store_failures_;
  if (!StoreFailureRetryable(s, store_failures_)) {
    spdlog::error("ft: {}: the store cannot be used: {}; {}; exiting with status 1", options_.name,
                  s.ToString(), StoreRemedy(s));
    FinishStop(1);
    return;
  }
  const int64_t delay = StoreRetryDelayMs(store_failures_);
  spdlog::debug("ft: {}: the store cannot be used yet ({}); attempt {} of {} in {} ms",
                options_.name, s.ToString(), store_failures_ + 1, kStoreRetries + 1, delay);
  next_lock_ms_ = clock_->NowMs() + delay;  // the standby tick starts it, after the backoff
}

void Failover::OnActivated(const Status& status) {
  if (role_ != Role::kActivating) return;
  if (!status.ok()) {
    // Nothing was served yet (the port could not be bound, say): a plain failed start. The
    // host closes the store on its way out, which frees the lock for another member.
    spdlog::error("ft: {} cannot become active: {}", options_.name, status.message());
    holds_lock_ = false;
    FinishStop(1);
    return;
  }
  int64_t now = clock_->NowMs();
  SetRole(Role::kActive);
  peers_.clear();  // what a standby knew (the old active, say) says nothing about our standbys
  degraded_ = false;
  degraded_check_ms_ = now + window_ms();
  SendHeartbeat(Role::kActive);
  next_hb_ms_ = now + options_.heartbeat_ms;
  if (stop_requested_) RequestStop();
}

void Failover::SetStoreId(const std::string& store_id) {
  if (!holds_lock_ && !store_id.empty()) store_id_ = store_id;
}

bool Failover::SameStore(const Heartbeat& hb, int64_t now) {
  if (hb.store_id.empty() || store_id_.empty() || hb.store_id == store_id_) {
    if (store_id_.empty() && !holds_lock_) store_id_ = hb.store_id;
    return true;
  }
  if (now >= next_foreign_log_ms_) {
    next_foreign_log_ms_ = now + 1000;
    spdlog::warn("ft: ignoring {}: it serves store {}, this group's store is {}", hb.name,
                 hb.store_id, store_id_);
  }
  return false;
}

void Failover::OnHeartbeat(const Heartbeat& hb) {
  if (hb.instance == options_.instance) return;
  if (role_ == Role::kFenced || role_ == Role::kStopped) return;
  int64_t now = clock_->NowMs();
  if (!SameStore(hb, now)) return;
  heard_group_ = true;
  NotePeer(hb, now);
  bool claims_lock =
      hb.role == Role::kActivating || hb.role == Role::kActive || hb.role == Role::kStopping;
  if (holds_lock_) {
    if (!claims_lock) return;
    if (PeerWins(hb)) {
      // Only a claim: the store decides (OnOwnershipVerified).
      if (!verifying_ && role_ == Role::kActive) {
        verifying_ = true;
        spdlog::warn("ft: {} claims to be active at epoch {} (ours {}); checking the store",
                     hb.name, hb.epoch, epoch_);
        host_->VerifyOwnership();
      }
    } else if (hb.role != Role::kStopping) {
      spdlog::warn("ft: {} (epoch {}) claims to be active; ours is {}: it will stop", hb.name,
                   hb.epoch, epoch_);
    }
    return;
  }
  // Standby, or kStopping with a lock attempt in flight (nothing to do there).
  if (role_ != Role::kStandby) return;
  epoch_ = std::max(epoch_, hb.epoch);
  if (hb.role == Role::kActive || hb.role == Role::kActivating) {
    if (standby_.active_lost() || active_name_ != hb.name) {
      spdlog::info("ft: {} standing by for active {} (epoch {})", options_.name, hb.name, hb.epoch);
    }
    standby_.HearActive();
    active_name_ = hb.name;
    active_deadline_ms_ = now + window_ms();
  } else if (hb.role == Role::kStopping) {
    spdlog::info("ft: active {} is stopping; taking over", hb.name);
    TryLockSoon();
  }
}

void Failover::OnOwnershipVerified(const Status& status) {
  if (!verifying_) return;
  verifying_ = false;
  if (role_ == Role::kFenced || role_ == Role::kStopped || !holds_lock_) return;
  if (!status.ok()) {
    FenceNow(status);
    return;
  }
  int64_t now = clock_->NowMs();
  if (now >= next_claim_log_ms_) {
    next_claim_log_ms_ = now + 1000;
    spdlog::warn(
        "ft: {} still owns the store at epoch {}: ignoring a claim the store "
        "contradicts",
        options_.name, epoch_);
  }
}

void Failover::OnActiveLost() {
  if (role_ != Role::kStandby) return;
  spdlog::info("ft: {} lost its connection to the active; trying the lock", options_.name);
  TryLockSoon();
}

void Failover::OnActiveLockFreed() {
  if (role_ != Role::kStandby) return;
  spdlog::info("ft: {}: the active's lock was released (it stopped or died); trying the lock",
               options_.name);
  lock_freed_until_ms_ = clock_->NowMs() + window_ms();
  TryLockSoon();
}

void Failover::OnTick() {
  int64_t now = clock_->NowMs();
  switch (role_) {
    case Role::kStandby:
      HandleStandbyTick(now);
      break;
    case Role::kActive:
      if (CheckStore()) HandleActiveTick(now);
      break;
    case Role::kStopping:
      CheckStore();
      break;
    default:
      break;
  }
}

// Store errors reach the role machine by this one path: the store's sticky error, asked on
// every tick (a few milliseconds) while the lock is held for serving. It covers every error,
// because the store makes each one sticky before anyone hears of it: a failed commit or sync,
// a fenced epoch, and the file check that finds store.db deleted or moved while no commit is in
// flight, which no commit's completion would ever report. A push from the streaming layer's
// failed commit would come at most one tick sooner and cover commits only; nothing is
// acknowledged in between, since the streaming layer stops acknowledging at that commit.
bool Failover::CheckStore() {
  if (!holds_lock_) return true;  // a standby stopping has no store
  Status health = host_->StoreHealth();
  if (health.ok()) return true;
  OnStoreError(health);
  return role_ != Role::kFenced;
}

void Failover::HandleStandbyTick(int64_t now) {
  const StandbyState state = standby_.state();
  if (state == StandbyState::kIdle) return;
  if (!standby_.active_lost() && now >= active_deadline_ms_) {
    spdlog::warn("ft: no heartbeat from active {} for {} ms; trying the lock", active_name_,
                 window_ms());
    if (standby_.LoseActive() && !standby_.lock_in_flight()) StartLockAttempt();
  } else if ((state == StandbyState::kSeeking ||
              (state == StandbyState::kFollowing && store_failures_ > 0)) &&
             now >= next_lock_ms_) {
    StartLockAttempt();  // every retry interval while seeking; after a store failure's backoff
  }
  if (now >= next_hb_ms_) {
    SendHeartbeat(Role::kStandby);
    next_hb_ms_ = now + options_.heartbeat_ms;
  }
}

void Failover::HandleActiveTick(int64_t now) {
  if (now >= next_hb_ms_) {
    SendHeartbeat(Role::kActive);
    next_hb_ms_ = now + options_.heartbeat_ms;
  }
  size_t alive = 0;
  for (auto& [name, p] : peers_) {
    if (p.role != Role::kStandby) continue;
    if (p.alive && now - p.last_ms > window_ms()) {
      p.alive = false;
      spdlog::warn("ft: standby {} lost (no heartbeat for {} ms)", name, now - p.last_ms);
    }
    if (p.alive) ++alive;
  }
  if (options_.in_group && alive == 0 && !degraded_ && now >= degraded_check_ms_) {
    degraded_ = true;
    spdlog::warn("ft: degraded: no standby");
  }
}

void Failover::NotePeer(const Heartbeat& hb, int64_t now) {
  Peer& p = peers_[hb.name];
  bool was_alive = p.alive && now - p.last_ms <= window_ms();
  bool first = !p.announced || p.role != Role::kStandby;
  p.instance = hb.instance;
  p.role = hb.role;
  p.epoch = hb.epoch;
  p.last_ms = now;
  p.alive = true;
  p.announced = true;
  if (hb.role != Role::kStandby || role_ != Role::kActive) return;
  if (first) {
    spdlog::info("ft: standby {} joined", hb.name);
  } else if (!was_alive) {
    spdlog::info("ft: standby {} restored", hb.name);
  }
  degraded_ = false;
}

bool Failover::PeerWins(const Heartbeat& hb) const {
  if (hb.epoch != epoch_) return hb.epoch > epoch_;
  if (hb.name != options_.name) return hb.name < options_.name;
  return hb.instance < options_.instance;
}

void Failover::SendHeartbeat(Role as) {
  Heartbeat hb;
  hb.name = options_.name;
  hb.instance = options_.instance;
  hb.role = as;
  hb.epoch = epoch_;
  hb.seq = ++hb_seq_;
  hb.store_id = store_id_;
  host_->SendHeartbeat(hb);
}

void Failover::RequestStop() {
  switch (role_) {
    case Role::kStandby:
      if (standby_.lock_in_flight()) {
        SetRole(Role::kStopping);  // the attempt's result finishes the stop
      } else {
        FinishStop(0);
      }
      break;
    case Role::kActivating:
      stop_requested_ = true;  // finish activating first, then stop gracefully
      break;
    case Role::kActive:
      SetRole(Role::kStopping);
      host_->StopServing();
      break;
    default:
      break;
  }
}

void Failover::OnServingStopped(const Status& status) {
  if (role_ != Role::kStopping) return;
  if (!status.ok()) spdlog::error("ft: graceful stop: {}", status.ToString());
  // The store is closed and the lock free: tell the standbys so one takes over at once.
  holds_lock_ = false;
  SendHeartbeat(Role::kStopping);
  FinishStop(status.ok() ? 0 : 1);
}

void Failover::OnStoreError(const Status& status) {
  if (!holds_lock_ || role_ == Role::kFenced || role_ == Role::kStopped) return;
  if (status.ok()) return;
  if (role_ == Role::kStopping && status.IsShutdownInProgress()) {
    // A write that came after the store was closed by our own graceful stop (a delivery
    // position, say): nothing was half-written, and it costs at most a redelivery.
    spdlog::debug("ft: write after the store was closed: {}", status.ToString());
    return;
  }
  FenceNow(status);
}

void Failover::FenceNow(const Status& why) {
  spdlog::critical("ft: {} fenced: {}; stopping without another write", options_.name,
                   why.ToString());
  SetRole(Role::kFenced);
  host_->Fence(why);
}

void Failover::FinishStop(int code) {
  standby_.Leave();
  SetRole(Role::kStopped);
  host_->Exit(code);
}

std::vector<PeerStatus> Failover::peers() const {
  int64_t now = clock_->NowMs();
  std::vector<PeerStatus> out;
  for (const auto& [name, p] : peers_) {
    PeerStatus s;
    s.name = name;
    s.instance = p.instance;
    s.role = p.role;
    s.epoch = p.epoch;
    s.age_ms = now - p.last_ms;
    s.alive = p.alive && s.age_ms <= window_ms();
    out.push_back(std::move(s));
  }
  return out;  // std::map keeps them sorted by name
}

size_t Failover::live_standbys() const {
  size_t n = 0;
  for (const PeerStatus& p : peers()) {
    if (p.role == Role::kStandby && p.alive) ++n;
  }
  return n;
}

}  // namespace tandem::ft
