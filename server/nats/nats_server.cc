// nats_server.cc: NatsServer::Impl: the listener (a ClientListener), the set of ClientConns,
// the loop-wide read buffer, the flush of every queued connection (FlushAll, called once per
// loop pass by the process), the housekeeping timer (pings, write deadlines), the internal
// clients and shutdown. Routing rules live in router.cc,
// per-connection protocol in client_conn.cc, the sliced removal of a closed connection's
// subscriptions in sub_reaper.cc.
#include "server/nats/nats_server.h"

#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cassert>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "server/nats/client_conn.h"
#include "server/nats/client_listener.h"
#include "server/nats/internal_client.h"
#include "server/nats/router.h"
#include "server/nats/server_info.h"
#include "server/nats/sub_reaper.h"
#include "server/util/ip_literal.h"
#include "server/util/tls_context.h"

namespace tandem::server {

namespace {
constexpr size_t kReadBufferSize = 64 * 1024;
}  // namespace

class NatsServer::Impl final : public ConnHost {
 public:
  Impl(uv_loop_t* loop, const CoreOptions& options)
      : loop_(loop),
        options_(options),
        server_id_(MakeServerId()),
        loop_thread_(std::this_thread::get_id()),
        read_buf_(new char[kReadBufferSize]),
        reaper_(loop),
        listener_(loop, [this](int fd) { OnConnection(fd); }) {}

  ~Impl() override {
    // REQUIRES: Shutdown completed, or Listen never called (no handle is open).
    assert(open_handles_ == 0);
  }

  Status Listen();
  int port() const { return port_; }
  void StopAccepting();
  void FlushAll();
  bool flushing_allowed() const { return listening_ && !shutting_down_; }
  void Shutdown(std::function<void()> done);
  Bus* CreateInternalClient(std::string_view name);
  CoreStats stats() const;
  const std::string& server_id() const { return server_id_; }
  std::vector<ConnSnapshot> Connections() const;

  // ConnHost
  Router& router() override { return router_; }
  const CoreOptions& options() const override { return options_; }
  Authenticator& auth() override { return auth_; }
  uv_buf_t ReadBuffer() override { return uv_buf_init(read_buf_.get(), kReadBufferSize); }
  void QueueFlush(ClientConn* c) override { flush_list_.push_back(c); }
  void ConnClosed(ClientConn* c) override;
  void CountSlowConsumer() override { ++router_.stats().slow_consumers; }
  const TlsContext* tls() const override { return tls_.get(); }
  ClientConn* FindConn(uint64_t cid) override {
    auto it = conns_.find(cid);
    return it == conns_.end() || it->second->closing() ? nullptr : it->second.get();
  }

 private:
  static void TimerCb(uv_timer_t* t) noexcept;
  static void HandleClosedCb(uv_handle_t* h) noexcept;
  void OnConnection(int fd);
  void OnTimer();
  void HandleClosed();
  void CloseHandle(uv_handle_t* h);
  bool OnLoopThread() const { return std::this_thread::get_id() == loop_thread_; }

  // Constant after construction.
  uv_loop_t* const loop_;
  const CoreOptions options_;
  Authenticator auth_{options_.auth};
  const std::string server_id_;
  const std::thread::id loop_thread_;
  const std::unique_ptr<char[]> read_buf_;  // shared by every connection's reads

  Router router_;
  // Drains closed connections that still had many subscriptions. Its handle counts in
  // open_handles_ from Listen on, and is closed last at shutdown, once every connection closed.
  SubReaper reaper_;
  bool reaper_open_ = false;
  std::string info_prefix_;
  std::shared_ptr<TlsContext> tls_;  // null without `tls:`
  ClientListener listener_;
  uv_timer_t timer_{};
  int port_ = 0;
  bool listening_ = false;
  bool accepting_ = false;
  bool shutting_down_ = false;
  int open_handles_ = 0;  // listener, timer and connections not yet closed
  uint64_t next_cid_ = 1;
  uint64_t total_connections_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<ClientConn>> conns_;
  std::vector<ClientConn*> flush_list_;
  std::vector<ClientConn*> flushing_;  // swapped with flush_list_ during FlushAll
  std::vector<std::unique_ptr<InternalClientImpl>> internal_clients_;
  std::function<void()> shutdown_done_;
};

// --- listen, accept --------------------------------------------------------------------------

Status NatsServer::Impl::Listen() {
  assert(OnLoopThread());
  if (listening_) return Status::InvalidArgument("already listening");
  if (options_.tls.enabled) {
    if (!options_.tls_context) return Status::InvalidArgument("tls: no TLS context was built");
    tls_ = options_.tls_context;
  }
  sockaddr_storage addr{};
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  if (!IpLiteralAddress(options_.host, options_.port, &addr)) {
    return Status::InvalidArgument("bad listen address", where);
  }
  Status s = listener_.Listen(reinterpret_cast<sockaddr*>(&addr), 1024, options_.host);
  if (!s.ok()) return s;
  ++open_handles_;
  listening_ = true;
  port_ = listener_.port();
  info_prefix_ = BuildInfoPrefix(options_, server_id_, port_);
  accepting_ = true;

  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  ++open_handles_;
  uint64_t tick = options_.ping_interval_ms > 0 ? options_.ping_interval_ms : 1000;
  if (options_.write_deadline_ms > 0) tick = std::min(tick, options_.write_deadline_ms);
  // The authentication timeout is checked by the same timer, a quarter of it apart.
  if (options_.auth.required())
    tick = std::min(tick, std::max<uint64_t>(options_.auth.timeout_ms / 4, 10));
  if (tls_ && options_.tls.timeout_ms > 0) tick = std::min(tick, options_.tls.timeout_ms);
  tick = std::clamp<uint64_t>(tick / 2, 5, 1000);
  uv_timer_start(&timer_, TimerCb, tick, tick);
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));

  reaper_.Start();
  ++open_handles_;
  reaper_open_ = true;

  spdlog::info("NATS core listening on {}:{} (server id {}){}", options_.host, port_, server_id_,
               tls_ ? (options_.tls.verify || options_.tls.verify_and_map
                           ? ", TLS required, client certificates verified"
                           : ", TLS required")
                    : "");
  if (auth_.required()) {
    const AuthOptions& a = options_.auth;
    spdlog::info("clients must authenticate: {}, timeout {} ms",
                 !a.users.empty()   ? fmt::format("{} users", a.users.size())
                 : !a.token.empty() ? std::string("token")
                                    : std::string("user and password"),
                 a.timeout_ms);
  }
  return Status::OK();
}

void NatsServer::Impl::OnConnection(int fd) {
  const uint64_t cid = next_cid_++;
  auto owned = std::make_unique<ClientConn>(this, loop_, cid);
  ClientConn* c = owned.get();
  conns_.emplace(cid, std::move(owned));
  ++open_handles_;
  int r = uv_tcp_open(reinterpret_cast<uv_tcp_t*>(c->stream()), fd);
  if (r != 0) {
    spdlog::warn("cannot use an accepted connection: {}", uv_strerror(r));
    ::close(fd);
    c->Close(CloseReason::kReadError);
    return;
  }
  ++total_connections_;
  c->Start(info_prefix_);
  if (!accepting_) {
    c->Close(CloseReason::kServerShutdown);
  } else if (conns_.size() > static_cast<size_t>(options_.max_connections)) {
    c->Close(CloseReason::kMaxConnections, "maximum connections exceeded");
  }
}

void NatsServer::Impl::StopAccepting() {
  if (!accepting_) return;
  accepting_ = false;
  listener_.Close([this] { HandleClosed(); });
}

// --- flush, timer, close ---------------------------------------------------------------------

void NatsServer::Impl::FlushAll() {
  // Flushing can close connections and re-queue others, so work on a swapped copy.
  while (!flush_list_.empty()) {
    flushing_.swap(flush_list_);
    for (ClientConn* c : flushing_) c->Flush();
    flushing_.clear();
  }
}

void NatsServer::Impl::TimerCb(uv_timer_t* t) noexcept { static_cast<Impl*>(t->data)->OnTimer(); }

void NatsServer::Impl::OnTimer() {
  const uint64_t now = uv_now(loop_);
  for (auto& [cid, c] : conns_) c->OnTick(now);
}

void NatsServer::Impl::ConnClosed(ClientConn* c) {
  if (c->flush_queued()) {
    std::erase(flush_list_, c);
    std::erase(flushing_, c);
  }
  auto it = conns_.find(c->cid());
  std::unique_ptr<ClientConn> owned = std::move(it->second);
  conns_.erase(it);
  // Subscriptions left by Close are removed in slices; the connection dies after them.
  if (owned->subscription_count() > 0) reaper_.Add(std::move(owned));
  HandleClosed();
}

void NatsServer::Impl::HandleClosedCb(uv_handle_t* h) noexcept {
  static_cast<Impl*>(h->data)->HandleClosed();
}

void NatsServer::Impl::CloseHandle(uv_handle_t* h) {
  if (!uv_is_closing(h)) uv_close(h, HandleClosedCb);
}

void NatsServer::Impl::HandleClosed() {
  --open_handles_;
  if (!shutting_down_) return;
  if (open_handles_ == 1 && reaper_open_) {
    // Every connection is closed and handed over: the reaper closes once it drained them.
    reaper_open_ = false;
    reaper_.Close([this] { HandleClosed(); });
    return;
  }
  if (open_handles_ == 0 && shutdown_done_) {
    auto done = std::move(shutdown_done_);
    shutdown_done_ = nullptr;
    done();
  }
}

void NatsServer::Impl::Shutdown(std::function<void()> done) {
  assert(OnLoopThread());
  if (shutting_down_) return;
  shutting_down_ = true;
  spdlog::info("NATS core shutting down ({} connections)", conns_.size());
  StopAccepting();
  for (auto& ic : internal_clients_) ic->Detach();
  // Hand queued bytes to the sockets, then close every connection.
  FlushAll();
  std::vector<ClientConn*> all;
  for (auto& [cid, c] : conns_) all.push_back(c.get());
  for (ClientConn* c : all) c->Close(CloseReason::kServerShutdown);
  if (listening_) {
    uv_timer_stop(&timer_);
    CloseHandle(reinterpret_cast<uv_handle_t*>(&timer_));
  }
  if (open_handles_ == 0) {
    done();
  } else {
    shutdown_done_ = std::move(done);
  }
}

// --- internal clients, stats -----------------------------------------------------------------

Bus* NatsServer::Impl::CreateInternalClient(std::string_view name) {
  assert(OnLoopThread());
  auto user_of = [this](uint64_t cid) {
    ClientConn* c = FindConn(cid);
    return c == nullptr ? std::string_view() : std::string_view(c->user());
  };
  internal_clients_.push_back(
      std::make_unique<InternalClientImpl>(&router_, std::string(name), std::move(user_of)));
  return internal_clients_.back().get();
}

CoreStats NatsServer::Impl::stats() const {
  CoreStats s = router_.stats();
  s.connections = conns_.size();
  s.total_connections = total_connections_;
  s.subscriptions = router_.sublist().count();
  return s;
}

std::vector<ConnSnapshot> NatsServer::Impl::Connections() const {
  assert(OnLoopThread());
  std::vector<ConnSnapshot> out;
  out.reserve(conns_.size());
  const uint64_t now = uv_now(loop_);
  for (const auto& [cid, conn] : conns_) {
    if (!conn->closing()) out.push_back(conn->Snapshot(now));
  }
  return out;
}

// --- NatsServer ------------------------------------------------------------------------------

NatsServer::NatsServer(uv_loop_t* loop, const CoreOptions& options)
    : impl_(std::make_unique<Impl>(loop, options)) {}

NatsServer::~NatsServer() = default;

Status NatsServer::Listen() { return impl_->Listen(); }
int NatsServer::port() const { return impl_->port(); }
void NatsServer::StopAccepting() { impl_->StopAccepting(); }
void NatsServer::FlushAll() {
  if (impl_->flushing_allowed()) impl_->FlushAll();
}
void NatsServer::Shutdown(std::function<void()> done) { impl_->Shutdown(std::move(done)); }
Bus* NatsServer::CreateInternalClient(std::string_view name) {
  return impl_->CreateInternalClient(name);
}
CoreStats NatsServer::stats() const { return impl_->stats(); }
const CoreOptions& NatsServer::options() const { return impl_->options(); }
const std::string& NatsServer::server_id() const { return impl_->server_id(); }
std::vector<ConnSnapshot> NatsServer::Connections() const { return impl_->Connections(); }

}  // namespace tandem::server
