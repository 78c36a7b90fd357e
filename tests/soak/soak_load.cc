// soak_load.cc: the soak's clients and their records (see soak_load.h).
#include "tests/soak/soak_load.h"

#include <cstdio>

#include "tests/soak/soak_members.h"
#include "tests/support/stan_client.h"

namespace tandem::soak {

namespace {

using test::ConnectStan;
using test::StanConnectOptions;
using test::SubscribeStan;

size_t IdOf(stanMsg* msg) {
  const char* d = stanMsg_GetData(msg);
  int len = stanMsg_GetDataLength(msg);
  size_t n = 0;
  for (int i = 1; i < len && d[i] >= '0' && d[i] <= '9'; ++i) {
    n = n * 10 + static_cast<size_t>(d[i] - '0');
  }
  return n;
}

void AckCb(const char*, const char* error, void* closure) {
  auto* ctx = static_cast<std::pair<SoakLoad*, size_t>*>(closure);
  ctx->first->OnAck(ctx->second, error);
  delete ctx;
}

void DeliveryCb(stanConnection*, stanSubscription* sub, const char*, stanMsg* msg, void* closure,
                bool durable) {
  static_cast<SoakLoad*>(closure)->OnDelivery(IdOf(msg), durable, stanMsg_IsRedelivered(msg));
  stanSubscription_AckMsg(sub, msg);
  stanMsg_Destroy(msg);
}

void DurableCb(stanConnection* sc, stanSubscription* sub, const char* ch, stanMsg* msg, void* c) {
  DeliveryCb(sc, sub, ch, msg, c, true);
}

void QueueCb(stanConnection* sc, stanSubscription* sub, const char* ch, stanMsg* msg, void* c) {
  DeliveryCb(sc, sub, ch, msg, c, false);
}

void ReadBackCb(stanConnection*, stanSubscription*, const char*, stanMsg* msg, void* closure) {
  static_cast<SoakLoad*>(closure)->OnReadBack(IdOf(msg), stanMsg_GetSequence(msg));
  stanMsg_Destroy(msg);
}

void DisconnectedCb(natsConnection*, void* closure) {
  static_cast<SoakLoad*>(closure)->OnDisconnected();
}

void LostCb(stanConnection*, const char*, void* closure) {
  static_cast<SoakLoad*>(closure)->OnConnectionLost();
}

// Every client knows both members and only them (the members' connect_urls name addresses
// the soak may not reach), retries its first connect for ~10 s while a member takes over, and
// tolerates a stopped active (up to 3 s) without declaring the connection lost.
StanConnectOptions ClientOptions(SoakLoad* load, bool watch_disconnect) {
  StanConnectOptions o;
  o.only_given_servers = true;
  o.max_pubacks_inflight = 4096;
  o.ping_max_out = 60;
  o.connect_attempts = 100;
  o.connect_retry_ms = 100;
  o.lost = LostCb;
  o.closure = load;
  if (watch_disconnect) o.disconnected = DisconnectedCb;
  return o;
}

}  // namespace

SoakLoad::SoakLoad(std::string urls, std::string cluster_id, std::string channel, int rate)
    : urls_(std::move(urls)),
      cluster_id_(std::move(cluster_id)),
      channel_(std::move(channel)),
      rate_(rate) {}

SoakLoad::~SoakLoad() {
  StopPublishing();
  for (stanSubscription* s : subs_) stanSubscription_Destroy(s);
  for (stanConnection* c : {pub_, durable_conn_, queue_conn_}) {
    if (c) stanConnection_Destroy(c);
  }
}

bool SoakLoad::Start(std::string* error) {
  durable_conn_ =
      ConnectStan(urls_, cluster_id_, "soak-durable", ClientOptions(this, false), error);
  queue_conn_ = durable_conn_ ? ConnectStan(urls_, cluster_id_, "soak-queue",
                                            ClientOptions(this, false), error)
                              : nullptr;
  pub_ = queue_conn_ ? ConnectStan(urls_, cluster_id_, "soak-pub", ClientOptions(this, true), error)
                     : nullptr;
  if (!pub_) return false;
  struct Want {
    stanConnection* conn;
    const char* queue;
    const char* durable;
    stanMsgHandler cb;
  };
  for (const Want& w : {Want{durable_conn_, nullptr, "soak-dur", DurableCb},
                        Want{queue_conn_, "soak-q", "soak-qdur", QueueCb},
                        Want{queue_conn_, "soak-q", "soak-qdur", QueueCb}}) {
    stanSubscription* s = SubscribeStan(w.conn, channel_, w.queue, w.durable, w.cb, this, error);
    if (!s) return false;
    subs_.push_back(s);
  }
  publisher_ = std::thread([this] { Publish(); });
  return true;
}

void SoakLoad::Publish() {
  int64_t start = NowUs();
  uint64_t sent = 0;
  char buf[32];
  while (!stop_) {
    size_t id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      id = ack_.size();
      ack_.push_back(0);
      durable_.push_back(0);
      queue_.push_back(0);
    }
    int len = std::snprintf(buf, sizeof(buf), "n%zu", id);
    auto* ctx = new std::pair<SoakLoad*, size_t>(this, id);
    natsStatus s = stanConnection_PublishAsync(pub_, channel_.c_str(), buf, len, AckCb, ctx);
    if (s != NATS_OK) {
      delete ctx;
      OnAck(id, natsStatus_GetText(s));
    }
    ++sent;
    int64_t due = start + static_cast<int64_t>(sent * 1'000'000 / static_cast<uint64_t>(rate_));
    if (due > NowUs()) std::this_thread::sleep_for(std::chrono::microseconds(due - NowUs()));
  }
}

void SoakLoad::StopPublishing() {
  stop_ = true;
  if (publisher_.joinable()) publisher_.join();
}

void SoakLoad::Arm(bool need_disconnect) {
  armed_ = false;
  resumed_us_ = 0;
  disconnected_ = false;
  need_disconnect_ = need_disconnect;
  armed_ = true;
}

void SoakLoad::OnDisconnected() {
  if (armed_) disconnected_ = true;
}

void SoakLoad::OnAck(size_t id, const char* error) {
  int64_t now = NowUs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (id < ack_.size()) ack_[id] = error == nullptr ? 1 : 2;
    if (error != nullptr) ++ack_errors_[error];
  }
  if (error != nullptr) return;
  acked_.fetch_add(1);
  last_ack_us_ = now;
  if (armed_ && (!need_disconnect_ || disconnected_) && resumed_us_.load() == 0) {
    int64_t zero = 0;
    resumed_us_.compare_exchange_strong(zero, now);
  }
}

void SoakLoad::OnDelivery(size_t id, bool durable, bool redelivered) {
  std::lock_guard<std::mutex> lock(mu_);
  if (redelivered) ++redelivered_;
  if (id >= ack_.size()) return;
  if (durable) {
    ++durable_[id];
  } else {
    ++queue_[id];
  }
}

void SoakLoad::OnReadBack(size_t id, uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  if (seq > read_last_seq_) read_last_seq_ = seq;
  if (id < stored_.size() && stored_[id] < 255) ++stored_[id];
}

bool SoakLoad::AllResolved(bool deliveries) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t id = 0; id < ack_.size(); ++id) {
    if (ack_[id] == 0) return false;
    if (deliveries && ack_[id] == 1 && (durable_[id] == 0 || queue_[id] == 0)) return false;
  }
  return true;
}

bool SoakLoad::Settle(int timeout_ms) {
  StopPublishing();
  int64_t deadline = NowUs() + int64_t{timeout_ms} * 1000;
  while (!AllResolved(false) && NowUs() < deadline) SleepMs(20);
  while (!AllResolved(true) && NowUs() < deadline) SleepMs(20);
  return AllResolved(true);
}

LoadReport SoakLoad::ReadBack(uint64_t last_seq, int timeout_ms) {
  LoadReport r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stored_.assign(ack_.size(), 0);
    read_last_seq_ = 0;
  }
  std::string error;
  stanConnection* sc =
      ConnectStan(urls_, cluster_id_, "soak-check", ClientOptions(this, false), &error);
  stanSubscription* sub =
      sc ? SubscribeStan(sc, channel_, nullptr, nullptr, ReadBackCb, this, &error) : nullptr;
  int64_t deadline = NowUs() + int64_t{timeout_ms} * 1000;
  while (sub) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (read_last_seq_ >= last_seq) break;
    }
    if (NowUs() > deadline) break;
    SleepMs(20);
  }
  if (sub) stanSubscription_Destroy(sub);
  if (sc) stanConnection_Destroy(sc);

  std::lock_guard<std::mutex> lock(mu_);
  r.read_error = error;
  r.read_complete = sub != nullptr && read_last_seq_ >= last_seq;
  r.published = ack_.size();
  r.ack_errors = ack_errors_;
  r.redelivered = redelivered_;
  for (size_t id = 0; id < ack_.size(); ++id) {
    r.stored += stored_[id];
    if (stored_[id] > 1) r.stored_duplicates += stored_[id] - 1u;
    if (ack_[id] != 1) {
      ++r.not_acked;
      continue;
    }
    ++r.acked;
    if (durable_[id] == 0) ++r.durable_missing;
    if (queue_[id] == 0) ++r.queue_missing;
    if (stored_[id] == 0 && r.lost++ < 10) r.lost_examples += " n" + std::to_string(id);
  }
  return r;
}

}  // namespace tandem::soak
