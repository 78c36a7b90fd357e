// core_bench.cc: NATS core load generator with libnats, run identically against tandem and
// nats-server by scripts/bench. One mode per run; prints one `key=value` result line.
//
//   core_bench pubsub --url U [--count N] [--size B]   1 publisher -> 1 subscriber, msgs/s
//   core_bench pub    --url U [--count N] [--size B]   publish only, msgs/s
//   core_bench reqrep --url U [--count N] [--size B]   request/reply round trip, p50/p99 in µs
//                                                      (responder uses natsOptions_SetSendAsap)
//   core_bench idle   --url U --pid P [--conns N]      RSS of process P before and with N idle
//                                                      raw connections (handshake done)
//   core_bench subsclose --url U --pid P [--count N] [--window MS]
//                                                      one raw connection subscribes to N
//                                                      subjects and closes; another one's worst
//                                                      PING round trip in the next MS (the
//                                                      stall), and the RSS of P before, at the
//                                                      peak and after
//   core_bench freeport                                 prints a free loopback TCP port
// --ca FILE (any mode using libnats) connects with TLS, trusting FILE, expecting "localhost".
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nats/nats.h>

#include "tests/bench/bench_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode, url = "nats://127.0.0.1:4222";
  long count = 0;
  int size = -1;
  int pid = 0;
  int conns = 1000;
  long window_ms = 3000;
};

[[noreturn]] void Die(const char* what, natsStatus s) {
  std::fprintf(stderr, "core_bench: %s: %s\n", what, natsStatus_GetText(s));
  std::exit(1);
}

void Check(natsStatus s, const char* what) {
  if (s != NATS_OK) Die(what, s);
}

std::string g_ca;  // --ca: connect with TLS, trusting this CA file

natsConnection* Connect(const std::string& url, bool send_asap) {
  natsOptions* o = nullptr;
  natsConnection* nc = nullptr;
  Check(natsOptions_Create(&o), "options");
  Check(natsOptions_SetURL(o, url.c_str()), "url");
  Check(natsOptions_SetSendAsap(o, send_asap), "send asap");
  Check(natsOptions_SetTimeout(o, 5000), "timeout");
  Check(natsOptions_SetMaxPendingMsgs(o, 10000000), "max pending");
  if (!g_ca.empty()) {
    Check(natsOptions_SetSecure(o, true), "secure");
    Check(natsOptions_LoadCATrustedCertificates(o, g_ca.c_str()), "ca");
    Check(natsOptions_SetExpectedHostname(o, "localhost"), "expected hostname");
  }
  Check(natsConnection_Connect(&nc, o), "connect");
  natsOptions_Destroy(o);
  return nc;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void OnCount(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  static_cast<std::atomic<long>*>(closure)->fetch_add(1, std::memory_order_relaxed);
  natsMsg_Destroy(msg);
}

int PubSub(const Args& a) {
  const long n = a.count > 0 ? a.count : 2000000;
  const int size = a.size >= 0 ? a.size : 128;
  natsConnection* sc = Connect(a.url, false);
  natsConnection* pc = Connect(a.url, false);
  std::atomic<long> received{0};
  natsSubscription* sub = nullptr;
  Check(natsConnection_Subscribe(&sub, sc, "bench.pubsub", OnCount, &received), "subscribe");
  Check(natsSubscription_SetPendingLimits(sub, -1, -1), "pending limits");
  Check(natsConnection_Flush(sc), "flush");
  std::string payload(static_cast<size_t>(size), 'x');
  const auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    Check(natsConnection_Publish(pc, "bench.pubsub", payload.data(), size), "publish");
  }
  Check(natsConnection_Flush(pc), "flush");
  // Wait for the last message, giving up after 10 s without progress.
  long last = -1;
  auto last_progress = Clock::now();
  while (received.load() < n) {
    long now_count = received.load();
    if (now_count != last) {
      last = now_count;
      last_progress = Clock::now();
    } else if (Clock::now() - last_progress > std::chrono::seconds(10)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  const double secs = Seconds(Clock::now() - start);
  const long got = received.load();
  std::printf("pubsub size=%d sent=%ld received=%ld seconds=%.3f msgs_per_sec=%.0f\n", size, n, got,
              secs, got / secs);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(pc);
  natsConnection_Destroy(sc);
  return got == n ? 0 : 1;
}

int Pub(const Args& a) {
  const long n = a.count > 0 ? a.count : 5000000;
  const int size = a.size >= 0 ? a.size : 16;
  natsConnection* pc = Connect(a.url, false);
  std::string payload(static_cast<size_t>(size), 'x');
  const auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    Check(natsConnection_Publish(pc, "bench.pub", payload.data(), size), "publish");
  }
  Check(natsConnection_FlushTimeout(pc, 60000), "flush");  // PONG: the server read everything
  const double secs = Seconds(Clock::now() - start);
  std::printf("pub size=%d sent=%ld seconds=%.3f msgs_per_sec=%.0f\n", size, n, secs, n / secs);
  natsConnection_Destroy(pc);
  return 0;
}

void OnRequest(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  natsConnection_Publish(nc, natsMsg_GetReply(msg), natsMsg_GetData(msg),
                         natsMsg_GetDataLength(msg));
  natsMsg_Destroy(msg);
}

int ReqRep(const Args& a) {
  const long n = a.count > 0 ? a.count : 20000;
  const int size = a.size >= 0 ? a.size : 16;
  natsConnection* rc = Connect(a.url, true);
  natsConnection* qc = Connect(a.url, true);
  natsSubscription* sub = nullptr;
  Check(natsConnection_Subscribe(&sub, rc, "bench.req", OnRequest, nullptr), "subscribe");
  Check(natsConnection_Flush(rc), "flush");
  std::string payload(static_cast<size_t>(size), 'x');
  std::vector<double> us;
  us.reserve(static_cast<size_t>(n));
  for (long i = 0; i < n + 500; ++i) {  // the first 500 warm up
    natsMsg* reply = nullptr;
    const auto t0 = Clock::now();
    Check(natsConnection_Request(&reply, qc, "bench.req", payload.data(), size, 5000), "request");
    const double d = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    natsMsg_Destroy(reply);
    if (i >= 500) us.push_back(d);
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[static_cast<size_t>(p * (us.size() - 1))]; };
  std::printf("reqrep size=%d count=%ld p50_us=%.1f p99_us=%.1f\n", size, n, pct(0.50), pct(0.99));
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(qc);
  natsConnection_Destroy(rc);
  return 0;
}

int PortOf(const std::string& url) { return std::atoi(url.substr(url.rfind(':') + 1).c_str()); }

// Reads from `fd` until `needle` was seen (2 s bound unless told).
bool WaitFor(int fd, const char* needle,
             std::chrono::milliseconds bound = std::chrono::milliseconds(2000)) {
  std::string got;
  const auto deadline = Clock::now() + bound;
  char buf[4096];
  while (got.find(needle) == std::string::npos) {
    if (Clock::now() > deadline) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t r = recv(fd, buf, sizeof(buf), 0);
    if (r <= 0) return false;
    got.append(buf, static_cast<size_t>(r));
  }
  return true;
}

bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// A raw connection to the server of `url` that sent `hello` (which ends with PING) and got the
// PONG; -1 on failure.
int Dial(const std::string& url, std::string_view hello) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(PortOf(url)));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || !SendAll(fd, hello) ||
      !WaitFor(fd, "PONG\r\n")) {
    close(fd);
    return -1;
  }
  return fd;
}

int Idle(const Args& a) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  const long before = tandem::bench::RssKiB(a.pid);
  std::vector<int> fds;
  for (int i = 0; i < a.conns; ++i) {
    int fd = Dial(a.url, "CONNECT {\"verbose\":false}\r\nSUB idle.> 1\r\nPING\r\n");
    if (fd < 0) {
      std::fprintf(stderr, "core_bench: connection %d failed\n", i);
      return 1;
    }
    fds.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const long with = tandem::bench::RssKiB(a.pid);
  std::printf("idle conns=%d rss_idle_kib=%ld rss_conns_kib=%ld\n", a.conns, before, with);
  for (int fd : fds) close(fd);
  return 0;
}

int SubsClose(const Args& a) {
  const long n = a.count > 0 ? a.count : 1000000;
  const char hello[] = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n";
  const int subscriber = Dial(a.url, hello);
  const int probe = Dial(a.url, hello);
  if (subscriber < 0 || probe < 0) {
    std::fprintf(stderr, "core_bench: cannot connect to %s\n", a.url.c_str());
    return 1;
  }
  const long before = tandem::bench::RssKiB(a.pid);
  const auto start = Clock::now();
  std::string batch;
  for (long i = 0; i < n; ++i) {
    batch += "SUB s." + std::to_string(i) + " " + std::to_string(i) + "\r\n";
    if (batch.size() >= 256 * 1024 || i + 1 == n) {
      if (!SendAll(subscriber, batch)) return 1;
      batch.clear();
    }
  }
  const auto bound = std::chrono::milliseconds(120000);
  if (!SendAll(subscriber, "PING\r\n") || !WaitFor(subscriber, "PONG\r\n", bound)) return 1;
  const double subscribe_s = Seconds(Clock::now() - start);
  const long peak = tandem::bench::RssKiB(a.pid);
  close(subscriber);
  const auto closed = Clock::now();
  Clock::duration worst{};
  long pings = 0;
  while (Clock::now() - closed < std::chrono::milliseconds(a.window_ms)) {
    const auto t0 = Clock::now();
    if (!SendAll(probe, "PING\r\n") || !WaitFor(probe, "PONG\r\n", bound)) return 1;
    worst = std::max(worst, Clock::now() - t0);
    ++pings;
  }
  const long after = tandem::bench::RssKiB(a.pid);
  close(probe);
  std::printf(
      "subsclose subs=%ld subscribe_s=%.2f stall_ms=%.1f pings=%ld rss_before_kib=%ld "
      "rss_peak_kib=%ld rss_after_kib=%ld\n",
      n, subscribe_s, Seconds(worst) * 1000, pings, before, peak, after);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: core_bench pubsub|pub|reqrep|idle|subsclose|freeport [--url U] "
                 "[--count N] [--size B] [--pid P] [--conns N] [--window MS] [--ca FILE]\n");
    return 2;
  }
  a.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--url")
      a.url = v;
    else if (k == "--count")
      a.count = std::atol(v);
    else if (k == "--size")
      a.size = std::atoi(v);
    else if (k == "--pid")
      a.pid = std::atoi(v);
    else if (k == "--conns")
      a.conns = std::atoi(v);
    else if (k == "--window")
      a.window_ms = std::atol(v);
    else if (k == "--ca")
      g_ca = v;
    else {
      std::fprintf(stderr, "core_bench: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (a.mode == "freeport") {
    const int port = tandem::bench::FreeLoopbackPort();
    if (port < 0) return 1;
    std::printf("%d\n", port);
    return 0;
  }
  if (a.mode == "idle") return Idle(a);
  if (a.mode == "subsclose") return SubsClose(a);
  int rc = 2;
  if (a.mode == "pubsub") rc = PubSub(a);
  if (a.mode == "pub") rc = Pub(a);
  if (a.mode == "reqrep") rc = ReqRep(a);
  nats_Close();
  return rc;
}
