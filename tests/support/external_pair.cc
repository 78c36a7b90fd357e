// external_pair.cc: a pair of members on an external NATS cluster (see external_pair.h).
#include "tests/support/external_pair.h"

#include <cstdio>

namespace tandem::test {

ExternalPair::ExternalPair(ExternalPairOptions options)
    : options_(std::move(options)), a(dir.path(), Member("a")), b(dir.path(), Member("b")) {}

FtMemberOptions ExternalPair::Member(const std::string& name) {
  FtMemberOptions o = MemberOptions(dir, name, FreePort());
  o.cluster_id = options_.cluster_id;
  o.group = options_.group;
  o.heartbeat_ms = 100;
  if (options_.http) {
    int& port = name == "a" ? http_a : http_b;
    port = FreePort();
    o.extra_args = {"--http", "127.0.0.1:" + std::to_string(port)};
  }
  const std::string& servers =
      name == "b" && !options_.servers_b.empty() ? options_.servers_b : options_.servers;
  o.extra_yaml =
      "nats:\n  servers: [" + servers + "]\n  reconnect_wait: 50ms\n" + options_.extra_yaml;
  return o;
}

bool ExternalPair::Start(std::chrono::milliseconds timeout) {
  return a.Start() && a.WaitActive(timeout) && b.Start() && b.WaitStandby(timeout) &&
         b.process().WaitForLog("standing by for active a", timeout) &&
         a.process().WaitForLog("standby b joined", timeout);
}

bool ExternalPair::StartLoad(const std::string& url, const std::string& channel, int rate,
                             std::string* error) {
  load_ = std::make_unique<StanLoad>(url, options_.cluster_id, channel, rate);
  if (!load_->Start(error)) return false;
  if (!AcksGrow(*load_, 200, std::chrono::milliseconds(10000))) {
    *error = "the load got no 200 acks within 10 s";
    return false;
  }
  return true;
}

std::string PartitionConfig(const TempDir& dir, const std::string& cluster_id,
                            const std::string& name, const std::string& url,
                            const std::string& channels) {
  return dir.WriteFile(name + ".yaml", "cluster_id: " + cluster_id + "\nstore: {dir: " +
                                           dir.Join(name) + "}\nnats: {servers: [\"" + url +
                                           "\"]}\nstreaming: {partitioning: true}\n"
                                           "limits: {channels: {" + channels + "}}\n");
}

LoadReport SettleAndReport(StanLoad& load, const char* label) {
  load.StopPublishing();
  LoadReport r = load.Settle(std::chrono::milliseconds(30000));
  std::printf("%s: published %llu, acked %llu, lost %llu\n", label,
              static_cast<unsigned long long>(r.published),
              static_cast<unsigned long long>(r.acked), static_cast<unsigned long long>(r.lost));
  return r;
}

}  // namespace tandem::test
