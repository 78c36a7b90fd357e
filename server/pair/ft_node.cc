// ft_node.cc: the server side of fault tolerance (see ft_node.h).
#include "server/pair/ft_node.h"

#include <unistd.h>

#include <cstdlib>
#include <random>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "ft/clock.h"
#include "ft/heartbeat.h"
#include "server/bus/bus.h"
#include "server/pair/ft_peer_link.h"
#include "server/pair/systemd_notify.h"
#include "server/util/disk_space.h"
#include "server/util/value_syntax.h"
#include "store/identity.h"

namespace tandem::server {
namespace {

uint64_t RandomInstance() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

std::string DefaultName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "tandem");
  return fmt::format("{}:{}", host, getpid());
}

// "127.0.0.1:4222", "localhost:4222" and "0.0.0.0:4222" all name this host's port 4222.
bool SameAddress(const std::string& a, const std::string& b) {
  if (a == b) return true;
  auto [ha, pa] = SplitAtLastColon(a);
  auto [hb, pb] = SplitAtLastColon(b);
  auto local = [](std::string_view h) {
    return h == "127.0.0.1" || h == "localhost" || h == "0.0.0.0" || h.empty() || h == "[::1]" ||
           h == "::1";
  };
  return pa == pb && local(ha) && local(hb);
}

ft::FailoverOptions MakeFailoverOptions(const ft::FtOptions& o) {
  ft::FailoverOptions f;
  f.name = o.name.empty() ? DefaultName() : o.name;
  f.instance = RandomInstance();
  f.heartbeat_ms = static_cast<int64_t>(o.heartbeat_ms);
  f.missed = o.missed;
  f.retry_ms = static_cast<int64_t>(o.heartbeat_ms);
  f.in_group = !o.group.empty();
  return f;
}

}  // namespace

FtNode::FtNode(uv_loop_t* loop, Options options, Delegate* delegate, SystemdNotifier* systemd)
    : loop_(loop),
      options_(std::move(options)),
      delegate_(delegate),
      systemd_(systemd),
      subject_(ft::HeartbeatSubject(options_.cluster_id,
                                    options_.ft.group.empty() ? "_" : options_.ft.group)),
      failover_(std::make_unique<ft::Failover>(MakeFailoverOptions(options_.ft),
                                               ft::SystemClock::Default(), this)),
      locker_(loop) {
  uv_timer_init(loop_, &tick_);
  tick_.data = this;
}

FtNode::~FtNode() = default;

Status FtNode::Start() {
  start_ms_ = ft::SystemClock::Default()->NowMs();
  if (Status s = LoadIdentity(); !s.ok()) return s;
  if (in_group()) {
    spdlog::info("ft: {} in group {}, peers {}, heartbeat {}ms, missed {}", failover_->name(),
                 options_.ft.group, fmt::join(options_.ft.peers, ","), options_.ft.heartbeat_ms,
                 options_.ft.missed);
    if (options_.bus) {
      active_lock_ = std::make_unique<ft::ActiveLock>(loop_, options_.store.path + ".active");
      SubscribeHeartbeats(options_.bus);
    } else {
      OpenStandbyLink();
    }
  }
  uint64_t tick = static_cast<uint64_t>(failover_->tick_ms());
  uv_timer_start(&tick_, TickCb, tick, tick);
  failover_->Start();
  return Status::OK();
}

Status FtNode::LoadIdentity() {
  Result<std::optional<store::StoreIdentity>> id = store::ReadIdentityFile(options_.store.path);
  if (!id.ok()) return id.status();
  if (!*id) return Status::OK();
  std::string mismatch = store::IdentityMismatch(**id, options_.cluster_id, options_.ft.group);
  if (!mismatch.empty()) {
    return Status::InvalidArgument(store::IdentityPath(options_.store.path), mismatch);
  }
  failover_->SetStoreId((*id)->store_id);
  SetGroupKey((*id)->group_key);
  return Status::OK();
}

void FtNode::SetGroupKey(const std::string& key) {
  if (key.empty() || key == group_key_) return;
  group_key_ = key;
  member_token_ = ft::MemberToken(key, options_.cluster_id, options_.ft.group);
  // A standby that connected without the key was refused the heartbeat subject: again, with it.
  if (link_ && !failover_->serving()) {
    CloseLink(link_, nullptr);
    OpenStandbyLink();
  }
}

void FtNode::TickCb(uv_timer_t* handle) noexcept {
  auto* self = static_cast<FtNode*>(handle->data);
  if (self->attempt_ == AttemptStep::kWaitingForGroup) {
    if (!self->ListeningForGroup()) {
      self->attempt_ = AttemptStep::kNone;
      self->TryLock();  // the wait is over: the attempt no longer waits for the group
    }
  }
  self->failover_->OnTick();  // asks StoreHealth too while serving
}

// ---- lock and activation -----------------------------------------------------------------------

void FtNode::SetDiskSpace(DiskSpace* disk) {
  disk_ = disk;
  disk_->SetOnRoom([this] { OnDiskRoom(); });
}

void FtNode::RequestStop() {
  failover_->RequestStop();
  if (attempt_ == AttemptStep::kWaitingForRoom || attempt_ == AttemptStep::kWaitingForGroup) {
    // The attempt that waited (for room, or to hear the group) ends here, unstarted: the stop
    // completes.
    attempt_ = AttemptStep::kNone;
    failover_->OnLockResult(Status::ShutdownInProgress("stopping before the attempt started"));
  }
}

void FtNode::TryLock() {
  // Taking the store writes to it (the epoch), and serving writes more: on a disk without room
  // the attempt waits instead of winning a store that fails at its first commit.
  if (disk_ != nullptr && !disk_->has_room()) {
    if (attempt_ != AttemptStep::kWaitingForRoom) {
      spdlog::warn("ft: {}: {}; waiting for room before taking the store", failover_->name(),
                   disk_->problem());
    }
    attempt_ = AttemptStep::kWaitingForRoom;
    return;
  }
  attempt_ = AttemptStep::kOpening;
  locker_.TryLock(NextAttempt(), [this](ft::StoreLocker::Answer a) { OnLockAnswer(std::move(a)); });
}

bool FtNode::ListeningForGroup() const {
  // A first start listens for two heartbeat windows before it may create a store.
  return !failover_->heard_group() &&
         ft::SystemClock::Default()->NowMs() - start_ms_ < 2 * failover_->window_ms();
}

ft::LockAttempt FtNode::NextAttempt() const {
  ft::LockAttempt a;
  store::StoreOptions& o = a.options;
  o = options_.store;
  o.cluster_id = options_.cluster_id;
  o.group = options_.ft.group;
  o.expect_store_id = failover_->store_id();  // also forbids creating (ft/creation_rule.h)
  o.min_epoch = failover_->epoch();           // a standby's epoch is the highest it heard
  a.wait_for_group = in_group() && ListeningForGroup();
  return a;
}

void FtNode::OnLockAnswer(ft::StoreLocker::Answer answer) {
  if (answer) {
    attempt_ = AttemptStep::kNone;
    OnLockResult(std::move(*answer));
    return;
  }
  // Nothing at the path and the group not heard yet: TickCb starts the attempt again once the
  // wait is over; a stop that came meanwhile ends it here, unstarted.
  if (failover_->role() == ft::Role::kStopping) {
    attempt_ = AttemptStep::kNone;
    failover_->OnLockResult(Status::ShutdownInProgress("stopping before the attempt started"));
    return;
  }
  attempt_ = AttemptStep::kWaitingForGroup;
}

void FtNode::OnLockResult(Result<std::unique_ptr<store::Store>> result) {
  if (!result.ok() && disk_ != nullptr && result.status().IsDiskFull()) {
    // The disk filled before the periodic check saw it: not a store that cannot be used, but
    // one to wait for. Check the room now; the next attempt waits for it (TryLock).
    if (!disk_full_logged_) {
      disk_full_logged_ = true;
      spdlog::warn("ft: {}: the store's disk is full; waiting for room before taking the store",
                   failover_->name());
    }
    disk_->CheckNow();
    result = Status::Busy(options_.store.path, "waiting for room on a full disk");
  } else {
    disk_full_logged_ = false;
  }
  bool busy = !result.ok() && result.status().IsBusy();
  if (busy && group_key_.empty()) LoadIdentity().IgnoreError();  // the active may have made it
  failover_->OnLockResult(std::move(result));
  if (busy && failover_->role() == ft::Role::kStandby && !settled_) {
    settled_ = true;
    UpdateSystemd();
  }
}

void FtNode::Activate(std::unique_ptr<store::Store> store) {
  if (link_) CloseLink(link_, nullptr);  // a standby's link is of no use to an active
  HoldActiveLock();
  group_key_.clear();  // our own store's key is the group's
  SetGroupKey(store->identity().group_key);
  delegate_->Serve(std::move(store), [this](Status s) {
    if (s.ok()) {
      if (!hb_client_) SubscribeHeartbeats(delegate_->HeartbeatClient());
      OpenActiveLink();
    }
    failover_->OnActivated(s);
  });
}

void FtNode::OnDiskRoom() {
  if (attempt_ != AttemptStep::kWaitingForRoom || closed_) return;
  attempt_ = AttemptStep::kNone;
  TryLock();
}

// ---- heartbeats --------------------------------------------------------------------------------

void FtNode::SendHeartbeat(const ft::Heartbeat& hb) {
  if (!in_group()) return;
  if (hb.role == ft::Role::kActive) HoldActiveLock();  // again if a standby held it a moment
  std::string payload = ft::EncodeHeartbeat(hb, group_key_);
  if (hb_client_) {
    hb_client_->Publish(subject_, "", payload);
  } else if (link_) {
    link_->Publish(payload);
  }
}

void FtNode::SubscribeHeartbeats(Bus* bus) {
  hb_client_ = bus;
  if (hb_client_ && in_group()) {
    hb_sid_ = hb_client_->Subscribe(subject_, "",
                                    [this](const InboundMsg& m) { OnHeartbeatPayload(m.payload); });
  }
}

void FtNode::OnHeartbeatPayload(std::string_view payload) {
  Result<ft::Heartbeat> hb = ft::DecodeHeartbeat(payload, group_key_);
  if (!hb.ok()) {
    int64_t now = ft::SystemClock::Default()->NowMs();
    if (!group_key_.empty() && now >= next_bad_hb_log_ms_) {
      next_bad_hb_log_ms_ = now + 10000;
      spdlog::warn("ft: dropped a message on {}: {}", subject_, hb.status().ToString());
    } else {
      spdlog::debug("ft: dropped a message on {}: {}", subject_, hb.status().ToString());
    }
    return;
  }
  failover_->OnHeartbeat(*hb);
  // A standby that hears an active waits on its lock (the active took it before heartbeating).
  if (active_lock_ && hb->role == ft::Role::kActive && failover_->role() == ft::Role::kStandby &&
      !active_lock_->armed()) {
    active_lock_->Arm([this] {
      if (!closed_) failover_->OnActiveLockFreed();
    });
  }
}

void FtNode::HoldActiveLock() {
  if (!active_lock_ || active_lock_->held()) return;
  Status s = active_lock_->Hold();
  if (!s.ok() && !s.IsBusy()) {
    spdlog::warn(
        "ft: {}: cannot hold {}: {}; standbys learn of this active's end by its "
        "heartbeats only",
        failover_->name(), active_lock_->path(), s.ToString());
  }
}

void FtNode::OpenStandbyLink() {
  if (options_.ft.peers.empty()) return;
  PeerLink::Options o;
  o.servers = options_.ft.peers;
  o.subject = subject_;
  o.name = "tandem-ft-" + failover_->name();
  o.member_token = member_token_;
  o.credentials = options_.ft.credentials;
  o.tls = options_.tls;
  o.reconnect_wait_ms = std::max<int64_t>(10, static_cast<int64_t>(options_.ft.heartbeat_ms) / 2);
  o.connect_timeout_ms =
      std::max<int64_t>(200, static_cast<int64_t>(options_.ft.heartbeat_ms * options_.ft.missed));
  PeerLink::Handlers h;
  h.on_heartbeat = [this](std::string payload) { OnHeartbeatPayload(payload); };
  h.on_connected = [this](const std::string& url) {
    spdlog::info("ft: {} connected to {}", failover_->name(), url);
  };
  h.on_disconnected = [this] { failover_->OnActiveLost(); };
  link_ = std::make_unique<PeerLink>(loop_, std::move(o), std::move(h));
  link_->Start();
}

void FtNode::OpenActiveLink() {
  if (!in_group() || options_.bus) return;  // through a cluster, a second active is heard on it
  std::vector<std::string> others;
  for (const auto& p : options_.ft.peers) {
    if (!SameAddress(p, options_.listen)) others.push_back(p);
  }
  if (others.empty()) return;
  PeerLink::Options o;
  o.servers = others;
  o.subject = subject_;
  o.name = "tandem-ft-watch-" + failover_->name();
  o.member_token = member_token_;
  o.credentials = options_.ft.credentials;
  o.tls = options_.tls;
  o.reconnect_wait_ms = static_cast<int64_t>(options_.ft.heartbeat_ms);
  o.connect_timeout_ms = 500;
  PeerLink::Handlers h;
  h.on_heartbeat = [this](std::string payload) { OnHeartbeatPayload(payload); };
  link_ = std::make_unique<PeerLink>(loop_, std::move(o), std::move(h));
  link_->Start();
}

void FtNode::CloseLink(std::unique_ptr<PeerLink>& link, std::function<void()> done) {
  PeerLink* raw = link.get();
  closing_links_.push_back(std::move(link));
  ++pending_closes_;
  raw->Close([this, raw, done = std::move(done)] {
    for (auto it = closing_links_.begin(); it != closing_links_.end(); ++it) {
      if (it->get() == raw) {
        closing_links_.erase(it);
        break;
      }
    }
    --pending_closes_;
    if (done) done();
    if (closed_ && pending_closes_ == 0 && close_done_) {
      auto cb = std::move(close_done_);
      cb();
    }
  });
}

// ---- stopping ----------------------------------------------------------------------------------

void FtNode::StopServing() {
  delegate_->StopServing([this](Status s) { failover_->OnServingStopped(s); });
}

void FtNode::Fence(const Status& why) {
  spdlog::critical("ft: {} exits now without another write ({})", failover_->name(),
                   why.ToString());
  spdlog::default_logger()->flush();
  std::_Exit(kExitFenced);
}

void FtNode::Exit(int code) { delegate_->Exit(code); }

void FtNode::VerifyOwnership() {
  delegate_->VerifyStoreOwnership([this](Status s) { failover_->OnOwnershipVerified(s); });
}

void FtNode::Close(std::function<void()> done) {
  if (closed_) return;
  closed_ = true;
  close_done_ = std::move(done);
  if (hb_client_ && hb_sid_) hb_client_->Unsubscribe(hb_sid_);
  hb_client_ = nullptr;
  ++pending_closes_;
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), [](uv_handle_t* h) noexcept {
    auto* self = static_cast<FtNode*>(h->data);
    if (--self->pending_closes_ == 0 && self->close_done_) {
      auto cb = std::move(self->close_done_);
      cb();
    }
  });
  if (link_) CloseLink(link_, nullptr);
  if (active_lock_) {
    ++pending_closes_;
    active_lock_->Close([this] {
      if (--pending_closes_ == 0 && close_done_) {
        auto cb = std::move(close_done_);
        cb();
      }
    });
  }
}

// ---- status ------------------------------------------------------------------------------------

void FtNode::RoleChanged(ft::Role role, uint64_t epoch) {
  if (role == ft::Role::kActive) settled_ = true;
  UpdateSystemd();
}

void FtNode::UpdateSystemd() {
  if (!systemd_) return;
  ft::Role role = failover_->role();
  std::string status = fmt::format("{}, epoch {}", ft::RoleName(role), failover_->epoch());
  if (in_group()) status += fmt::format(", group {}", options_.ft.group);
  if (role == ft::Role::kStopping || role == ft::Role::kStopped) {
    systemd_->Status(status);
    return;
  }
  if (settled_) {
    systemd_->Ready(status);
  } else {
    systemd_->Status(status);
  }
}

}  // namespace tandem::server
