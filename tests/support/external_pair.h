// external_pair.h: a pair of tandem members ("a" and "b" of one group, on one store of their
// own) that are clients of an external NATS cluster, as the cluster tests use it: both get the
// same `nats.servers` (and any more YAML, e.g. partitioning), a 100 ms heartbeat and a 50 ms
// reconnect wait; Start() waits until a is active, b stands by for it and a has heard b through
// the cluster. StartLoad() adds the verifying streaming load of ft_harness.h on given nodes.
// Beside it, what the cluster tests share: a partition's configuration file and the settled
// load's figures.
//
// Ownership: owns its TempDir (the store and both logs), both members and the load. Thread
// safety: the test's thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "tests/support/ft_harness.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {

struct ExternalPairOptions {
  std::string servers;     // "nats://127.0.0.1:p1, nats://127.0.0.1:p2"
  std::string servers_b;   // b's list when it differs from a's ("": the same)
  std::string cluster_id = "ext-test";
  std::string group = "g";
  std::string extra_yaml;  // more top-level sections of both members
  bool http = false;       // each member serves monitoring on a port of its own (http_a, http_b)
};

class ExternalPair {
  const ExternalPairOptions options_;  // first: the members are made from it

 public:
  explicit ExternalPair(ExternalPairOptions options);
  // The defaults, on `servers` (b on `servers_b` when given).
  explicit ExternalPair(const std::string& servers, const std::string& servers_b = "")
      : ExternalPair(Defaults(servers, servers_b)) {}
  ExternalPair(const ExternalPair&) = delete;
  ExternalPair& operator=(const ExternalPair&) = delete;

  // a active, b standing by for it, each heard by the other; false at the first step that fails.
  bool Start(std::chrono::milliseconds timeout = std::chrono::milliseconds(15000));
  // A StanLoad on `url` (nodes of the cluster) at `rate` msgs/s, started and past 200 acks;
  // false with `error` set.
  bool StartLoad(const std::string& url, const std::string& channel, int rate, std::string* error);
  StanLoad& load() { return *load_; }

  int http_a = 0, http_b = 0;  // with ExternalPairOptions::http
  TempDir dir;
  FtMember a;
  FtMember b;

 private:
  static ExternalPairOptions Defaults(const std::string& servers, const std::string& servers_b) {
    ExternalPairOptions o;
    o.servers = servers;
    o.servers_b = servers_b;
    return o;
  }
  FtMemberOptions Member(const std::string& name);
  std::unique_ptr<StanLoad> load_;
};

// The configuration file <dir>/<name>.yaml of a partition without a group: cluster id
// `cluster_id`, store <dir>/<name>, a client of `url`, owning `channels` (the inside of a YAML
// flow mapping: "audit: {}, \"logs.*\": {}").
std::string PartitionConfig(const TempDir& dir, const std::string& cluster_id,
                            const std::string& name, const std::string& url,
                            const std::string& channels);

// Stops the load's publisher, settles it (bounded) and prints "<label>: published N, acked N,
// lost N"; the report.
LoadReport SettleAndReport(StanLoad& load, const char* label);

}  // namespace tandem::test
