// external_bus.cc: the Bus of tandem as a client of an external NATS cluster, on libnats (see
// external_bus.h for the engine and the threading rules).
#include "server/natsclient/external_bus.h"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include "server/bus/subject.h"

namespace tandem::server {

namespace {

enum class EventKind { kMsg, kDisconnected, kReconnected, kDiscovered, kError };

struct Event {
  EventKind kind;
  natsMsg* msg = nullptr;  // kMsg: owned until handled or dropped
  uint64_t sid = 0;        // kMsg: libnats' sid of the subscription
  std::string text;        // kError: libnats' reason
};

struct Out {
  std::string subject, reply, payload;
};

std::string ConnectedUrl(natsConnection* nc) {
  char buf[512] = {0};
  if (natsConnection_GetConnectedUrl(nc, buf, sizeof(buf)) != NATS_OK) return "";
  return buf;
}

}  // namespace

struct ExternalBus::Sub {
  natsSubscription* sub = nullptr;
  Handler handler;
};

// Shared with libnats' threads (through the callbacks' closure) and the writer thread. Lives
// until the ExternalBus is destroyed, after libnats' threads have ended.
struct ExternalBus::Shared {
  natsConnection* nc = nullptr;

  std::mutex mu;                // guards async and events
  uv_async_t* async = nullptr;  // null once closing: callbacks then drop what they get
  std::vector<Event> events;

  std::mutex wmu;  // guards outq and stop
  std::condition_variable wcv;
  std::vector<Out> outq;
  bool stop = false;
  std::thread writer;

  mutable std::mutex state_mu;  // guards url, connected, servers
  std::string url;
  bool connected = false;
  std::vector<std::string> servers;
  std::atomic<uint64_t> reconnects{0}, disconnects{0}, dropped{0};

  void Push(Event e) {
    std::lock_guard<std::mutex> lock(mu);
    if (async == nullptr) {
      if (e.msg) natsMsg_Destroy(e.msg);
      return;
    }
    bool wake = events.empty();
    events.push_back(std::move(e));
    if (wake) uv_async_send(async);
  }

  void SetConnected(bool up) {
    std::string now = up ? ConnectedUrl(nc) : "";
    std::lock_guard<std::mutex> lock(state_mu);
    connected = up;
    url = std::move(now);
  }

  // The writer thread: hands every queued publish to libnats, in order, until stopped with
  // nothing left.
  void WriterLoop() {
    std::vector<Out> batch;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(wmu);
        wcv.wait(lock, [this] { return stop || !outq.empty(); });
        if (outq.empty()) return;  // stop, and nothing left
        batch.swap(outq);
      }
      for (Out& o : batch) {
        natsStatus s = o.reply.empty()
                           ? natsConnection_Publish(nc, o.subject.c_str(), o.payload.data(),
                                                    static_cast<int>(o.payload.size()))
                           : natsConnection_PublishRequest(nc, o.subject.c_str(), o.reply.c_str(),
                                                           o.payload.data(),
                                                           static_cast<int>(o.payload.size()));
        if (s != NATS_OK && dropped.fetch_add(1) == 0) {
          Push(Event{EventKind::kError, nullptr, 0,
                     fmt::format("a publish was dropped: {} (later drops are counted)",
                                 natsStatus_GetText(s))});
        }
      }
      batch.clear();
    }
  }
};

namespace {

void OnMsg(natsConnection*, natsSubscription* sub, natsMsg* msg, void* closure) {
  static_cast<ExternalBus::Shared*>(closure)->Push(
      Event{EventKind::kMsg, msg, static_cast<uint64_t>(natsSubscription_GetID(sub)), {}});
}

void OnDisconnected(natsConnection*, void* closure) {
  auto* sh = static_cast<ExternalBus::Shared*>(closure);
  sh->SetConnected(false);
  sh->disconnects.fetch_add(1);
  sh->Push(Event{EventKind::kDisconnected, nullptr, 0, {}});
}

void OnReconnected(natsConnection*, void* closure) {
  auto* sh = static_cast<ExternalBus::Shared*>(closure);
  sh->SetConnected(true);
  sh->reconnects.fetch_add(1);
  sh->Push(Event{EventKind::kReconnected, nullptr, 0, {}});
}

void OnDiscovered(natsConnection* nc, void* closure) {
  auto* sh = static_cast<ExternalBus::Shared*>(closure);
  char** list = nullptr;
  int count = 0;
  if (natsConnection_GetServers(nc, &list, &count) == NATS_OK) {
    std::vector<std::string> servers(list, list + count);
    for (int i = 0; i < count; ++i) free(list[i]);
    free(list);
    std::lock_guard<std::mutex> lock(sh->state_mu);
    sh->servers = std::move(servers);
  }
  sh->Push(Event{EventKind::kDiscovered, nullptr, 0, {}});
}

void OnAsyncError(natsConnection*, natsSubscription*, natsStatus err, void* closure) {
  static_cast<ExternalBus::Shared*>(closure)->Push(
      Event{EventKind::kError, nullptr, 0, natsStatus_GetText(err)});
}

}  // namespace

ExternalBus::ExternalBus(uv_loop_t* loop, ExternalNatsOptions options)
    : loop_(loop), options_(std::move(options)), shared_(std::make_shared<Shared>()) {
  shared_->servers = options_.servers;
}

ExternalBus::~ExternalBus() {
  if (shared_->writer.joinable()) {
    {
      std::lock_guard<std::mutex> lock(shared_->wmu);
      shared_->stop = true;
    }
    shared_->wcv.notify_one();
    shared_->writer.join();
  }
  for (auto& [sid, sub] : subs_) natsSubscription_Destroy(sub->sub);
  subs_.clear();
  if (shared_->nc) {
    natsConnection_Close(shared_->nc);
    natsConnection_Destroy(shared_->nc);
    shared_->nc = nullptr;
  }
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->async = nullptr;  // a late callback drops what it gets
    for (Event& e : shared_->events) {
      if (e.msg) natsMsg_Destroy(e.msg);
    }
    shared_->events.clear();
  }
  // A libnats thread may still call back into shared_ (delivery and reconnect threads are not
  // joined by natsConnection_Destroy), so it is kept until the process exits: one small object
  // per process. nats_CloseAndWait, which would join them, is not called: after it, OpenSSL's
  // own exit-time cleanup crashes (libnats 3.4.1 with OpenSSL 3, after a TLS connection).
  (void)new std::shared_ptr<Shared>(shared_);
}

Status ExternalBus::Connect() {
  const ExternalNatsOptions& o = options_;
  natsOptions* opts = nullptr;
  natsStatus s = nats_Open(-1);
  if (s == NATS_OK) s = nats_SetMessageDeliveryPoolSize(1);
  if (s == NATS_OK) s = natsOptions_Create(&opts);
  std::vector<const char*> urls;
  for (const auto& u : o.servers) urls.push_back(u.c_str());
  if (s == NATS_OK) s = natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK) s = natsOptions_SetName(opts, o.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, o.connect_timeout_ms);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, o.reconnect_wait_ms);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, o.max_reconnects);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectBufSize(opts, static_cast<int>(o.reconnect_buf_size));
  if (s == NATS_OK) s = natsOptions_SetPingInterval(opts, o.ping_interval_ms);
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts, o.max_pings_out);
  if (s == NATS_OK) s = natsOptions_SetWriteDeadline(opts, o.write_deadline_ms);
  if (s == NATS_OK) s = natsOptions_UseGlobalMessageDelivery(opts, true);
  // No "no responders" status messages: nats-server would answer a request nobody subscribes to
  // with an empty message at once, which the Bus's users would take for a reply (a heartbeat
  // answered, a server found). On the Bus silence means nobody, as on the embedded core.
  if (s == NATS_OK) s = natsOptions_DisableNoResponders(opts, true);
  if (s == NATS_OK && !o.user.empty())
    s = natsOptions_SetUserInfo(opts, o.user.c_str(), o.password.c_str());
  if (s == NATS_OK && !o.token.empty()) s = natsOptions_SetToken(opts, o.token.c_str());
  if (s == NATS_OK && !o.nkey_seed_file.empty())
    s = natsOptions_SetNKeyFromSeed(opts, o.nkey_public.c_str(), o.nkey_seed_file.c_str());
  if (s == NATS_OK && !o.credentials_file.empty())
    s = natsOptions_SetUserCredentialsFromFiles(opts, o.credentials_file.c_str(), nullptr);
  if (s == NATS_OK && o.tls.enabled) {
    s = natsOptions_SetSecure(opts, true);
    if (s == NATS_OK && !o.tls.ca_file.empty())
      s = natsOptions_LoadCATrustedCertificates(opts, o.tls.ca_file.c_str());
    if (s == NATS_OK && !o.tls.cert_file.empty())
      s = natsOptions_LoadCertificatesChain(opts, o.tls.cert_file.c_str(), o.tls.key_file.c_str());
  }
  Shared* sh = shared_.get();
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, OnDisconnected, sh);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, OnReconnected, sh);
  if (s == NATS_OK) s = natsOptions_SetDiscoveredServersCB(opts, OnDiscovered, sh);
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts, OnAsyncError, sh);
  if (s != NATS_OK) {
    natsOptions_Destroy(opts);
    return Status::InvalidArgument(
        fmt::format("nats: cannot set up the client: {}", nats_GetLastError(nullptr)));
  }
  uv_async_init(loop_, &async_, AsyncCb);
  async_.data = this;
  async_open_ = true;
  {
    std::lock_guard<std::mutex> lock(sh->mu);
    sh->async = &async_;
  }
  s = natsConnection_Connect(&sh->nc, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    std::string why = nats_GetLastError(nullptr) ? nats_GetLastError(nullptr) : "";
    // libnats puts its source position in front ("(conn.c:2088): "): not for users.
    if (!why.empty() && why.front() == '(') {
      size_t end = why.find("): ");
      if (end != std::string::npos) why.erase(0, end + 3);
    }
    return Status::IOError(fmt::format("cannot connect to the NATS servers {}: {}",
                                       fmt::join(o.servers, ", "),
                                       why.empty() ? natsStatus_GetText(s) : why));
  }
  sh->SetConnected(true);
  OnDiscovered(sh->nc, sh);  // the servers the cluster advertised in its first INFO
  sh->writer = std::thread([sh] { sh->WriterLoop(); });
  spdlog::info("nats: connected to {} as {} (servers {})", state().url, o.name,
               fmt::join(o.servers, ", "));
  return Status::OK();
}

void ExternalBus::AsyncCb(uv_async_t* handle) noexcept {
  static_cast<ExternalBus*>(handle->data)->Drain();
}

void ExternalBus::Drain() {
  std::vector<Event> batch;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    batch.swap(shared_->events);
  }
  draining_ = true;
  for (size_t i = 0; i < batch.size(); ++i) {
    Event& e = batch[i];
    switch (e.kind) {
      case EventKind::kMsg: {
        auto it = closed_ ? subs_.end() : subs_.find(e.sid);
        if (it != subs_.end()) {
          // A handler may unsubscribe itself: Unsubscribe then retires the Sub, which lives
          // until the batch is done.
          Sub* sub = it->second.get();
          const char* reply = natsMsg_GetReply(e.msg);
          InboundMsg m;
          m.subject = natsMsg_GetSubject(e.msg);
          m.reply = reply ? std::string_view(reply) : std::string_view();
          m.payload = std::string_view(natsMsg_GetData(e.msg),
                                       static_cast<size_t>(natsMsg_GetDataLength(e.msg)));
          sub->handler(m);
        }
        natsMsg_Destroy(e.msg);
        break;
      }
      case EventKind::kDisconnected:
        spdlog::warn(
            "nats: lost the connection to the cluster; reconnecting (what is published "
            "meanwhile waits in the reconnect buffer)");
        if (on_change_) on_change_(false);
        break;
      case EventKind::kReconnected:
        spdlog::info("nats: reconnected to {}; subscriptions restored", state().url);
        if (on_change_) on_change_(true);
        break;
      case EventKind::kDiscovered:
        spdlog::info("nats: the cluster's servers: {}", fmt::join(state().servers, ", "));
        if (on_discovered_) on_discovered_();
        break;
      case EventKind::kError:
        spdlog::warn("nats: {}", e.text);
        break;
    }
  }
  draining_ = false;
  retired_.clear();
}

uint64_t ExternalBus::Subscribe(std::string_view subject, std::string_view queue, Handler handler) {
  if (closed_ || !shared_->nc || !IsValidSubject(subject)) return 0;
  if (!queue.empty() && !IsValidQueueName(queue)) return 0;
  std::string subj(subject), q(queue);
  natsSubscription* sub = nullptr;
  natsStatus s =
      q.empty() ? natsConnection_Subscribe(&sub, shared_->nc, subj.c_str(), OnMsg, shared_.get())
                : natsConnection_QueueSubscribe(&sub, shared_->nc, subj.c_str(), q.c_str(), OnMsg,
                                                shared_.get());
  if (s != NATS_OK) {
    spdlog::warn("nats: cannot subscribe to {}: {}", subj, natsStatus_GetText(s));
    return 0;
  }
  natsSubscription_SetPendingLimits(sub, -1, -1);
  uint64_t sid = static_cast<uint64_t>(natsSubscription_GetID(sub));
  auto entry = std::make_unique<Sub>();
  entry->sub = sub;
  entry->handler = std::move(handler);
  subs_[sid] = std::move(entry);
  return sid;
}

void ExternalBus::Unsubscribe(uint64_t sid) {
  auto it = subs_.find(sid);
  if (it == subs_.end()) return;
  natsSubscription_Unsubscribe(it->second->sub);
  natsSubscription_Destroy(it->second->sub);
  if (draining_) retired_.push_back(std::move(it->second));  // its handler may be running
  subs_.erase(it);
}

void ExternalBus::Publish(std::string_view subject, std::string_view reply,
                          std::string_view payload) {
  if (closed_ || !shared_->writer.joinable()) return;
  bool wake;
  {
    std::lock_guard<std::mutex> lock(shared_->wmu);
    wake = shared_->outq.empty();
    shared_->outq.push_back(Out{std::string(subject), std::string(reply), std::string(payload)});
  }
  if (wake) shared_->wcv.notify_one();
}

std::string ExternalBus::NewInbox() {
  natsInbox* inbox = nullptr;
  if (natsInbox_Create(&inbox) != NATS_OK) return "";
  std::string out(inbox);
  natsInbox_Destroy(inbox);
  return out;
}

ExternalConnState ExternalBus::state() const {
  ExternalConnState st;
  {
    std::lock_guard<std::mutex> lock(shared_->state_mu);
    st.servers = shared_->servers;
    st.url = shared_->url;
    st.connected = shared_->connected;
  }
  st.reconnects = shared_->reconnects.load();
  st.disconnects = shared_->disconnects.load();
  st.dropped_publishes = shared_->dropped.load();
  if (shared_->nc) {
    natsStatistics* stats = nullptr;
    if (natsStatistics_Create(&stats) == NATS_OK) {
      if (natsConnection_GetStats(shared_->nc, stats) == NATS_OK) {
        uint64_t reconnected = 0;
        natsStatistics_GetCounts(stats, &st.in_msgs, &st.in_bytes, &st.out_msgs, &st.out_bytes,
                                 &reconnected);
      }
      natsStatistics_Destroy(stats);
    }
  }
  return st;
}

void ExternalBus::Close(std::function<void()> done) {
  if (closed_) return;
  closed_ = true;
  // What was published so far (a last heartbeat, PubAcks) goes out before the connection closes.
  if (shared_->writer.joinable()) {
    {
      std::lock_guard<std::mutex> lock(shared_->wmu);
      shared_->stop = true;
    }
    shared_->wcv.notify_one();
    shared_->writer.join();
  }
  if (shared_->nc) {
    if (state().connected) natsConnection_FlushTimeout(shared_->nc, 1000);
    for (auto& [sid, sub] : subs_) natsSubscription_Destroy(sub->sub);
    subs_.clear();
    natsConnection_Close(shared_->nc);
  }
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->async = nullptr;
    for (Event& e : shared_->events) {
      if (e.msg) natsMsg_Destroy(e.msg);
    }
    shared_->events.clear();
  }
  if (!async_open_) {
    if (done) done();
    return;
  }
  async_open_ = false;
  auto* cb = new std::function<void()>(std::move(done));
  async_.data = cb;
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), [](uv_handle_t* h) noexcept {
    auto* f = static_cast<std::function<void()>*>(h->data);
    if (*f) (*f)();
    delete f;
  });
}

}  // namespace tandem::server
