// permissions.h: a user's subject permissions, compiled for the hot path, and the reply
// subjects a connection may answer (allow_responses). The rules are nats-server's:
//
// - Publish: with an `allow` list, only subjects it matches; then `deny` wins. A PUB refused
//   gets -ERR 'Permissions Violation for Publish to "<subject>"'; the message is dropped and the
//   connection stays. A bare list in the configuration is an `allow` list.
// - Subscribe: the SUB subject itself (wildcards included) is matched against the lists the
//   same way, as a literal subject: allow `foo.*` admits SUB `foo.*` and `foo.bar`, allow
//   `foo.bar` does not admit SUB `foo.*`. A refused SUB gets -ERR 'Permissions Violation for
//   Subscription to "<subject>"' (with ` using queue "<queue>"` for a queue subscription) and
//   is not made. Because `deny` cannot stop a wider wildcard SUB that was allowed (allow `>`,
//   deny `secret.>`, SUB `>`), each message for a wildcard or queue subscription is checked
//   against `deny` at delivery and dropped when it matches.
// - allow_responses: publishing to the reply subject of a message the connection received is
//   allowed even where the publish rules refuse it, `max_msgs` times within `expires_ms`.
//   Setting it without publish rules makes the publish allow list empty (responses only).
//
// Cost: a user without permissions has no PermissionSet (a null pointer, one test per op). A
// restricted user's decisions are cached per subject (at most kCacheMax subjects, then the
// cache starts again), so a PUB to a subject seen before is one hash lookup, not a trie walk.
//
// PermissionSet is per configured user and shared by all its connections. It is also the
// SubjectPermissions (server/bus/bus.h) each message of a restricted connection carries, by
// which the streaming layer decides per channel. Thread safety: loop thread only (the caches
// are mutable state).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "server/bus/bus.h"
#include "server/nats/auth_options.h"
#include "server/nats/sublist.h"

namespace tandem::server {

// Hashes std::string keys and std::string_view probes alike (heterogeneous lookup).
struct SubjectHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class PermissionSet final : public SubjectPermissions {
 public:
  static constexpr size_t kCacheMax = 4096;

  // REQUIRES: every subject in `p` passed IsValidSubject (the configuration checks it).
  explicit PermissionSet(const Permissions& p);
  PermissionSet(const PermissionSet&) = delete;
  PermissionSet& operator=(const PermissionSet&) = delete;

  // By the publish rules only (not the responses).
  bool CanPublish(std::string_view subject);
  bool CanSubscribe(std::string_view subject);
  // SubjectPermissions: the same rules, for the streaming layer's channel names.
  bool MayPublish(std::string_view subject) override { return CanPublish(subject); }
  bool MaySubscribe(std::string_view subject) override { return CanSubscribe(subject); }
  // True when a message on `subject`, matched by an allowed wildcard or queue subscription, must
  // not be delivered (it matches the subscribe deny list).
  bool DeliveryDenied(std::string_view subject);
  bool has_subscribe_deny() const { return sub_deny_ != nullptr; }
  const std::optional<ResponsePermission>& responses() const { return responses_; }

 private:
  // An allow or deny list: a Sublist of placeholder subscriptions.
  struct List {
    Sublist sublist{0};
    bool Matches(std::string_view subject) { return !sublist.Match(subject)->psubs.empty(); }
  };
  using Cache = std::unordered_map<std::string, bool, SubjectHash, std::equal_to<>>;
  static std::unique_ptr<List> Compile(const std::vector<std::string>& subjects);
  static bool Decide(List* allow, List* deny, std::string_view subject);
  static bool Cached(Cache& cache, List* allow, List* deny, std::string_view subject);

  std::unique_ptr<List> pub_allow_, pub_deny_, sub_allow_, sub_deny_;
  std::optional<ResponsePermission> responses_;
  bool restricts_publish_ = false;
  bool restricts_subscribe_ = false;
  Cache pub_cache_, sub_cache_, deliver_cache_;
};

// The reply subjects one connection may publish to under allow_responses. At most kMaxGrants
// are kept (expired ones are swept first, then all are dropped), so memory stays bounded.
class ResponseGrants {
 public:
  static constexpr size_t kMaxGrants = 65536;

  // A message with reply subject `reply` was delivered at `now_ms`.
  void Grant(std::string_view reply, uint64_t now_ms, const ResponsePermission& rp);
  // Uses one grant for `subject` if there is a live one.
  bool Use(std::string_view subject, uint64_t now_ms, const ResponsePermission& rp);

 private:
  struct Entry {
    uint64_t at_ms = 0;
    uint64_t used = 0;
  };
  void Prune(uint64_t now_ms, const ResponsePermission& rp);
  std::unordered_map<std::string, Entry, SubjectHash, std::equal_to<>> grants_;
  size_t since_prune_ = 0;
};

}  // namespace tandem::server
