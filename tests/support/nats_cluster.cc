// nats_cluster.cc: real nats-server processes joined by routes (see nats_cluster.h).
#include "tests/support/nats_cluster.h"

#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace tandem::test {

NatsCluster::NatsCluster(int nodes, std::string extra_conf, std::vector<int> extra_routes)
    : extra_routes_(extra_routes.size()) {
  nodes_.resize(static_cast<size_t>(nodes));
  for (auto& n : nodes_) {
    n.port = FreePort();
    n.cluster_port = FreePort();
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    std::ostringstream c;
    // Unique across clusters too: nats-server refuses a route to a server of the same name.
    c << "server_name: n" << i << "-" << nodes_[i].port << "\n"
      << "listen: 127.0.0.1:" << nodes_[i].port << "\n"
      << "cluster {\n  name: tandem-test\n  listen: 127.0.0.1:" << nodes_[i].cluster_port
      << "\n  routes: [";
    bool first = true;
    for (size_t j = 0; j < nodes_.size(); ++j) {
      if (j == i) continue;
      c << (first ? "" : ", ") << "nats-route://127.0.0.1:" << nodes_[j].cluster_port;
      first = false;
    }
    for (int port : extra_routes) {
      c << (first ? "" : ", ") << "nats-route://127.0.0.1:" << port;
      first = false;
    }
    c << "]\n}\n" << extra_conf << "\n";
    nodes_[i].config = dir_.WriteFile("n" + std::to_string(i) + ".conf", c.str());
  }
}

NatsCluster::~NatsCluster() = default;  // each TandemProcess kills and reaps its node

bool NatsCluster::StartNode(size_t i) {
  Node& n = nodes_[i];
  ++n.starts;
  n.process = std::make_unique<TandemProcess>(
      dir_.path(), "n" + std::to_string(i) + "-" + std::to_string(n.starts) + ".log");
  n.process->SetProgram(kNatsServerBin);
  return n.process->Start({"-c", n.config});
}

bool NatsCluster::WaitRoutes(size_t i, std::chrono::milliseconds timeout) {
  // nats-server logs "Route connection created" once per route (both ends log it).
  auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string needle = "Route connection created";
  while (std::chrono::steady_clock::now() < deadline) {
    std::string log = nodes_[i].process->Log();
    size_t count = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1))
      ++count;
    if (count + 1 >= nodes_.size() + extra_routes_) return true;
    if (!nodes_[i].process->Running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool NatsCluster::Start(std::chrono::milliseconds timeout) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!StartNode(i)) return false;
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].process->WaitForPort(nodes_[i].port, timeout)) return false;
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!WaitRoutes(i, timeout)) return false;
  }
  return true;
}

bool NatsCluster::Restart(size_t i) {
  return StartNode(i) && nodes_[i].process->WaitForPort(nodes_[i].port);
}

bool NatsCluster::Kill(size_t i) {
  TandemProcess& p = *nodes_[i].process;
  return p.Signal(SIGKILL) && p.WaitExit().has_value();
}

std::string NatsCluster::Url(size_t i, const std::string& scheme) const {
  return scheme + "://127.0.0.1:" + std::to_string(nodes_[i].port);
}

int NatsCluster::NodeOfPort(int port) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].port == port) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace tandem::test
