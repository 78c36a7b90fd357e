// stan_bench.cc: NATS Streaming load generator with libnats' STAN API, driven by
// `scripts/bench stan`. One mode per run; prints one `key=value` result line.
//
//   stan_bench pub     --url U [--count N] [--size B]  async publish, 16384 PubAcks in flight,
//                                                     msgs/s until the last PubAck
//   stan_bench pubsub  --url U [--count N] [--size B] [--max-inflight M]  1 pub + 1 sub (auto ack),
//                                                     msgs/s until the last delivery
//   stan_bench latency --url U [--count N] [--rate R]  paced publishes, publish-to-delivery
//                                                     latency p50/p99 in µs (SendAsap on both
//                                                     connections: libnats writes at once)
//   stan_bench fanout  --url U --subs S [--count N] [--pid P]  1 pub -> S subscribers of one
//                                                     channel: delivered msgs/s, tandem's RSS
//   stan_bench channels --url U --channels C [--count N] [--pid P]  C channels, 1 subscriber
//                                                     each, N messages spread over them
//   stan_bench durables --url U --count D [--channel C]  D durables of client "durowner" on C,
//                                                     then a close that keeps them
//   stan_bench durresume --url U --start-ns T [--channel C]  after a restart begun at T
//                                                     (CLOCK_REALTIME ns): ms to a STAN connect
//                                                     and to the first delivery to durable d0
//   stan_bench ready   --url U [--timeout-ms T]       polls until a STAN connect succeeds;
//                                                     prints the ms it took
//   stan_bench roundtrip --url U --channel A[,B...] [--count N] [--timeout-ms T]  one connection
//                                                     subscribes to each channel, publishes N
//                                                     to each, waits for every PubAck and
//                                                     delivery, closes; exit 1 when one is
//                                                     missing (scripts/migration-check)
//   Every connecting mode takes --cluster ID (default test-cluster, also the reference's).
//   stan_bench rss     --pid P                         VmRSS of process P in KiB
//   stan_bench freeport                                a free loopback TCP port
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define NATS_HAS_STREAMING
#include <nats/nats.h>

#include "tests/bench/bench_util.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode, url = "nats://127.0.0.1:4222", channel = "bench", cluster = "test-cluster";
  long count = 0;
  int size = 128;
  long rate = 20000;
  long timeout_ms = 30000;
  int pid = 0;
  int max_inflight = 16384;  // pubsub subscriber
  long subs = 10;            // fanout
  long channels = 1000;      // channels
  long long start_ns = 0;    // durresume
};

[[noreturn]] void Die(const char* what, natsStatus s) {
  std::fprintf(stderr, "stan_bench: %s: %s (%s)\n", what, natsStatus_GetText(s),
               nats_GetLastError(nullptr) ? nats_GetLastError(nullptr) : "");
  std::exit(1);
}

void Check(natsStatus s, const char* what) {
  if (s != NATS_OK) Die(what, s);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// How a connection is made: `send_asap` writes each publish at once (libnats otherwise holds it
// up to 1 ms to batch); `shared_delivery` runs all subscription callbacks on libnats' shared
// delivery threads instead of a thread per subscription (for thousands of subscriptions).
struct ConnFlags {
  bool send_asap = false;
  bool shared_delivery = false;
  // How long libnats waits for the reply to a connect, subscribe or close request (its default,
  // 2 s, is short for the thousands of subscriptions of the scale loads on a loaded machine).
  int64_t connect_wait_ms = 20000;
};

stanConnection* Connect(const Args& a, const std::string& client_id, natsStatus* out = nullptr,
                        ConnFlags f = {}) {
  stanConnOptions* o = nullptr;
  natsOptions* no = nullptr;
  Check(stanConnOptions_Create(&o), "options");
  Check(natsOptions_Create(&no), "nats options");
  Check(natsOptions_SetURL(no, a.url.c_str()), "url");
  Check(natsOptions_SetMaxPendingMsgs(no, 10000000), "max pending");
  Check(natsOptions_SetSendAsap(no, f.send_asap), "send asap");
  Check(natsOptions_UseGlobalMessageDelivery(no, f.shared_delivery), "global delivery");
  Check(stanConnOptions_SetNATSOptions(o, no), "nats options");
  Check(stanConnOptions_SetMaxPubAcksInflight(o, 16384, 0.5f), "max in flight");
  Check(stanConnOptions_SetPubAckWait(o, 60000), "pub ack wait");
  Check(stanConnOptions_SetConnectionWait(o, f.connect_wait_ms), "connect wait");
  stanConnection* sc = nullptr;
  natsStatus s = stanConnection_Connect(&sc, a.cluster.c_str(), client_id.c_str(), o);
  stanConnOptions_Destroy(o);
  natsOptions_Destroy(no);
  if (out != nullptr) {
    *out = s;
    return s == NATS_OK ? sc : nullptr;
  }
  Check(s, "connect");
  return sc;
}

// Polls until a STAN connect as `client_id` succeeds or `end` passes (nullptr then, `*s` the last
// failure). Until the streaming layer subscribes its connect subject, a connect fails at once
// (no responders: NATS 2.2+ and tandem's core both say so), and the poll tries again 2 ms
// later; a request that reached the subscribed server is answered when the server gets to it,
// so the reply wait is the usual long one and the time measured is the server's. `fresh` gives
// each attempt a client id of its own.
stanConnection* ConnectPolling(const Args& a, const std::string& client_id, Clock::time_point end,
                               natsStatus* s, bool fresh = false) {
  *s = NATS_ERR;
  for (int i = 0; Clock::now() < end; ++i) {
    const std::string id = fresh ? client_id + "-" + std::to_string(i) : client_id;
    if (stanConnection* sc = Connect(a, id, s)) return sc;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return nullptr;
}

std::string Unique(const char* prefix) {
  return std::string(prefix) + "-" + std::to_string(getpid()) + "-" +
         std::to_string(Clock::now().time_since_epoch().count() % 1000000007);
}

// PubAck counts. A load waits for every PubAck (`done`) before it closes its connection and its
// Acks goes out of scope: libnats calls Cb on its own thread, possibly after the deliveries.
struct Acks {
  std::atomic<long> ok{0}, failed{0}, done{0};
  static void Cb(const char* guid, const char* error, void* closure) {
    auto* self = static_cast<Acks*>(closure);
    if (error != nullptr && *error != 0) {
      self->failed++;
    } else {
      self->ok++;
    }
    self->done++;
  }
};

void WaitUntil(const std::atomic<long>& v, long n, const char* what, long timeout_ms = 120000) {
  auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (v.load(std::memory_order_relaxed) < n) {
    if (Clock::now() > end) {
      std::fprintf(stderr, "stan_bench: timed out waiting for %s (%ld of %ld)\n", what, v.load(),
                   n);
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

int Pub(const Args& a) {
  const long n = a.count > 0 ? a.count : 500000;
  stanConnection* sc = Connect(a, Unique("pub"));
  std::string data(a.size, 'p');
  std::string ch = a.channel == "bench" ? a.channel + "." + std::to_string(getpid()) : a.channel;
  Acks acks;
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    Check(stanConnection_PublishAsync(sc, ch.c_str(), data.data(), a.size, Acks::Cb, &acks),
          "publish");
  }
  WaitUntil(acks.ok, n - acks.failed.load(), "PubAcks");
  double secs = Seconds(Clock::now() - start);
  std::printf("pub size=%d count=%ld failed=%ld msgs_per_sec=%.0f\n", a.size, n, acks.failed.load(),
              n / secs);
  stanConnection_Close(sc);
  stanConnection_Destroy(sc);
  return 0;
}

void OnCount(stanConnection*, stanSubscription*, const char*, stanMsg* msg, void* closure) {
  static_cast<std::atomic<long>*>(closure)->fetch_add(1, std::memory_order_relaxed);
  stanMsg_Destroy(msg);
}

int PubSub(const Args& a) {
  const long n = a.count > 0 ? a.count : 500000;
  stanConnection* subc = Connect(a, Unique("sub"));
  stanConnection* pubc = Connect(a, Unique("pub"));
  std::string ch = a.channel + "." + std::to_string(getpid());
  std::atomic<long> received{0};
  stanSubOptions* so = nullptr;
  Check(stanSubOptions_Create(&so), "sub options");
  Check(stanSubOptions_SetMaxInflight(so, a.max_inflight), "max inflight");
  stanSubscription* sub = nullptr;
  Check(stanConnection_Subscribe(&sub, subc, ch.c_str(), OnCount, &received, so), "subscribe");
  std::string data(a.size, 's');
  Acks acks;
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    Check(stanConnection_PublishAsync(pubc, ch.c_str(), data.data(), a.size, Acks::Cb, &acks),
          "publish");
  }
  WaitUntil(received, n, "deliveries");
  double secs = Seconds(Clock::now() - start);
  std::printf("pubsub size=%d count=%ld msgs_per_sec=%.0f\n", a.size, n, n / secs);
  WaitUntil(acks.done, n, "PubAcks");
  stanSubscription_Destroy(sub);
  stanSubOptions_Destroy(so);
  stanConnection_Close(pubc);
  stanConnection_Close(subc);
  stanConnection_Destroy(pubc);
  stanConnection_Destroy(subc);
  return 0;
}

struct Latencies {
  std::mutex mu;
  std::vector<double> us;
  std::atomic<long> count{0};
  static void Cb(stanConnection*, stanSubscription*, const char*, stanMsg* msg, void* closure) {
    auto* self = static_cast<Latencies*>(closure);
    int64_t sent = 0;
    if (stanMsg_GetDataLength(msg) >= static_cast<int>(sizeof(sent)))
      std::memcpy(&sent, stanMsg_GetData(msg), sizeof(sent));
    int64_t now = Clock::now().time_since_epoch().count();
    {
      std::lock_guard<std::mutex> l(self->mu);
      self->us.push_back((now - sent) / 1000.0);
    }
    self->count++;
    stanMsg_Destroy(msg);
  }
};

int Latency(const Args& a) {
  const long n = a.count > 0 ? a.count : 50000;
  const ConnFlags asap{.send_asap = true};
  stanConnection* subc = Connect(a, Unique("lsub"), nullptr, asap);
  stanConnection* pubc = Connect(a, Unique("lpub"), nullptr, asap);
  std::string ch = a.channel + ".lat." + std::to_string(getpid());
  Latencies lat;
  stanSubscription* sub = nullptr;
  Check(stanConnection_Subscribe(&sub, subc, ch.c_str(), Latencies::Cb, &lat, nullptr),
        "subscribe");
  std::string data(std::max<int>(a.size, 8), 'l');
  Acks acks;
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(i * 1e9 / a.rate));
    while (Clock::now() < due) std::this_thread::sleep_for(std::chrono::microseconds(20));
    int64_t now = Clock::now().time_since_epoch().count();
    std::memcpy(data.data(), &now, sizeof(now));
    Check(stanConnection_PublishAsync(pubc, ch.c_str(), data.data(), static_cast<int>(data.size()),
                                      Acks::Cb, &acks),
          "publish");
  }
  WaitUntil(lat.count, n, "deliveries");
  WaitUntil(acks.done, n, "PubAcks");
  std::vector<double> v;
  {
    std::lock_guard<std::mutex> l(lat.mu);
    v = lat.us;
  }
  std::sort(v.begin(), v.end());
  std::printf("latency count=%ld rate=%ld p50_us=%.0f p99_us=%.0f\n", n, a.rate, v[v.size() / 2],
              v[v.size() * 99 / 100]);
  stanSubscription_Destroy(sub);
  stanConnection_Close(pubc);
  stanConnection_Close(subc);
  stanConnection_Destroy(pubc);
  stanConnection_Destroy(subc);
  return 0;
}

// Subscribes `cb` to `ch` (automatic acks, MaxInflight 16384; a durable named `durable` when set).
stanSubscription* Sub(stanConnection* sc, const std::string& ch, const char* durable,
                      stanMsgHandler cb, void* closure) {
  stanSubOptions* so = nullptr;
  Check(stanSubOptions_Create(&so), "sub options");
  Check(stanSubOptions_SetMaxInflight(so, 16384), "max inflight");
  if (durable != nullptr) Check(stanSubOptions_SetDurableName(so, durable), "durable name");
  stanSubscription* sub = nullptr;
  Check(stanConnection_Subscribe(&sub, sc, ch.c_str(), cb, closure, so), "subscribe");
  stanSubOptions_Destroy(so);
  return sub;
}

// Publishes `n` messages of `size` B, message i to channels[i % channels.size()], and waits
// until `received` reaches `expect`; prints `label` with the delivered msgs/s and tandem's RSS.
void PublishSpread(const Args& a, const std::vector<std::string>& channels,
                   const std::atomic<long>& received, long n, long expect, const char* label) {
  stanConnection* pubc = Connect(a, Unique("pub"));
  std::string data(a.size, 'f');
  Acks acks;
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    const std::string& ch = channels[i % channels.size()];
    Check(stanConnection_PublishAsync(pubc, ch.c_str(), data.data(), a.size, Acks::Cb, &acks),
          "publish");
  }
  WaitUntil(received, expect, "deliveries");
  double secs = Seconds(Clock::now() - start);
  std::printf("%s count=%ld delivered=%ld msgs_per_sec=%.0f rss_kib=%ld\n", label, n, expect,
              expect / secs, a.pid > 0 ? tandem::bench::RssKiB(a.pid) : -1L);
  WaitUntil(acks.done, n, "PubAcks");
  stanConnection_Close(pubc);
  stanConnection_Destroy(pubc);
}

// Closes and destroys subscriptions and connections (subscriptions first).
void Teardown(std::vector<stanSubscription*>& subs, std::vector<stanConnection*>& conns) {
  for (auto* s : subs) stanSubscription_Destroy(s);
  for (auto* c : conns) {
    stanConnection_Close(c);
    stanConnection_Destroy(c);
  }
}

int Fanout(const Args& a) {
  const long n = a.count > 0 ? a.count : 20000;
  const std::string ch = a.channel + ".fan." + std::to_string(getpid());
  std::atomic<long> received{0};
  std::vector<stanConnection*> conns;
  std::vector<stanSubscription*> subs;
  const long nconn = std::min<long>(a.subs, 10);  // subscribers spread over up to 10 connections
  for (long i = 0; i < nconn; ++i)
    conns.push_back(Connect(a, Unique("fsub") + "-" + std::to_string(i), nullptr,
                            {.shared_delivery = true}));
  for (long i = 0; i < a.subs; ++i)
    subs.push_back(Sub(conns[i % nconn], ch, nullptr, OnCount, &received));
  std::string label = "fanout subs=" + std::to_string(a.subs);
  PublishSpread(a, {ch}, received, n, n * a.subs, label.c_str());
  Teardown(subs, conns);
  return 0;
}

int Channels(const Args& a) {
  const long n = a.count > 0 ? a.count : 100000;
  std::atomic<long> received{0};
  std::vector<std::string> names;
  for (long i = 0; i < a.channels; ++i)
    names.push_back(a.channel + ".ch." + std::to_string(getpid()) + "." + std::to_string(i));
  std::vector<stanConnection*> conns{
      Connect(a, Unique("csub"), nullptr, {.shared_delivery = true})};
  std::vector<stanSubscription*> subs;
  auto setup = Clock::now();  // the subscriptions create the channels
  for (const auto& ch : names) subs.push_back(Sub(conns[0], ch, nullptr, OnCount, &received));
  std::string label = "channels channels=" + std::to_string(a.channels) + " setup_ms=" +
                      std::to_string(static_cast<long>(Seconds(Clock::now() - setup) * 1000));
  PublishSpread(a, names, received, n, n, label.c_str());
  Teardown(subs, conns);
  return 0;
}

constexpr const char* kDurOwner = "durowner";

int Durables(const Args& a) {
  const long n = a.count > 0 ? a.count : 10000;
  std::vector<stanConnection*> conns{Connect(a, kDurOwner, nullptr, {.shared_delivery = true})};
  std::atomic<long> received{0};
  std::vector<stanSubscription*> subs;
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    const std::string name = "d" + std::to_string(i);
    subs.push_back(Sub(conns[0], a.channel, name.c_str(), OnCount, &received));
  }
  std::printf("durables count=%ld create_ms=%.0f\n", n, Seconds(Clock::now() - start) * 1000);
  Teardown(subs, conns);  // a close, not an unsubscribe: the durables stay
  return 0;
}

int DurResume(const Args& a) {
  auto since = [&] {
    const long long now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    return (now - a.start_ns) / 1e6;
  };
  // Serving: the first connect that succeeds (polling with short waits, under ids of its own);
  // then the owner of the durables connects with the usual waits.
  natsStatus s;
  stanConnection* probe = ConnectPolling(
      a, Unique("durpoll"), Clock::now() + std::chrono::milliseconds(a.timeout_ms), &s, true);
  if (probe == nullptr) Die("connect after restart", s);
  const double serving_ms = since();
  stanConnection_Close(probe);
  stanConnection_Destroy(probe);
  stanConnection* sc = Connect(a, kDurOwner);
  Check(stanConnection_Publish(sc, a.channel.c_str(), "x", 1), "publish");
  std::atomic<long> received{0};
  stanSubscription* sub = Sub(sc, a.channel, "d0", OnCount, &received);
  WaitUntil(received, 1, "the first delivery");
  std::printf("durresume serving_ms=%.0f first_delivery_ms=%.0f\n", serving_ms, since());
  std::vector<stanSubscription*> subs{sub};
  std::vector<stanConnection*> conns{sc};
  Teardown(subs, conns);
  return 0;
}

int Ready(const Args& a) {
  auto start = Clock::now();
  natsStatus s;
  stanConnection* sc = ConnectPolling(a, Unique("ready"),
                                      start + std::chrono::milliseconds(a.timeout_ms), &s, true);
  if (sc == nullptr) {
    std::fprintf(stderr, "stan_bench: not ready after %ld ms (%s)\n", a.timeout_ms,
                 natsStatus_GetText(s));
    return 1;
  }
  double ms = Seconds(Clock::now() - start) * 1000;
  stanConnection_Close(sc);
  stanConnection_Destroy(sc);
  std::printf("ready ms=%.0f\n", ms);
  return 0;
}

// Publish and subscribe on each listed channel through one connection: on a partitioned
// cluster the channels may belong to different partitions, which must all serve this client.
int RoundTrip(const Args& a) {
  const long n = a.count > 0 ? a.count : 100;
  std::vector<std::string> names;
  for (size_t pos = 0; pos <= a.channel.size();) {
    size_t comma = std::min(a.channel.find(',', pos), a.channel.size());
    names.push_back(a.channel.substr(pos, comma - pos));
    pos = comma + 1;
  }
  stanConnection* sc = Connect(a, Unique("roundtrip"));
  std::atomic<long> received{0};
  std::vector<stanSubscription*> subs;
  for (const auto& ch : names) subs.push_back(Sub(sc, ch, nullptr, OnCount, &received));
  Acks acks;
  const std::string data(a.size, 'r');
  for (const auto& ch : names) {
    for (long i = 0; i < n; ++i) {
      Check(stanConnection_PublishAsync(sc, ch.c_str(), data.data(), a.size, Acks::Cb, &acks),
            "publish");
    }
  }
  const long want = n * static_cast<long>(names.size());
  WaitUntil(acks.ok, want, "PubAcks", a.timeout_ms);
  WaitUntil(received, want, "deliveries", a.timeout_ms);
  std::printf("roundtrip channels=%zu count=%ld acked=%ld failed=%ld delivered=%ld\n", names.size(),
              n, acks.ok.load(), acks.failed.load(), received.load());
  for (auto* sub : subs) Check(stanSubscription_Close(sub), "subscription close");
  for (auto* sub : subs) stanSubscription_Destroy(sub);
  Check(stanConnection_Close(sc), "close");  // answered by some partition, or a failure
  stanConnection_Destroy(sc);
  return 0;
}

int Rss(const Args& a) {
  const long kib = tandem::bench::RssKiB(a.pid);
  std::printf("rss pid=%d rss_kib=%ld\n", a.pid, kib);
  return kib < 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: stan_bench pub|pubsub|latency|fanout|channels|durables|durresume|ready|"
                 "roundtrip|rss|freeport [--url U] [--cluster ID] [--count N] [--size B] "
                 "[--rate R] [--timeout-ms T] [--pid P] [--channel C] [--subs S] [--channels C] "
                 "[--start-ns T]\n");
    return 2;
  }
  a.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--url")
      a.url = v;
    else if (k == "--count")
      a.count = std::atol(v.c_str());
    else if (k == "--size")
      a.size = std::atoi(v.c_str());
    else if (k == "--rate")
      a.rate = std::atol(v.c_str());
    else if (k == "--timeout-ms")
      a.timeout_ms = std::atol(v.c_str());
    else if (k == "--pid")
      a.pid = std::atoi(v.c_str());
    else if (k == "--channel")
      a.channel = v;
    else if (k == "--subs")
      a.subs = std::atol(v.c_str());
    else if (k == "--channels")
      a.channels = std::atol(v.c_str());
    else if (k == "--start-ns")
      a.start_ns = std::atoll(v.c_str());
    else if (k == "--cluster")
      a.cluster = v;
  }
  if (a.mode == "rss") return Rss(a);
  if (a.mode == "freeport") {
    const int port = tandem::bench::FreeLoopbackPort();
    if (port < 0) {
      std::perror("stan_bench: freeport");
      return 1;
    }
    std::printf("%d\n", port);
    return 0;
  }
  nats_Open(-1);
  int rc = 2;
  if (a.mode == "pub")
    rc = Pub(a);
  else if (a.mode == "pubsub")
    rc = PubSub(a);
  else if (a.mode == "latency")
    rc = Latency(a);
  else if (a.mode == "ready")
    rc = Ready(a);
  else if (a.mode == "fanout")
    rc = Fanout(a);
  else if (a.mode == "channels")
    rc = Channels(a);
  else if (a.mode == "durables")
    rc = Durables(a);
  else if (a.mode == "durresume")
    rc = DurResume(a);
  else if (a.mode == "roundtrip")
    rc = RoundTrip(a);
  nats_Close();
  return rc;
}
