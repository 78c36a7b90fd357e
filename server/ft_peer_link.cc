// ft_peer_link.cc: the libnats connection that carries heartbeats between group members
// (see ft_peer_link.h for the threading and lifetime rules).
#include "server/ft_peer_link.h"

#include <atomic>
#include <mutex>
#include <utility>

#include <nats/nats.h>
#include <spdlog/spdlog.h>

namespace tandem::server {
namespace {
enum class EventType { kConnected, kDisconnected, kHeartbeat };
struct Event {
  EventType type;
  std::string data;
};
}  // namespace

// Shared between the loop and libnats' threads. Reference counted by hand: the loop side holds
// one reference; the connection's closed callback and the subscription's on-complete callback
// each hold one from the moment they can fire.
struct PeerLink::Shared {
  std::mutex mu;
  uv_async_t* async = nullptr;   // guarded by mu; null once the loop side stopped listening
  std::vector<Event> events;     // guarded by mu
  std::atomic<int> refs{1};
  // Written by the connect job, read on the loop after it (and by the close job after that).
  natsConnection* nc = nullptr;
  natsSubscription* sub = nullptr;

  void Push(EventType type, std::string data = {}) {
    std::lock_guard<std::mutex> lock(mu);
    if (async == nullptr) return;
    events.push_back(Event{type, std::move(data)});
    uv_async_send(async);
  }
  void Release() {
    if (refs.fetch_sub(1) == 1) delete this;
  }
};

namespace {

std::string ConnectedUrl(natsConnection* nc) {
  char buf[256] = {0};
  if (natsConnection_GetConnectedUrl(nc, buf, sizeof(buf)) != NATS_OK) return {};
  return buf;
}

// libnats callbacks: they run on libnats threads and only hand events over.
struct Callbacks {
  static void Connected(natsConnection* nc, void* closure) {
    static_cast<PeerLink::Shared*>(closure)->Push(EventType::kConnected, ConnectedUrl(nc));
  }
  static void Disconnected(natsConnection*, void* closure) {
    static_cast<PeerLink::Shared*>(closure)->Push(EventType::kDisconnected);
  }
  static void Closed(natsConnection*, void* closure) {
    static_cast<PeerLink::Shared*>(closure)->Release();
  }
  static void Msg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    std::string payload(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    natsMsg_Destroy(msg);
    static_cast<PeerLink::Shared*>(closure)->Push(EventType::kHeartbeat,
                                                  std::move(payload));
  }
  static void SubDone(void* closure) { static_cast<PeerLink::Shared*>(closure)->Release(); }
};

// A pool job that owns itself; `run` runs on the pool, `after` on the loop.
struct Job {
  uv_work_t req;
  std::function<void()> run;
  std::function<void()> after;
};

void QueueJob(uv_loop_t* loop, std::function<void()> run, std::function<void()> after) {
  auto* job = new Job{{}, std::move(run), std::move(after)};
  job->req.data = job;
  int rc = uv_queue_work(
      loop, &job->req, [](uv_work_t* r) noexcept { static_cast<Job*>(r->data)->run(); },
      [](uv_work_t* r, int) noexcept {
        std::unique_ptr<Job> j(static_cast<Job*>(r->data));
        j->after();
      });
  if (rc != 0) {  // cannot happen with a live loop; run inline rather than lose the step
    spdlog::error("ft: uv_queue_work: {}", uv_strerror(rc));
    std::unique_ptr<Job> j(job);
    j->run();
    j->after();
  }
}

}  // namespace

PeerLink::PeerLink(uv_loop_t* loop, Options options, Handlers handlers)
    : loop_(loop), options_(std::move(options)), handlers_(std::move(handlers)),
      shared_(new Shared) {
  uv_async_init(loop_, &async_, AsyncCb);
  async_.data = this;
  shared_->async = &async_;
}

PeerLink::~PeerLink() {
  // REQUIRES: Close() finished (the async handle is closed and the shared block released).
}

void PeerLink::Start() {
  if (started_ || closing_) return;
  started_ = true;
  Shared* shared = shared_;
  shared->refs.fetch_add(1);  // held by the connect job
  Options o = options_;
  QueueJob(
      loop_,
      [shared, o] {
        natsOptions* opts = nullptr;
        if (natsOptions_Create(&opts) != NATS_OK) return;
        std::vector<std::string> urls;
        for (const auto& s : o.servers) urls.push_back("nats://" + s);
        std::vector<const char*> curls;
        for (const auto& u : urls) curls.push_back(u.c_str());
        natsOptions_SetServers(opts, curls.data(), static_cast<int>(curls.size()));
        natsOptions_SetNoRandomize(opts, true);
        natsOptions_SetIgnoreDiscoveredServers(opts, true);
        natsOptions_SetName(opts, o.name.c_str());
        natsOptions_SetAllowReconnect(opts, true);
        natsOptions_SetMaxReconnect(opts, -1);
        natsOptions_SetReconnectWait(opts, o.reconnect_wait_ms);
        natsOptions_SetReconnectJitter(opts, 0, 0);
        natsOptions_SetTimeout(opts, o.connect_timeout_ms);
        natsOptions_SetReconnectBufSize(opts, 64 * 1024);
        natsOptions_SetRetryOnFailedConnect(opts, true, Callbacks::Connected, shared);
        natsOptions_SetDisconnectedCB(opts, Callbacks::Disconnected, shared);
        natsOptions_SetReconnectedCB(opts, Callbacks::Connected, shared);
        natsOptions_SetClosedCB(opts, Callbacks::Closed, shared);
        shared->refs.fetch_add(1);  // for the closed callback
        natsConnection* nc = nullptr;
        natsStatus s = natsConnection_Connect(&nc, opts);
        natsOptions_Destroy(opts);
        if (nc == nullptr) {
          shared->Release();
          spdlog::error("ft: peer link cannot connect: {}", natsStatus_GetText(s));
          return;
        }
        if (s == NATS_OK) shared->Push(EventType::kConnected, ConnectedUrl(nc));
        natsSubscription* sub = nullptr;
        shared->refs.fetch_add(1);  // for the subscription's on-complete callback
        if (natsConnection_Subscribe(&sub, nc, o.subject.c_str(), Callbacks::Msg, shared) !=
                NATS_OK ||
            natsSubscription_SetOnCompleteCB(sub, Callbacks::SubDone, shared) != NATS_OK) {
          spdlog::error("ft: peer link cannot subscribe to {}", o.subject);
          if (sub) natsSubscription_Destroy(sub);
          sub = nullptr;
          shared->Release();
        }
        shared->nc = nc;
        shared->sub = sub;
      },
      [this] { AfterConnect(); });
}

void PeerLink::AfterConnect() {
  connect_done_ = true;
  nc_ = shared_->nc;
  shared_->Release();  // the connect job's reference
  if (closing_) StartCloseJob();
}

void PeerLink::Publish(const std::string& payload) {
  auto* nc = static_cast<natsConnection*>(nc_);
  if (nc == nullptr || !connected_ || closing_) return;
  natsConnection_Publish(nc, options_.subject.c_str(), payload.data(),
                         static_cast<int>(payload.size()));
}

void PeerLink::Close(std::function<void()> done) {
  if (closing_) return;
  closing_ = true;
  close_done_ = std::move(done);
  if (!started_) {
    FinishClose();
  } else if (connect_done_) {
    StartCloseJob();
  }  // else AfterConnect starts it
}

void PeerLink::StartCloseJob() {
  Shared* shared = shared_;
  QueueJob(
      loop_,
      [shared] {
        if (shared->sub) natsSubscription_Destroy(shared->sub);
        if (shared->nc) natsConnection_Destroy(shared->nc);
      },
      [this] { FinishClose(); });
}

void PeerLink::FinishClose() {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->async = nullptr;
    shared_->events.clear();
  }
  shared_->Release();
  shared_ = nullptr;
  nc_ = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), CloseCb);
}

void PeerLink::AsyncCb(uv_async_t* handle) noexcept {
  static_cast<PeerLink*>(handle->data)->Drain();
}

void PeerLink::Drain() {
  if (closing_ || shared_ == nullptr) return;
  std::vector<Event> events;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    events.swap(shared_->events);
  }
  for (Event& e : events) {
    if (closing_) return;
    switch (e.type) {
      case EventType::kConnected:
        connected_ = true;
        if (handlers_.on_connected) handlers_.on_connected(e.data);
        break;
      case EventType::kDisconnected:
        if (!connected_) break;
        connected_ = false;
        if (handlers_.on_disconnected) handlers_.on_disconnected();
        break;
      case EventType::kHeartbeat:
        if (handlers_.on_heartbeat) handlers_.on_heartbeat(std::move(e.data));
        break;
    }
  }
}

void PeerLink::CloseCb(uv_handle_t* handle) noexcept {
  auto* self = static_cast<PeerLink*>(handle->data);
  std::function<void()> done = std::move(self->close_done_);
  if (done) done();
}

}  // namespace tandem::server
