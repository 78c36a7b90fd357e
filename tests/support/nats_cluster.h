// nats_cluster.h: a cluster of real nats-server processes (Debian's nats-server) on loopback
// ports, joined by routes, for the tests of tandem on an external cluster. Each node gets a
// generated config in the cluster's TempDir (client port, cluster port, a route to every other
// node and to any extra route port given, and an optional extra block such as authorization or
// tls), runs as a TandemProcess running nats-server, and logs to <dir>/<node>.log. Every node of
// every NatsCluster has the cluster name "tandem-test", so a node given the cluster ports of
// two separate clusters as extra routes joins them into one (the others learn of each other
// through the route gossip).
//
// Ownership: NatsCluster owns its TempDir and its processes; the destructor kills them (SIGKILL
// and reap, as TandemProcess does). Thread safety: one thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {

inline constexpr const char* kNatsServerBin = "/usr/sbin/nats-server";

class NatsCluster {
 public:
  // `extra_conf` goes into every node's config as is (nats-server syntax), e.g.
  // "authorization { user: a, password: b }".
  // `extra_routes`: cluster ports of nodes outside this cluster to route to as well.
  explicit NatsCluster(int nodes, std::string extra_conf = "", std::vector<int> extra_routes = {});
  ~NatsCluster();
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  // Starts every node and waits (bounded) until each accepts clients and has a route to every
  // other node and to every extra route. False at the first step that fails.
  bool Start(std::chrono::milliseconds timeout = std::chrono::milliseconds(15000));
  // Starts node i again after a kill (same ports and config).
  bool Restart(size_t i);
  // kill -9 of node i, reaped.
  bool Kill(size_t i);
  // "nats://127.0.0.1:<port>" of node i (tls:// when `scheme` says so).
  std::string Url(size_t i, const std::string& scheme = "nats") const;
  // The client port of node i, and the node whose client port is `port` (-1 when none).
  int port(size_t i) const { return nodes_[i].port; }
  int cluster_port(size_t i) const { return nodes_[i].cluster_port; }
  int NodeOfPort(int port) const;
  size_t size() const { return nodes_.size(); }
  TandemProcess& process(size_t i) { return *nodes_[i].process; }
  const TempDir& dir() const { return dir_; }

 private:
  struct Node {
    int port = 0, cluster_port = 0;
    std::string config;
    std::unique_ptr<TandemProcess> process;
    int starts = 0;
  };
  bool StartNode(size_t i);
  bool WaitRoutes(size_t i, std::chrono::milliseconds timeout);

  TempDir dir_;
  std::vector<Node> nodes_;
  size_t extra_routes_ = 0;
};

}  // namespace tandem::test
