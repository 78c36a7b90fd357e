// http_admission.cc: the connection table of the monitoring HTTP server and its victim choice
// (see http_admission.h for the policy).
#include "server/monitor/http_admission.h"

#include <cstring>
#include <tuple>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace tandem::server {

HttpAdmission::HttpAdmission(size_t max_connections, size_t max_per_peer)
    : max_connections_(max_connections < 1 ? 1 : max_connections), max_per_peer_(max_per_peer) {}

HttpAdmission::Decision HttpAdmission::Admit(const std::string& peer) const {
  Decision d;
  if (max_per_peer_ > 0 && peer_count(peer) >= max_per_peer_) {
    d.limit = Limit::kPeer;
    d.evict = Victim(&peer);
  } else if (conns_.size() >= max_connections_) {
    d.limit = Limit::kGlobal;
    d.evict = Victim(nullptr);
  } else {
    return d;
  }
  d.admit = d.evict.has_value();
  return d;
}

std::optional<uint64_t> HttpAdmission::Victim(const std::string* peer) const {
  // Lowest (rank, since, id) wins: requests before idle ones, then the longest in that phase.
  std::optional<uint64_t> best;
  std::tuple<int, uint64_t, uint64_t> best_key;
  for (const auto& [id, e] : conns_) {
    if (e.phase == Phase::kClosing) continue;
    if (peer != nullptr && e.peer != *peer) continue;
    std::tuple<int, uint64_t, uint64_t> key{e.phase == Phase::kRequest ? 0 : 1, e.since_ms, id};
    if (!best || key < best_key) {
      best = id;
      best_key = key;
    }
  }
  return best;
}

void HttpAdmission::Add(uint64_t id, std::string peer, uint64_t now_ms) {
  ++per_peer_[peer];
  conns_[id] = Entry{std::move(peer), Phase::kRequest, now_ms};
}

void HttpAdmission::SetPhase(uint64_t id, Phase phase, uint64_t now_ms) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.phase == phase) return;
  it->second.phase = phase;
  it->second.since_ms = now_ms;
}

void HttpAdmission::Remove(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  auto p = per_peer_.find(it->second.peer);
  if (p != per_peer_.end() && --p->second == 0) per_peer_.erase(p);
  conns_.erase(it);
}

size_t HttpAdmission::peer_count(const std::string& peer) const {
  auto it = per_peer_.find(peer);
  return it == per_peer_.end() ? 0 : it->second;
}

std::string HttpAdmission::PeerKey(const sockaddr* addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr != nullptr && addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)) != nullptr) return text;
  } else if (addr != nullptr && addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      in_addr v4;
      std::memcpy(&v4, in6->sin6_addr.s6_addr + 12, sizeof(v4));
      if (inet_ntop(AF_INET, &v4, text, sizeof(text)) != nullptr) return text;
    } else {
      in6_addr prefix{};
      std::memcpy(prefix.s6_addr, in6->sin6_addr.s6_addr, 8);  // the /64
      if (inet_ntop(AF_INET6, &prefix, text, sizeof(text)) != nullptr) {
        return std::string(text) + "/64";
      }
    }
  }
  return "unknown";
}

}  // namespace tandem::server
