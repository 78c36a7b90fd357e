// soak: runs a tandem pair under a steady streaming load for a given time while a nemesis keeps
// injecting faults into the active, then checks tandem's two promises and prints a summary:
// no acknowledged message is lost, and there is never more than one active.
//
// The pair: members a and b run `tandem serve` in network namespaces of their own (made here,
// see soak_network.h), with one store directory, one ft.group, the peer link between them and
// a client link each to this process. The clients (soak_load.h) know both members' addresses.
// The role monitor (soak_roles.h) polls both members' /streaming/serverz every 50 ms. The
// nemesis (soak_nemesis.h) picks faults in seeded random order; the supervisor
// (soak_members.h) restarts members that exit or are killed, as systemd would.
//
// Summary lines start with "soak: " and keep this format, for scripts:
//   soak: minutes 10.0 seed 42 rate 300 msgs/s
//   soak: faults kill=9 stop=9 term=9 partition=9 disk=off (no --faultfs)
//   soak: messages acknowledged=180000 not_acknowledged=12 lost=0 stored=180010 ...
//   soak: pubacks_failed <count> "<libnats error text>"        (one line per text)
//   soak: consumers durable_missing=0 queue_missing=0 redelivered=311
//   soak: actives samples=24000 unanswered=90 same_epoch=0 max_overlap_ms=0.0 ...
//   soak: takeover kill      n=9 min=51.2 median=54.0 max=60.3 ms epoch_changes=9 (target ...)
//   soak: resume   stop      n=9 ...                            (one line per kind)
//   soak: exits 0=9 137=9                                       (exit status=count)
//   soak: check <name> ok|FAILED [(why)]                        (one line per check)
//   soak: result PASS|FAIL
//
// Exit status: 0 when every check holds, 1 when one fails, 2 for a bad command line, 77 when
// this machine cannot run it (network namespaces need root and iproute2).
//
// Usage: soak --tandem PATH [--minutes N] [--seed S] [--rate MSGS/S] [--faultfs PATH]
//             [--dir DIR] [--keep] [--fencing-window-ms MS]
// scripts/soak builds tandem and this program and runs it.
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/soak/soak_load.h"
#include "tests/soak/soak_members.h"
#include "tests/soak/soak_nemesis.h"
#include "tests/soak/soak_network.h"
#include "tests/soak/soak_roles.h"

#include <sys/stat.h>

namespace tandem::soak {
namespace {

constexpr int kClientPort = 4222;  // inside each member's namespace
constexpr int kHttpPort = 8222;
constexpr const char* kCluster = "soak";
constexpr const char* kChannel = "soak";
constexpr int kHeartbeatMs = 100;
constexpr int kMissed = 3;

std::atomic<bool> g_interrupted{false};

void OnSignal(int) { g_interrupted = true; }

struct Args {
  std::string tandem;
  double minutes = 1;
  uint64_t seed = 0;
  bool seed_given = false;
  int rate = 300;
  std::string faultfs;
  std::string dir;
  bool keep = false;
  int fencing_window_ms = 500;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "soak: %s\n"
               "usage: soak --tandem PATH [--minutes N] [--seed S] [--rate MSGS/S]\n"
               "            [--faultfs PATH] [--dir DIR] [--keep] [--fencing-window-ms MS]\n",
               why.c_str());
  std::exit(2);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage("missing value for " + k);
      return argv[++i];
    };
    auto number = [&](double lo) {
      std::string v = next();
      char* end = nullptr;
      double n = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(n >= lo))
        Usage(k + ": \"" + v + "\" is not a number >= " + std::to_string(static_cast<int>(lo)));
      return n;
    };
    if (k == "--tandem") {
      a.tandem = next();
    } else if (k == "--minutes") {
      a.minutes = number(0);
    } else if (k == "--seed") {
      a.seed = static_cast<uint64_t>(number(0));
      a.seed_given = true;
    } else if (k == "--rate") {
      a.rate = static_cast<int>(number(1));
    } else if (k == "--faultfs") {
      a.faultfs = next();
    } else if (k == "--dir") {
      a.dir = next();
    } else if (k == "--keep") {
      a.keep = true;
    } else if (k == "--fencing-window-ms") {
      a.fencing_window_ms = static_cast<int>(number(0));
    } else {
      Usage("unknown argument " + k);
    }
  }
  if (a.tandem.empty()) Usage("--tandem is required");
  if (access(a.tandem.c_str(), X_OK) != 0) Usage("--tandem: cannot run " + a.tandem);
  if (!a.faultfs.empty() && access(a.faultfs.c_str(), X_OK) != 0) {
    Usage("--faultfs: cannot run " + a.faultfs);
  }
  if (!a.seed_given) a.seed = static_cast<uint64_t>(NowUs()) % 1000000;
  return a;
}

std::string MemberConfig(const SoakNetwork& net, int m, const std::string& store) {
  std::string y;
  y += "listen: 0.0.0.0:" + std::to_string(kClientPort) + "\n";
  y += "http: " + net.ClientIp(m) + ":" + std::to_string(kHttpPort) + "\n";
  y += std::string("cluster_id: ") + kCluster + "\nlog_level: info\n";
  y += "store: {dir: " + store + ", sync: full}\n";
  y += "nats: {connect_urls: [" + net.ClientIp(0) + ":" + std::to_string(kClientPort) + ", " +
       net.ClientIp(1) + ":" + std::to_string(kClientPort) + "]}\n";
  y += std::string("ft: {group: soak, name: ") + (m == 0 ? "a" : "b") + ", peers: [" +
       net.PeerIp(0) + ":" + std::to_string(kClientPort) + ", " + net.PeerIp(1) + ":" +
       std::to_string(kClientPort) + "], heartbeat: " + std::to_string(kHeartbeatMs) +
       "ms, missed: " + std::to_string(kMissed) + "}\n";
  return y;
}

// Until one member is active and the other stands by, and PubAcks are flowing.
bool WaitHealthy(const RoleMonitor& roles, const SoakLoad& load, int timeout_ms) {
  int64_t deadline = NowUs() + int64_t{timeout_ms} * 1000;
  while (NowUs() < deadline) {
    if (roles.Healthy(300) && load.last_ack_us() > NowUs() - 1'000'000) return true;
    SleepMs(20);
  }
  return false;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

class Checks {
 public:
  void Add(const std::string& name, bool ok, const std::string& detail) {
    lines_.push_back("soak: check " + name + (ok ? " ok" : " FAILED") +
                     (detail.empty() ? "" : " (" + detail + ")"));
    all_ok_ = all_ok_ && ok;
  }
  void Print() const {
    for (const auto& l : lines_) std::printf("%s\n", l.c_str());
  }
  bool all_ok() const { return all_ok_; }

 private:
  std::vector<std::string> lines_;
  bool all_ok_ = true;
};

int Main(int argc, char** argv) {
  Args args = ParseArgs(argc, argv);
  setvbuf(stdout, nullptr, _IOLBF, 0);
  if (!CanCreateNamespaces()) {
    std::fprintf(stderr,
                 "soak: cannot run here: network namespaces need root and iproute2 (ip netns); "
                 "nothing was checked\n");
    return 77;
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);

  bool own_dir = args.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/tandem-soak-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Usage("cannot create a temporary directory");
    args.dir = tmpl;
  } else if (mkdir(args.dir.c_str(), 0755) != 0 && errno != EEXIST) {
    Usage("--dir: cannot create " + args.dir);
  }

  SoakNetwork net;
  if (!net.Create()) {
    std::fprintf(stderr, "soak: cannot set up the network: %s\n", net.error().c_str());
    return 1;
  }
  std::unique_ptr<FaultFs> disk;
  std::string store = args.dir + "/store";
  if (!args.faultfs.empty()) {
    disk = std::make_unique<FaultFs>(args.faultfs, args.dir + "/backing", args.dir + "/faultfs");
    std::string error;
    if (!disk->Mount(&error)) {
      std::fprintf(stderr, "soak: %s\n", error.c_str());
      return 1;
    }
    store = disk->mount() + "/store";
  }

  std::vector<MemberSpec> specs;
  for (int m = 0; m < 2; ++m) {
    std::string name = m == 0 ? "a" : "b";
    MemberSpec s{name, net.Ns(m), args.dir + "/" + name + ".yaml", args.dir + "/" + name + ".log"};
    std::ofstream(s.config_path) << MemberConfig(net, m, store);
    specs.push_back(s);
  }
  std::printf(
      "soak: %.1f minute(s), seed %llu, pair in namespaces %s and %s, store %s, logs in %s\n",
      args.minutes, static_cast<unsigned long long>(args.seed), net.Ns(0).c_str(),
      net.Ns(1).c_str(), store.c_str(), args.dir.c_str());

  Members members(args.tandem, specs, 200);
  RoleMonitor roles({net.ClientIp(0), net.ClientIp(1)}, kHttpPort, 50, 300);
  roles.Start();
  members.Start(0);
  int64_t deadline = NowUs() + 15'000'000;
  while (roles.Active(300) != 0 && NowUs() < deadline) SleepMs(10);
  members.Start(1);
  members.Supervise();
  std::string url = "nats://" + net.ClientIp(0) + ":" + std::to_string(kClientPort) + ",nats://" +
                    net.ClientIp(1) + ":" + std::to_string(kClientPort);
  SoakLoad load(url, kCluster, kChannel, args.rate);
  std::string error;
  if (!load.Start(&error)) {
    std::fprintf(stderr, "soak: %s (logs in %s)\n", error.c_str(), args.dir.c_str());
    return 1;
  }

  Nemesis nemesis(members, net, roles, load, disk.get(), args.seed);
  std::vector<FaultResult> results;
  std::vector<std::string> hangs;
  int64_t start = NowUs();
  int64_t end = start + static_cast<int64_t>(args.minutes * 60e6);
  while (NowUs() < end && !g_interrupted) {
    if (!WaitHealthy(roles, load, 30000)) {
      hangs.push_back("no active with a standby and flowing PubAcks for 30 s after fault " +
                      std::to_string(results.size()));
      break;
    }
    SleepMs(nemesis.RandomMs(500, 2000));
    if (NowUs() >= end || g_interrupted) break;
    int target = roles.Active(300);
    if (target < 0) continue;
    Fault kind = nemesis.Next();
    FaultResult r = nemesis.Inject(kind, target);
    results.push_back(r);
    std::printf("fault %3zu %-9s %s  %s %8.1f ms  epoch %llu -> %llu%s%s\n", results.size(),
                FaultName(kind), target == 0 ? "a" : "b",
                kind == Fault::kStop || kind == Fault::kPartition ? "resumed " : "takeover",
                r.resume_ms, static_cast<unsigned long long>(r.epoch_before),
                static_cast<unsigned long long>(r.epoch_after), r.detail.empty() ? "" : "  ",
                r.detail.c_str());
    if (!r.resumed) hangs.push_back(std::string("no PubAck within 20 s after ") + FaultName(kind));
  }
  double minutes = static_cast<double>(NowUs() - start) / 60e6;

  // The end: the pair settles, the clients catch up, the channel is read back from sequence 1.
  bool healthy_at_end = WaitHealthy(roles, load, 30000);
  bool settled = load.Settle(60000);
  uint64_t last_seq = 0;
  int active = roles.Active(500);
  if (active >= 0) {
    auto body = HttpGet(active == 0 ? net.ClientIp(0) : net.ClientIp(1), kHttpPort,
                        std::string("/streaming/channelsz?channel=") + kChannel, 2000);
    auto j = body ? nlohmann::json::parse(*body, nullptr, false) : nlohmann::json();
    if (j.is_object()) last_seq = j.value("last_seq", uint64_t{0});
  }
  LoadReport rep = load.ReadBack(last_seq, 60000);
  roles.Stop();
  RoleCheck rc = roles.Check();
  std::vector<ExitRecord> exits = members.exits();
  bool connection_lost = load.connection_lost();

  // ---- summary ----
  std::map<Fault, std::vector<const FaultResult*>> by_kind;
  for (const FaultResult& r : results) by_kind[r.kind].push_back(&r);
  std::printf("\nsoak: minutes %.1f seed %llu rate %d msgs/s\n", minutes,
              static_cast<unsigned long long>(args.seed), args.rate);
  std::string faults = "soak: faults";
  for (Fault f : kAllFaults) {
    faults += std::string(" ") + FaultName(f) + "=";
    faults += f == Fault::kDisk && !disk ? std::string("off (no --faultfs)")
                                         : std::to_string(by_kind[f].size());
  }
  std::printf("%s\n", faults.c_str());
  std::printf(
      "soak: messages acknowledged=%llu not_acknowledged=%llu lost=%llu stored=%llu "
      "stored_duplicates=%llu last_seq=%llu\n",
      static_cast<unsigned long long>(rep.acked), static_cast<unsigned long long>(rep.not_acked),
      static_cast<unsigned long long>(rep.lost), static_cast<unsigned long long>(rep.stored),
      static_cast<unsigned long long>(rep.stored_duplicates),
      static_cast<unsigned long long>(last_seq));
  for (const auto& [text, count] : rep.ack_errors) {
    std::printf("soak: pubacks_failed %llu \"%s\"\n", static_cast<unsigned long long>(count),
                text.c_str());
  }
  std::printf("soak: consumers durable_missing=%llu queue_missing=%llu redelivered=%llu\n",
              static_cast<unsigned long long>(rep.durable_missing),
              static_cast<unsigned long long>(rep.queue_missing),
              static_cast<unsigned long long>(rep.redelivered));
  std::printf(
      "soak: actives samples=%llu unanswered=%llu same_epoch=%zu max_overlap_ms=%.1f "
      "fencing_window_ms=%d activations=%d last_epoch=%llu\n",
      static_cast<unsigned long long>(rc.samples), static_cast<unsigned long long>(rc.unanswered),
      rc.same_epoch.size(), rc.max_overlap_ms, args.fencing_window_ms, rc.activations,
      static_cast<unsigned long long>(rc.max_epoch));
  std::vector<double> kill_times;
  for (Fault f : kAllFaults) {
    std::vector<double> t;
    int takeovers = 0;
    for (const FaultResult* r : by_kind[f]) {
      if (r->resumed) t.push_back(r->resume_ms);
      if (r->epoch_after > r->epoch_before) ++takeovers;
    }
    if (f == Fault::kKill) kill_times = t;
    const char* what = f == Fault::kStop || f == Fault::kPartition ? "resume  " : "takeover";
    if (t.empty()) {
      std::printf("soak: %s %-9s n=0\n", what, FaultName(f));
      continue;
    }
    std::printf("soak: %s %-9s n=%zu min=%.1f median=%.1f max=%.1f ms epoch_changes=%d%s\n", what,
                FaultName(f), t.size(), *std::min_element(t.begin(), t.end()), Percentile(t, 0.5),
                *std::max_element(t.begin(), t.end()), takeovers,
                f == Fault::kKill ? " (target median<=200 max<=500)" : "");
  }
  std::map<int, int> exit_counts;
  int bad_exits = 0;
  for (const ExitRecord& e : exits) {
    ++exit_counts[e.status];
    // 137 SIGKILL and 0 after SIGTERM come from the nemesis; 3 is tandem's own "stop without
    // another write" (a failed commit or a higher epoch heard). Anything else is a crash.
    if (e.status != 137 && e.status != 0 && e.status != 3) ++bad_exits;
  }
  std::string ex = "soak: exits";
  for (const auto& [status, count] : exit_counts) {
    ex += " " + std::to_string(status) + "=" + std::to_string(count);
  }
  std::printf("%s%s\n", ex.c_str(), exits.empty() ? " none" : "");

  Checks checks;
  checks.Add(
      "lost", rep.lost == 0 && rep.read_complete,
      rep.lost ? std::to_string(rep.lost) + " acknowledged, not in the channel:" + rep.lost_examples
      : !rep.read_complete
          ? "read back did not reach last_seq " + std::to_string(last_seq) + " " + rep.read_error
          : "");
  checks.Add("acknowledged", rep.acked > 0, "");
  checks.Add("consumers", rep.durable_missing == 0 && rep.queue_missing == 0,
             settled ? "" : "the consumers did not catch up within 60 s");
  checks.Add("one_active", rc.same_epoch.empty() && rc.max_overlap_ms <= args.fencing_window_ms,
             rc.same_epoch.empty()
                 ? ""
                 : "epoch " + std::to_string(rc.same_epoch.front()) + " active on both members");
  bool kill_ok =
      kill_times.empty() || (Percentile(kill_times, 0.5) <= 200 &&
                             *std::max_element(kill_times.begin(), kill_times.end()) <= 500);
  checks.Add("kill_takeover", kill_ok, "");
  std::string hang_text;
  for (const auto& h : hangs) hang_text += (hang_text.empty() ? "" : "; ") + h;
  if (!healthy_at_end)
    hang_text += (hang_text.empty() ? "" : "; ") + std::string("not healthy at the end");
  checks.Add("no_hang", hang_text.empty(), hang_text);
  checks.Add("exits", bad_exits == 0, bad_exits ? std::to_string(bad_exits) + " crash(es)" : "");
  checks.Add("clients", !connection_lost, connection_lost ? "a client's connection was lost" : "");
  checks.Add("interrupted", !g_interrupted, "");
  checks.Print();
  bool pass = checks.all_ok();
  std::printf("soak: result %s\n", pass ? "PASS" : "FAIL");

  members.StopAll();
  if (own_dir && pass && !args.keep) {
    disk.reset();
    std::system(("rm -rf '" + args.dir + "'").c_str());
  } else {
    std::printf("soak: logs and store kept in %s\n", args.dir.c_str());
  }
  return pass ? 0 : 1;
}

}  // namespace
}  // namespace tandem::soak

int main(int argc, char** argv) { return tandem::soak::Main(argc, argv); }
