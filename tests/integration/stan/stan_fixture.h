// stan_fixture.h: what the streaming integration tests share: a tandem process on a free
// loopback port with a store directory that survives restarts (and kill -9), RAII owners for
// libnats' STAN objects, a thread-safe collector of delivered messages with bounded waits, the
// set-ups most tests start from (server plus connection, a subscription with its options), and
// a plain NATS connection for raw streaming requests.
//
// Ownership: StanServerProc owns its TandemProcess and TempDir; StanClientFixture owns its server
// and connection; StanConn, StanSubOpts, StanSubscription, StanSub and RawNatsConn destroy their
// libnats objects. Thread safety: Collector is filled from libnats threads and read by the test
// thread under its mutex; everything else is used from the test thread.
#pragma once

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#ifndef NATS_HAS_STREAMING
#define NATS_HAS_STREAMING  // libnats declares the STAN API only with this
#endif
#include <doctest/doctest.h>
#include <nats/nats.h>

#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {

using namespace std::chrono_literals;

class StanServerProc {
 public:
  // Starts `tandem serve` on a free port with the store in <dir>/data; `yaml` is a config file
  // body (empty for none).
  bool Start(const std::string& yaml = "") {
    if (port_ == 0) port_ = FreePort();
    std::vector<std::string> args{"serve",       "--listen", "127.0.0.1:" + std::to_string(port_),
                                  "--store",     "data",     "--cluster-id",
                                  "test-cluster"};
    if (!yaml.empty()) {
      args.push_back("--config");
      args.push_back(dir_.WriteFile("tandem.yaml", yaml));
    }
    proc_ = std::make_unique<TandemProcess>(dir_.path(), "tandem.log");
    return proc_->Start(args) && proc_->WaitForPort(port_);
  }
  // kill -9, then start again on the same store and port.
  bool Restart9(const std::string& yaml = "") {
    proc_->Signal(SIGKILL);
    proc_->WaitExit();
    return Start(yaml);
  }
  std::optional<int> Term() {
    proc_->Signal(SIGTERM);
    return proc_->WaitExit();
  }
  int port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  TandemProcess& process() { return *proc_; }
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::unique_ptr<TandemProcess> proc_;
  int port_ = 0;
};

struct StanConn {
  stanConnection* sc = nullptr;
  StanConn() = default;
  StanConn(const StanConn&) = delete;
  StanConn& operator=(const StanConn&) = delete;
  ~StanConn() { Destroy(); }
  // `ping_interval_s`: the client's pings (0: libnats' default of 5 s).
  natsStatus Connect(const std::string& url, const std::string& client_id, int max_pub_acks = 16384,
                     const char* cluster = "test-cluster", int64_t pub_ack_wait_ms = 10000,
                     int ping_interval_s = 0) {
    stanConnOptions* o = nullptr;
    natsOptions* no = nullptr;
    natsStatus s = stanConnOptions_Create(&o);
    if (s == NATS_OK) s = natsOptions_Create(&no);
    if (s == NATS_OK) s = natsOptions_SetURL(no, url.c_str());
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(no, 100);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(no, -1);
    if (s == NATS_OK) s = stanConnOptions_SetNATSOptions(o, no);
    if (s == NATS_OK) s = stanConnOptions_SetConnectionWait(o, 5000);
    if (s == NATS_OK) s = stanConnOptions_SetPubAckWait(o, pub_ack_wait_ms);
    if (s == NATS_OK) s = stanConnOptions_SetMaxPubAcksInflight(o, max_pub_acks, 0.5f);
    if (s == NATS_OK && ping_interval_s > 0) s = stanConnOptions_SetPings(o, ping_interval_s, 10);
    if (s == NATS_OK) s = stanConnection_Connect(&sc, cluster, client_id.c_str(), o);
    stanConnOptions_Destroy(o);
    natsOptions_Destroy(no);
    return s;
  }
  natsStatus Publish(const std::string& channel, const std::string& data) {
    return stanConnection_Publish(sc, channel.c_str(), data.data(), static_cast<int>(data.size()));
  }
  // Retries while the connection is re-establishing itself after a server restart (publishes
  // are refused then: STAN connections have no reconnect buffer), for at most `timeout`.
  natsStatus PublishRetry(const std::string& channel, const std::string& data,
                          std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    natsStatus s;
    while ((s = Publish(channel, data)) != NATS_OK && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return s;
  }
  natsStatus Close() {
    natsStatus s = stanConnection_Close(sc);
    return s;
  }
  void Destroy() {
    if (sc != nullptr) stanConnection_Destroy(sc);
    sc = nullptr;
  }
  operator stanConnection*() const { return sc; }  // NOLINT: implicit by design
};

struct Delivered {
  uint64_t seq = 0;
  std::string data;
  bool redelivered = false;
  int64_t timestamp = 0;
  int64_t received_us = 0;  // steady clock, when the handler ran
};

// Collects messages from a stanMsgHandler. With manual_ack unset the library acks itself.
class Collector {
 public:
  static void OnMsg(stanConnection* sc, stanSubscription* sub, const char* channel, stanMsg* msg,
                    void* closure) {
    auto* self = static_cast<Collector*>(closure);
    Delivered d;
    d.seq = stanMsg_GetSequence(msg);
    d.data.assign(stanMsg_GetData(msg), static_cast<size_t>(stanMsg_GetDataLength(msg)));
    d.redelivered = stanMsg_IsRedelivered(msg);
    d.timestamp = stanMsg_GetTimestamp(msg);
    d.received_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count();
    bool ack = false;
    {
      std::lock_guard<std::mutex> l(self->mu_);
      self->msgs_.push_back(d);
      ack = self->manual_ack && (self->ack_limit < 0 || self->acked_ < self->ack_limit);
      if (ack) ++self->acked_;
    }
    if (ack) stanSubscription_AckMsg(sub, msg);
    stanMsg_Destroy(msg);
    self->cv_.notify_all();
  }
  // Until some delivery satisfies `pred`.
  template <typename Pred>
  bool WaitFor(Pred pred, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] {
      for (auto& m : msgs_)
        if (pred(m)) return true;
      return false;
    });
  }
  bool WaitCount(size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return msgs_.size() >= n; });
  }
  std::vector<Delivered> msgs() {
    std::lock_guard<std::mutex> l(mu_);
    return msgs_;
  }
  size_t count() {
    std::lock_guard<std::mutex> l(mu_);
    return msgs_.size();
  }
  void Clear() {
    std::lock_guard<std::mutex> l(mu_);
    msgs_.clear();
  }
  // Manual-ack subscriptions: ack the first `ack_limit` messages received (-1: all).
  bool manual_ack = false;
  int ack_limit = -1;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Delivered> msgs_;
  int acked_ = 0;
};

struct StanSubOpts {
  stanSubOptions* o = nullptr;
  StanSubOpts() { stanSubOptions_Create(&o); }
  ~StanSubOpts() { stanSubOptions_Destroy(o); }
  StanSubOpts(const StanSubOpts&) = delete;
  StanSubOpts& operator=(const StanSubOpts&) = delete;
  operator stanSubOptions*() const { return o; }  // NOLINT: implicit by design
};

struct StanSubscription {
  stanSubscription* sub = nullptr;
  StanSubscription() = default;
  StanSubscription(const StanSubscription&) = delete;
  StanSubscription& operator=(const StanSubscription&) = delete;
  ~StanSubscription() { Destroy(); }
  natsStatus Subscribe(stanConnection* sc, const std::string& channel, Collector* c,
                       stanSubOptions* opts = nullptr, const char* queue = nullptr) {
    if (queue != nullptr) {
      return stanConnection_QueueSubscribe(&sub, sc, channel.c_str(), queue, Collector::OnMsg, c,
                                           opts);
    }
    return stanConnection_Subscribe(&sub, sc, channel.c_str(), Collector::OnMsg, c, opts);
  }
  void Destroy() {
    if (sub != nullptr) stanSubscription_Destroy(sub);
    sub = nullptr;
  }
  operator stanSubscription*() const { return sub; }  // NOLINT: implicit by design
};

// One subscription with its own collector and options: set options with the setters below (or
// on `opts` directly), then Subscribe. Destroys the subscription before the collector.
struct StanSub {
  Collector c;
  StanSubOpts opts;
  StanSubscription sub;

  // Makes it durable under `name`.
  StanSub& Durable(const char* name) {
    stanSubOptions_SetDurableName(opts, name);
    return *this;
  }
  // Starts it at the first message available.
  StanSub& FromFirst() {
    stanSubOptions_DeliverAllAvailable(opts);
    return *this;
  }
  // Manual ack mode; the collector acks the first `ack_limit` messages (-1: all, 0: none).
  StanSub& ManualAck(int ack_limit) {
    c.manual_ack = true;
    c.ack_limit = ack_limit;
    stanSubOptions_SetManualAckMode(opts, true);
    return *this;
  }
  // Subscribes to `channel` (as a member of `queue` if given) with the options set so far.
  natsStatus Subscribe(stanConnection* sc, const std::string& channel,
                       const char* queue = nullptr) {
    return sub.Subscribe(sc, channel, &c, opts, queue);
  }
};

// REQUIREs `n` deliveries on `c` (within 10 s), waits `settle` longer so that any extra one
// would arrive too, then returns all of them.
inline std::vector<Delivered> ReceiveSettled(Collector& c, size_t n,
                                             std::chrono::milliseconds settle) {
  REQUIRE(c.WaitCount(n));
  std::this_thread::sleep_for(settle);
  return c.msgs();
}

// A server and one connection to it, as a doctest fixture (most cases start from this).
struct StanClientFixture {
  StanServerProc srv;
  StanConn sc;

  // Starts the server (config `yaml`, empty for none) and connects `sc` to it as `client_id`.
  void StartAndConnect(const std::string& client_id, const std::string& yaml = "") {
    REQUIRE(srv.Start(yaml));
    REQUIRE(sc.Connect(srv.url(), client_id) == NATS_OK);
  }
};

// Until `a` and `b` together hold at least `n` deliveries, for at most `timeout`.
inline bool WaitTotal(Collector& a, Collector& b, size_t n, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (a.count() + b.count() < n && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(5ms);
  return a.count() + b.count() >= n;
}

// The distinct sequences delivered to `a` and `b` together.
inline std::set<uint64_t> SeqsOf(Collector& a, Collector& b) {
  std::set<uint64_t> seen;
  for (auto& m : a.msgs()) seen.insert(m.seq);
  for (auto& m : b.msgs()) seen.insert(m.seq);
  return seen;
}

// A plain NATS connection for raw streaming requests (protobuf payloads built by the test).
class RawNatsConn {
 public:
  RawNatsConn() = default;
  RawNatsConn(const RawNatsConn&) = delete;
  RawNatsConn& operator=(const RawNatsConn&) = delete;
  ~RawNatsConn() {
    if (nc_ != nullptr) natsConnection_Destroy(nc_);
  }
  bool Connect(const std::string& url) {
    return natsConnection_ConnectTo(&nc_, url.c_str()) == NATS_OK;
  }
  // Request/reply; "" plus ok=false on timeout.
  std::string Request(const std::string& subject, const std::string& payload, bool* ok,
                      int64_t timeout_ms = 2000) {
    natsMsg* reply = nullptr;
    natsStatus s = natsConnection_Request(&reply, nc_, subject.c_str(), payload.data(),
                                          static_cast<int>(payload.size()), timeout_ms);
    *ok = s == NATS_OK;
    if (!*ok) return "";
    std::string out(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply)));
    natsMsg_Destroy(reply);
    return out;
  }
  natsConnection* nc() const { return nc_; }

 private:
  natsConnection* nc_ = nullptr;
};

inline std::string LastError() {
  natsStatus s = NATS_OK;
  const char* text = nats_GetLastError(&s);
  return text ? text : "";
}

}  // namespace tandem::test
