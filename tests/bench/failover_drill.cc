// failover_drill: measures what a failure of the active costs the clients of a tandem pair.
//
// It starts two tandem processes on one fresh store (a same-host pair: both configured with the
// same client port; only the active binds it), runs a verifying streaming load through the
// pair (numbered messages published asynchronously, a durable subscriber with manual acks and a
// durable queue group of two members), and in each round injects a fault into the active:
//
//   kill   SIGKILL
//   term   SIGTERM (graceful handover)
//   stop   SIGSTOP, then checks for --stop-ms that nobody takes over while the stopped active
//          still holds the lock, then SIGKILL (what the systemd watchdog does); the takeover
//          time is measured from the SIGKILL
//
// Takeover time is from the fault to the first PubAck that arrives after the publisher's
// connection to the old active dropped, i.e. the first one from the new active. The killed
// instance is restarted as the new standby before the next round. At the end every message that
// was acknowledged must have reached the durable subscriber and the queue group: a missing one
// is "lost" and makes the exit status 1. Messages delivered more than once (redeliveries after
// a takeover) are counted as duplicates; they are allowed. Messages whose first delivery to the
// durable subscriber came more than a second after publishing are "late": they waited for a
// redelivery (the subscribers' AckWait is 2 s here).
//
// With --tls and/or --auth the pair is secured (tests/bench/drill_secure.h): TLS required with
// client certificates verified and the peer link over TLS; users with bcrypt passwords and
// permissions, the pair's own login under `ft:`; the drill's clients use TLS and log in.
//
// Usage: failover_drill --tandem PATH [--rounds N] [--fault kill|term|stop] [--rate MSGS/S]
//                       [--heartbeat-ms MS] [--reconnect-wait-ms MS] [--dir DIR] [--keep]
//                       [--port P] [--stop-ms MS] [--warm-ms MS] [--tls] [--auth]
// scripts/failover-drill builds tandem and this program and runs it.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#define NATS_HAS_STREAMING 1  // Debian's libnats is built with the STAN API
#include <nats/nats.h>

#include "tests/bench/bench_util.h"
#include "tests/bench/drill_secure.h"

namespace {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SleepMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

struct Args {
  std::string tandem;
  int rounds = 5;
  std::string fault = "kill";
  int rate = 500;
  int heartbeat_ms = 100;
  int reconnect_wait_ms = 50;
  int stop_ms = 1000;
  int warm_ms = 300;
  int port = 0;
  std::string dir;
  bool keep = false;
  tandem::bench::DrillSecurity secure;  // --tls, --auth
  // An external NATS cluster ("nats://h:p,..."): both members are its clients (nats.servers),
  // and so is the load; empty: the members' embedded core on --port.
  std::string nats_server;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "failover_drill: %s\n"
               "usage: failover_drill --tandem PATH [--rounds N] [--fault kill|term|stop]\n"
               "       [--rate MSGS/S] [--heartbeat-ms MS] [--reconnect-wait-ms MS]\n"
               "       [--stop-ms MS] [--warm-ms MS] [--port P] [--dir DIR] [--keep]\n"
               "       [--tls] [--auth] [--nats-server URL[,URL...]]\n",
               why);
  std::exit(2);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value for " + k).c_str());
      return argv[++i];
    };
    auto num = [&]() {
      std::string v = next();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 0) Usage((k + ": not a number: " + v).c_str());
      return static_cast<int>(n);
    };
    if (k == "--tandem") a.tandem = next();
    else if (k == "--rounds") a.rounds = num();
    else if (k == "--fault") a.fault = next();
    else if (k == "--rate") a.rate = num();
    else if (k == "--heartbeat-ms") a.heartbeat_ms = num();
    else if (k == "--reconnect-wait-ms") a.reconnect_wait_ms = num();
    else if (k == "--stop-ms") a.stop_ms = num();
    else if (k == "--warm-ms") a.warm_ms = num();
    else if (k == "--port") a.port = num();
    else if (k == "--dir") a.dir = next();
    else if (k == "--keep") a.keep = true;
    else if (k == "--tls") a.secure.tls = true;
    else if (k == "--auth") a.secure.auth = true;
    else if (k == "--nats-server") a.nats_server = next();
    else Usage(("unknown argument " + k).c_str());
  }
  if (a.tandem.empty()) Usage("--tandem is required");
  if (a.fault != "kill" && a.fault != "term" && a.fault != "stop") Usage("bad --fault");
  if (a.rounds < 1 || a.rate < 1) Usage("--rounds and --rate must be positive");
  return a;
}

// ---- instances -----------------------------------------------------------------------------

struct Instance {
  std::string name;
  std::string config;
  std::string log;
  pid_t pid = -1;
  size_t log_from = 0;  // where this run's lines start
};

size_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

void Spawn(const Args& args, Instance& in) {
  in.log_from = FileSize(in.log);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(in.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    execl(args.tandem.c_str(), "tandem", "serve", "-c", in.config.c_str(), nullptr);
    _exit(127);
  }
  in.pid = pid;
}

// Waits for `needle` in this run's log; false after `timeout_ms` or when the process exits.
bool WaitLog(Instance& in, const std::string& needle, int timeout_ms) {
  int64_t deadline = NowUs() + int64_t{timeout_ms} * 1000;
  while (NowUs() < deadline) {
    std::ifstream f(in.log);
    f.seekg(static_cast<std::streamoff>(in.log_from));
    std::stringstream ss;
    ss << f.rdbuf();
    if (ss.str().find(needle) != std::string::npos) return true;
    int status;
    if (in.pid > 0 && waitpid(in.pid, &status, WNOHANG) == in.pid) {
      in.pid = -1;
      return false;
    }
    SleepMs(5);
  }
  return false;
}

bool LogHas(const Instance& in, const std::string& needle) {
  std::ifstream f(in.log);
  f.seekg(static_cast<std::streamoff>(in.log_from));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str().find(needle) != std::string::npos;
}

int Reap(Instance& in, int timeout_ms) {
  int64_t deadline = NowUs() + int64_t{timeout_ms} * 1000;
  while (in.pid > 0) {
    int status;
    if (waitpid(in.pid, &status, WNOHANG) == in.pid) {
      in.pid = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (NowUs() > deadline) {
      kill(in.pid, SIGKILL);
      deadline = NowUs() + 5'000'000;
    }
    SleepMs(1);
  }
  return -1;
}

// ---- the load ------------------------------------------------------------------------------

struct Load {
  std::mutex mu;
  std::vector<int> round_of;        // by message number
  std::vector<uint8_t> acked;       // 0 pending, 1 acked, 2 ack error
  std::vector<uint16_t> durable;    // deliveries to the durable subscriber
  std::vector<uint16_t> queue;      // deliveries to the queue group
  std::vector<int64_t> published_us;   // when Publish was called
  std::vector<int64_t> delivered_us;   // first delivery to the durable subscriber, 0 until then
  int current_round = 0;
  int publish_errors = 0;
  std::map<std::string, int> ack_errors;  // error text -> count

  std::atomic<int64_t> fault_us{0};
  std::atomic<bool> disconnected_after_fault{false};
  // On an external cluster the publisher never disconnects: the first ack after a fault is
  // the first of a message published after it (only the new active can send that one).
  bool external = false;
  std::atomic<int64_t> first_ack_us{0};
  std::atomic<bool> stop{false};
};

Load* g_load = nullptr;

void AckCb(const char*, const char* error, void* closure) {
  auto n = static_cast<size_t>(reinterpret_cast<uintptr_t>(closure));
  int64_t now = NowUs();
  bool after_fault = false;
  int64_t fault = g_load->fault_us.load();
  {
    std::lock_guard<std::mutex> lock(g_load->mu);
    if (n < g_load->acked.size()) g_load->acked[n] = error == nullptr ? 1 : 2;
    if (error != nullptr) ++g_load->ack_errors[error];
    after_fault = g_load->external ? fault != 0 && n < g_load->published_us.size() &&
                                         g_load->published_us[n] > fault
                                   : g_load->disconnected_after_fault.load();
  }
  if (error == nullptr && fault != 0 && after_fault && g_load->first_ack_us.load() == 0) {
    int64_t zero = 0;
    g_load->first_ack_us.compare_exchange_strong(zero, now);
  }
}

void PubDisconnectedCb(natsConnection*, void*) {
  if (g_load->fault_us.load() != 0) g_load->disconnected_after_fault = true;
}

size_t ParseNumber(stanMsg* msg) {
  const char* d = stanMsg_GetData(msg);
  int len = stanMsg_GetDataLength(msg);
  size_t n = 0;
  for (int i = 1; i < len && d[i] >= '0' && d[i] <= '9'; ++i) n = n * 10 + (d[i] - '0');
  return n;
}

void DurableCb(stanConnection*, stanSubscription* sub, const char*, stanMsg* msg, void*) {
  size_t n = ParseNumber(msg);
  {
    std::lock_guard<std::mutex> lock(g_load->mu);
    if (n < g_load->durable.size()) {
      if (g_load->durable[n]++ == 0) g_load->delivered_us[n] = NowUs();
    }
  }
  stanSubscription_AckMsg(sub, msg);
  stanMsg_Destroy(msg);
}

void QueueCb(stanConnection*, stanSubscription* sub, const char*, stanMsg* msg, void*) {
  size_t n = ParseNumber(msg);
  {
    std::lock_guard<std::mutex> lock(g_load->mu);
    if (n < g_load->queue.size()) ++g_load->queue[n];
  }
  stanSubscription_AckMsg(sub, msg);
  stanMsg_Destroy(msg);
}

constexpr const char* kCluster = "drill-cluster";
constexpr int64_t kLateUs = 1'000'000;  // a first delivery later than this waited for a redelivery
constexpr const char* kChannel = "drill";

stanConnection* Connect(const Args& args, const std::string& url, const char* client_id,
                        natsConnectionHandler disconnected) {
  natsOptions* nopts = nullptr;
  natsOptions_Create(&nopts);
  std::vector<std::string> urls;  // "nats://h:p" or several separated by commas
  for (size_t from = 0; from <= url.size();) {
    size_t comma = std::min(url.find(',', from), url.size());
    urls.push_back(url.substr(from, comma - from));
    from = comma + 1;
  }
  std::vector<const char*> c_urls;
  for (const auto& u : urls) c_urls.push_back(u.c_str());
  natsOptions_SetServers(nopts, c_urls.data(), static_cast<int>(c_urls.size()));
  args.secure.ApplyClient(nopts);
  natsOptions_SetMaxReconnect(nopts, -1);
  natsOptions_SetReconnectWait(nopts, args.reconnect_wait_ms);
  natsOptions_SetReconnectJitter(nopts, 0, 0);
  natsOptions_SetReconnectBufSize(nopts, 64 * 1024 * 1024);
  if (disconnected) natsOptions_SetDisconnectedCB(nopts, disconnected, nullptr);
  stanConnOptions* sopts = nullptr;
  stanConnOptions_Create(&sopts);
  stanConnOptions_SetNATSOptions(sopts, nopts);
  stanConnOptions_SetPubAckWait(sopts, 5000);
  stanConnOptions_SetConnectionWait(sopts, 2000);
  stanConnOptions_SetMaxPubAcksInflight(sopts, 4096, 0.5f);
  stanConnOptions_SetPings(sopts, 1, 30);
  stanConnection* sc = nullptr;
  natsStatus s = NATS_ERR;
  for (int i = 0; i < 100 && s != NATS_OK; ++i) {
    s = stanConnection_Connect(&sc, kCluster, client_id, sopts);
    if (s != NATS_OK) SleepMs(50);
  }
  stanConnOptions_Destroy(sopts);
  natsOptions_Destroy(nopts);
  if (s != NATS_OK) {
    std::fprintf(stderr, "failover_drill: cannot connect %s: %s\n", client_id,
                 natsStatus_GetText(s));
    return nullptr;
  }
  return sc;
}

stanSubscription* Subscribe(stanConnection* sc, const char* queue, const char* durable,
                            stanMsgHandler cb) {
  stanSubOptions* o = nullptr;
  stanSubOptions_Create(&o);
  stanSubOptions_SetDurableName(o, durable);
  stanSubOptions_SetManualAckMode(o, true);
  stanSubOptions_DeliverAllAvailable(o);
  stanSubOptions_SetMaxInflight(o, 1024);
  stanSubOptions_SetAckWait(o, 2000);  // short: a redelivery after a takeover comes soon
  stanSubscription* sub = nullptr;
  natsStatus s = queue ? stanConnection_QueueSubscribe(&sub, sc, kChannel, queue, cb, nullptr, o)
                       : stanConnection_Subscribe(&sub, sc, kChannel, cb, nullptr, o);
  stanSubOptions_Destroy(o);
  if (s != NATS_OK) {
    std::fprintf(stderr, "failover_drill: subscribe failed: %s\n", natsStatus_GetText(s));
    return nullptr;
  }
  return sub;
}

void Publisher(stanConnection* sc, int rate) {
  int64_t start = NowUs();
  uint64_t sent = 0;
  char buf[32];
  while (!g_load->stop) {
    size_t n;
    {
      std::lock_guard<std::mutex> lock(g_load->mu);
      n = g_load->round_of.size();
      g_load->round_of.push_back(g_load->current_round);
      g_load->acked.push_back(0);
      g_load->durable.push_back(0);
      g_load->queue.push_back(0);
      g_load->published_us.push_back(NowUs());
      g_load->delivered_us.push_back(0);
    }
    int len = std::snprintf(buf, sizeof(buf), "n%zu", n);
    natsStatus s = stanConnection_PublishAsync(sc, kChannel, buf, len, AckCb,
                                               reinterpret_cast<void*>(static_cast<uintptr_t>(n)));
    if (s != NATS_OK) {
      std::lock_guard<std::mutex> lock(g_load->mu);
      g_load->acked[n] = 2;
      ++g_load->publish_errors;
      ++g_load->ack_errors[std::string("publish call: ") + natsStatus_GetText(s)];
    }
    ++sent;
    int64_t due = start + static_cast<int64_t>(sent * 1'000'000 / static_cast<uint64_t>(rate));
    int64_t wait = due - NowUs();
    if (wait > 0) std::this_thread::sleep_for(std::chrono::microseconds(wait));
  }
}

// ---- rounds and the report -----------------------------------------------------------------

struct RoundResult {
  bool ok = false;
  double takeover_ms = 0;
  uint64_t acked = 0, lost = 0, dups = 0;
  uint64_t late = 0;        // acknowledged, first delivered more than kLateUs after publishing
  double max_delay_ms = 0;  // worst publish -> first delivery to the durable subscriber
  std::string note;
};

std::string WriteConfig(const Args& args, const std::string& name, int port) {
  std::string path = args.dir + "/" + name + ".yaml";
  std::ofstream f(path);
  f << "listen: 127.0.0.1:" << port << "\n"
    << "cluster_id: " << kCluster << "\n"
    << "log_level: info\n"
    << "store:\n  dir: " << args.dir << "/store\n"
    << "ft:\n  group: drill\n  name: " << name << "\n"
    << "  peers: [127.0.0.1:" << port << "]\n"
    << "  heartbeat: " << args.heartbeat_ms << "ms\n"
    << "  missed: 3\n"
    << args.secure.FtYaml() << args.secure.ServerYaml();
  if (!args.nats_server.empty()) {
    f << "nats:\n  servers: \"" << args.nats_server << "\"\n  reconnect_wait: "
      << args.reconnect_wait_ms << "ms\n";
  }
  return path;
}

constexpr const char* kActiveLine = "role activating -> active";
// On an external cluster a standby must also have heard the active (it then waits on the
// active's lock): the round starts only then.
const char* kStandbyLine = "standing by";

RoundResult RunRound(const Args& args, int round, Instance& active, Instance& standby) {
  RoundResult r;
  SleepMs(args.warm_ms);
  g_load->first_ack_us = 0;
  g_load->disconnected_after_fault = false;
  int64_t fault = NowUs();
  if (args.fault == "stop") {
    kill(active.pid, SIGSTOP);
    SleepMs(args.stop_ms);
    if (LogHas(standby, kActiveLine)) {
      r.note = "takeover while the active was stopped";
      kill(active.pid, SIGKILL);
      Reap(active, 5000);
      return r;
    }
    fault = NowUs();
  }
  // Armed before the fault so that the publisher's disconnect is never missed.
  g_load->fault_us = fault;
  kill(active.pid, args.fault == "term" ? SIGTERM : SIGKILL);
  int64_t deadline = fault + 10'000'000;
  while (g_load->first_ack_us.load() == 0 && NowUs() < deadline) SleepMs(1);
  int64_t first = g_load->first_ack_us.load();
  g_load->fault_us = 0;
  int code = Reap(active, 10000);
  if (first == 0) {
    r.note = "no PubAck from a new active within 10 s";
    return r;
  }
  r.takeover_ms = static_cast<double>(first - fault) / 1000.0;
  if (args.fault == "term" && code != 0) {
    r.note = "old active exited with " + std::to_string(code);
    return r;
  }
  if (!WaitLog(standby, kActiveLine, 5000)) {
    r.note = standby.name + " did not log its activation";
    return r;
  }
  // The old active comes back as the new standby.
  Spawn(args, active);
  if (!WaitLog(active, kStandbyLine, 10000)) {
    r.note = active.name + " did not come back as a standby";
    return r;
  }
  {
    std::lock_guard<std::mutex> lock(g_load->mu);
    g_load->current_round = round + 1;
  }
  r.ok = true;
  return r;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  Args args = ParseArgs(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  bool own_dir = args.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/tandem-drill-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Usage("cannot create a temporary directory");
    args.dir = tmpl;
  } else if (mkdir(args.dir.c_str(), 0755) != 0 && errno != EEXIST) {
    Usage(("cannot create " + args.dir).c_str());
  }
  if (args.port == 0) args.port = tandem::bench::FreeLoopbackPort();
  std::string setup_error;
  if (!args.secure.Prepare(args.dir, &setup_error)) {
    std::fprintf(stderr, "failover_drill: %s\n", setup_error.c_str());
    return 1;
  }
  std::string url = args.secure.Url(args.port);
  std::string shown_url = "nats://127.0.0.1:" + std::to_string(args.port);
  if (!args.nats_server.empty()) {
    url = shown_url = args.nats_server;
    kStandbyLine = "standing by for active";
  }

  Instance a{"a", WriteConfig(args, "a", args.port), args.dir + "/a.log"};
  Instance b{"b", WriteConfig(args, "b", args.port), args.dir + "/b.log"};
  std::printf("failover drill: %d round(s) of %s, pair on %s, store %s/store\n", args.rounds,
              args.fault.c_str(), shown_url.c_str(), args.dir.c_str());
  std::printf("  security: %s\n", args.secure.Describe().c_str());
  std::printf("  load %d msg/s, heartbeat %d ms, client reconnect wait %d ms\n", args.rate,
              args.heartbeat_ms, args.reconnect_wait_ms);
  std::fflush(stdout);

  Spawn(args, a);
  if (!WaitLog(a, kActiveLine, 10000)) {
    std::fprintf(stderr, "failover_drill: a did not become active (log: %s)\n", a.log.c_str());
    return 1;
  }
  Spawn(args, b);
  if (!WaitLog(b, kStandbyLine, 10000)) {
    std::fprintf(stderr, "failover_drill: b did not stand by (log: %s)\n", b.log.c_str());
    return 1;
  }

  Load load;
  load.external = !args.nats_server.empty();
  g_load = &load;
  stanConnection* sub_conn = Connect(args, url, "drill-sub", nullptr);
  stanConnection* q_conn = Connect(args, url, "drill-queue", nullptr);
  stanConnection* pub_conn = Connect(args, url, "drill-pub", PubDisconnectedCb);
  if (!sub_conn || !q_conn || !pub_conn) {
    for (Instance* in : {&a, &b}) {  // no member is left running
      kill(in->pid, SIGKILL);
      Reap(*in, 5000);
    }
    return 1;
  }
  stanSubscription* dsub = Subscribe(sub_conn, nullptr, "drill-durable", DurableCb);
  stanSubscription* q1 = Subscribe(q_conn, "drill-group", "drill-qd", QueueCb);
  stanSubscription* q2 = Subscribe(q_conn, "drill-group", "drill-qd", QueueCb);
  if (!dsub || !q1 || !q2) return 1;
  std::thread publisher(Publisher, pub_conn, args.rate);

  std::vector<RoundResult> results;
  Instance* active = &a;
  Instance* standby = &b;
  for (int round = 0; round < args.rounds; ++round) {
    RoundResult r = RunRound(args, round, *active, *standby);
    results.push_back(r);
    if (!r.ok) {
      std::printf("round %2d/%d  %-4s  FAILED: %s\n", round + 1, args.rounds, args.fault.c_str(),
                  r.note.c_str());
      std::fflush(stdout);
      break;
    }
    std::printf("round %2d/%d  %-4s  takeover %7.1f ms   (%s -> %s)\n", round + 1, args.rounds,
                args.fault.c_str(), r.takeover_ms, active->name.c_str(), standby->name.c_str());
    std::fflush(stdout);
    std::swap(active, standby);
  }
  SleepMs(args.warm_ms);
  load.stop = true;
  publisher.join();

  // Wait for every ack to resolve, then for every acknowledged message to be delivered.
  auto settled = [&](bool deliveries) {
    std::lock_guard<std::mutex> lock(load.mu);
    for (size_t n = 0; n < load.acked.size(); ++n) {
      if (load.acked[n] == 0) return false;
      if (deliveries && load.acked[n] == 1 && (load.durable[n] == 0 || load.queue[n] == 0)) {
        return false;
      }
    }
    return true;
  };
  for (int i = 0; i < 1500 && !settled(false); ++i) SleepMs(10);
  for (int i = 0; i < 1500 && !settled(true); ++i) SleepMs(10);

  uint64_t total_acked = 0, total_lost = 0, total_dups = 0, unacked = 0, total_late = 0;
  double max_delay_ms = 0;
  {
    std::lock_guard<std::mutex> lock(load.mu);
    for (size_t n = 0; n < load.acked.size(); ++n) {
      int round = std::min<int>(load.round_of[n], static_cast<int>(results.size()) - 1);
      RoundResult& r = results[static_cast<size_t>(round)];
      uint64_t dups = (load.durable[n] > 1 ? load.durable[n] - 1u : 0u) +
                      (load.queue[n] > 1 ? load.queue[n] - 1u : 0u);
      r.dups += dups;
      if (load.acked[n] == 1 && load.delivered_us[n] != 0) {
        double delay = static_cast<double>(load.delivered_us[n] - load.published_us[n]) / 1000.0;
        r.max_delay_ms = std::max(r.max_delay_ms, delay);
        max_delay_ms = std::max(max_delay_ms, delay);
        if (delay * 1000 > kLateUs) {
          ++r.late;
          ++total_late;
        }
      }
      total_dups += dups;
      if (load.acked[n] != 1) {
        ++unacked;
        continue;
      }
      ++r.acked;
      ++total_acked;
      if (load.durable[n] == 0 || load.queue[n] == 0) {
        ++r.lost;
        ++total_lost;
        if (total_lost <= 10) {
          std::printf("  LOST message n%zu (round %d): durable %u, queue %u deliveries\n", n,
                      round + 1, load.durable[n], load.queue[n]);
        }
      }
    }
  }

  std::printf("\n%-7s %-5s %12s %10s %6s %6s %6s %14s\n", "round", "fault", "takeover ms",
              "acked", "lost", "dups", "late", "max delay ms");
  std::vector<double> times;
  bool all_ok = true;
  for (size_t i = 0; i < results.size(); ++i) {
    const RoundResult& r = results[i];
    if (r.ok) {
      times.push_back(r.takeover_ms);
      std::printf("%-7zu %-5s %12.1f %10llu %6llu %6llu %6llu %14.1f\n", i + 1,
                  args.fault.c_str(), r.takeover_ms, static_cast<unsigned long long>(r.acked),
                  static_cast<unsigned long long>(r.lost), static_cast<unsigned long long>(r.dups),
                  static_cast<unsigned long long>(r.late), r.max_delay_ms);
    } else {
      all_ok = false;
      std::printf("%-7zu %-5s %12s %10llu %6llu %6llu  %s\n", i + 1, args.fault.c_str(), "FAILED",
                  static_cast<unsigned long long>(r.acked),
                  static_cast<unsigned long long>(r.lost), static_cast<unsigned long long>(r.dups),
                  r.note.c_str());
    }
  }
  if (!times.empty()) {
    std::printf("\ntakeover (%s, %zu rounds): min %.1f ms  median %.1f ms  max %.1f ms\n",
                args.fault.c_str(), times.size(), *std::min_element(times.begin(), times.end()),
                Percentile(times, 0.5), *std::max_element(times.begin(), times.end()));
  }
  std::printf("delivery to the durable subscriber: %llu message(s) later than %lld ms after "
              "publishing (they waited for a redelivery), worst %.1f ms\n",
              static_cast<unsigned long long>(total_late), static_cast<long long>(kLateUs / 1000),
              max_delay_ms);
  std::printf("messages: %llu acknowledged, %llu LOST, %llu duplicates redelivered, "
              "%llu not acknowledged (see below; a publisher retries those)\n",
              static_cast<unsigned long long>(total_acked),
              static_cast<unsigned long long>(total_lost),
              static_cast<unsigned long long>(total_dups),
              static_cast<unsigned long long>(unacked));
  {
    std::lock_guard<std::mutex> lock(load.mu);
    if (load.publish_errors > 0) std::printf("  publish calls that failed: %d\n", load.publish_errors);
    for (const auto& [text, count] : load.ack_errors) {
      std::printf("  PubAck errors \"%s\": %d\n", text.c_str(), count);
    }
  }
  bool pass = all_ok && total_lost == 0 && static_cast<int>(times.size()) == args.rounds;
  for (const Instance* in : {&a, &b}) {
    std::ifstream f(in->log);
    std::stringstream ss;
    ss << f.rdbuf();
    if (args.secure.SecretIn(ss.str()) != nullptr) {
      std::printf("  a password appears in %s\n", in->log.c_str());
      pass = false;
    }
  }
  std::printf("result: %s\n", pass ? "PASS" : "FAIL");
  std::fflush(stdout);

  stanSubscription_Destroy(dsub);
  stanSubscription_Destroy(q1);
  stanSubscription_Destroy(q2);
  stanConnection_Destroy(pub_conn);
  stanConnection_Destroy(sub_conn);
  stanConnection_Destroy(q_conn);
  for (Instance* in : {&a, &b}) {
    if (in->pid > 0) {
      kill(in->pid, SIGTERM);
      Reap(*in, 5000);
    }
  }
  if (own_dir && !args.keep && pass) {
    std::string cmd = "rm -rf '" + args.dir + "'";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", args.dir.c_str());
  } else {
    std::printf("logs and store kept in %s\n", args.dir.c_str());
  }
  return pass ? 0 : 1;
}
