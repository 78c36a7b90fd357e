// http_admission.h: which connections the monitoring HTTP server keeps when it is full.
//
// The server has a global connection limit and a per-peer one (a peer is a client IP address;
// for IPv6 its /64 prefix, since one host usually owns a whole /64). A new connection over a
// limit is not simply refused, because a load balancer's health probe then fails while slow
// clients hold every slot (a "slowloris": connect, send part of a request head, never finish).
// Instead the new connection replaces a victim, chosen in this order:
//   1. the connection that has been reading its current request the longest (it sent nothing
//      yet, or only part of a request): such a client has not shown it is a real one;
//   2. otherwise the keep-alive connection idle the longest (HTTP lets a server close an idle
//      keep-alive connection at any time; its client simply reconnects).
// A connection that is answering its last request is never evicted; if every candidate is in
// that state the newcomer is refused. When the per-peer limit is the one reached, the victim is
// taken from that peer's own connections, so one address can only ever evict itself.
//
// Pure bookkeeping without sockets or clocks (times are passed in), so the policy is unit
// tested on its own. The victim search scans the table, which is bounded by the connection
// limit (a few hundred entries) and only runs when a limit is reached.
// Thread safety: none; the HTTP server uses it on the loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

struct sockaddr;

namespace tandem::server {

class HttpAdmission {
 public:
  enum class Phase {
    kRequest,  // reading a request: nothing yet, or part of it; evicted first
    kIdle,     // a keep-alive connection between requests; evicted second
    kClosing,  // answering its last request before closing; never evicted
  };
  enum class Limit { kNone, kPeer, kGlobal };

  struct Decision {
    bool admit = true;
    Limit limit = Limit::kNone;     // the limit the newcomer reached, if any
    std::optional<uint64_t> evict;  // close this connection first, then admit
  };

  // `max_connections` at least 1; `max_per_peer` 0 means no per-peer limit.
  HttpAdmission(size_t max_connections, size_t max_per_peer);

  // What to do with a new connection from `peer`. Changes nothing: the caller closes the victim
  // (and Removes it) and then Adds the newcomer.
  Decision Admit(const std::string& peer) const;

  // Tracks connection `id` (ids grow with accept order) from `peer`, in kRequest since `now_ms`.
  void Add(uint64_t id, std::string peer, uint64_t now_ms);
  // Moves `id` to `phase` since `now_ms`; unknown ids are ignored.
  void SetPhase(uint64_t id, Phase phase, uint64_t now_ms);
  // Stops tracking `id`; unknown ids are ignored.
  void Remove(uint64_t id);

  size_t size() const { return conns_.size(); }
  size_t peer_count(const std::string& peer) const;

  // The peer key of a socket address: "192.0.2.7" for IPv4 (and IPv4-mapped IPv6),
  // "2001:db8:1:2::/64" for IPv6, "unknown" for anything else.
  static std::string PeerKey(const sockaddr* addr);

 private:
  struct Entry {
    std::string peer;
    Phase phase = Phase::kRequest;
    uint64_t since_ms = 0;
  };

  // The best victim among the connections of `peer` (or all, if null), if any.
  std::optional<uint64_t> Victim(const std::string* peer) const;

  const size_t max_connections_;
  const size_t max_per_peer_;
  std::map<uint64_t, Entry> conns_;
  std::unordered_map<std::string, size_t> per_peer_;
};

}  // namespace tandem::server
