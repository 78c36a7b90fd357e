// sublist.h: subject routing for the NATS core: a trie of subscriptions keyed by subject token,
// with a bounded match cache.
//
// Each level of the trie maps a literal token to a node and keeps two separate children for the
// wildcards `*` (one token) and `>` (one or more trailing tokens). A node holds the plain
// subscriptions and the queue subscriptions (grouped by queue name) whose subject ends there.
// Match(subject) walks the trie for a literal subject and returns every plain subscription plus,
// per queue name, every member (groups of the same name found at different nodes are merged);
// the caller picks one member per group.
//
// Results are cached per subject (at most cache_max entries, 0 disables the cache), in front of
// which a one-entry memo holds the last subject matched. Every Insert
// and Remove increments a generation counter (nats-server's genid) and a cached result is used
// only while its generation is current, so invalidation costs nothing at mutation time. When the
// cache is full, stale entries are swept first, then arbitrary ones.
//
// Removal costs O(tokens) whatever the number of subscriptions: each subscription knows its
// index in its node's vector (swap with the last, pop), emptied nodes are pruned, and a level's
// hash table or a node's vector that became much larger than its content is shrunk, so that the
// memory of a mass removal goes back to the allocator.
//
// Ownership: subscriptions are shared (std::shared_ptr) between the Sublist, the cached results
// and the owner's sid table, because a result being delivered must stay valid when a handler
// unsubscribes or a connection closes in the middle of the fan-out. A removed subscription is
// marked `closed` so that an in-flight delivery skips it; so is every subscription of a retired
// owner (see Subscriber::retired), which may stay in the Sublist for a while after its owner
// closed. Returned results are immutable.
//
// Thread safety: none, by design. The Sublist is used only on the loop thread, so it has no lock
// (nats-server needs one because its clients run on many goroutines).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tandem::server {

struct Subscription;
struct InboundMsg;

// Whoever receives the messages of a subscription: a network ClientConn or an in-process client.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  // Delivers one message on `sub` (REQUIRES: sub.owner == this). Views are valid only during
  // the call.
  virtual void Deliver(Subscription& sub, const InboundMsg& msg) = 0;
  // False when the subscriber asked not to receive its own publishes (CONNECT echo:false).
  virtual bool echo() const = 0;
  // The router removed `sub` after its UNSUB max was reached: drop it from the sid table.
  virtual void Forget(const Subscription& sub) = 0;
  // Flow control: a consumer whose queue is too long asks the publisher of the message being
  // routed to stop reading for a while. Returns the connection id to resume later, or 0 when
  // this subscriber cannot pause (internal clients).
  virtual uint64_t PauseReading() { return 0; }
  // Flow control toward in-process publishers (Bus::Backlogged): true while this subscriber has
  // more queued than its high-water mark.
  virtual bool backlogged() const { return false; }
  // Runs `fn` once the queue is back under its low-water mark or the subscriber closed (at once
  // when it is not backlogged). `fn` may run inside any call into the core: it only schedules.
  virtual void WhenDrained(std::function<void()> fn) { fn(); }
  // The network connection's id (InboundMsg::sender of what it publishes); 0 for in-process
  // clients.
  virtual uint64_t conn_id() const { return 0; }

  // True once the subscriber closed: from then on none of its subscriptions receives anything,
  // even those still in the Sublist (a connection with many of them has them removed in slices,
  // and stays alive until the last one is out). One flag for all of them, set in O(1).
  bool retired() const { return retired_; }

 protected:
  void Retire() { retired_ = true; }

 private:
  bool retired_ = false;
};

struct Subscription {
  Subscription(Subscriber* owner, std::string subject, std::string queue, std::string sid)
      : owner(owner), subject(std::move(subject)), queue(std::move(queue)), sid(std::move(sid)) {}

  // Constant after construction. `owner` is borrowed: it outlives its subscriptions in the
  // Sublist (owners remove them before they die); it may be null in tests.
  Subscriber* const owner;
  const std::string subject;
  const std::string queue;  // empty: not a queue subscription
  const std::string sid;

  // True when nothing may be delivered on it: removed, or its owner retired. `closed` is read
  // first, so the owner of a removed subscription (which may be gone) is never touched.
  bool inert() const { return closed || (owner != nullptr && owner->retired()); }

  uint64_t delivered = 0;
  uint64_t max = 0;     // 0: unlimited; else removed after `max` deliveries (UNSUB <sid> <max>)
  bool closed = false;  // removed: in-flight deliveries skip it
  // Owned by the Sublist: the index of this subscription in its node's vector while inserted.
  size_t sublist_index = 0;
  // In-process client subscriptions only: the handler lives here so that it stays alive while it
  // runs even if it unsubscribes itself.
  std::function<void(const InboundMsg&)> handler;
};

using SubscriptionPtr = std::shared_ptr<Subscription>;

struct SublistResult {
  std::vector<SubscriptionPtr> psubs;
  std::vector<std::vector<SubscriptionPtr>> qsubs;  // one vector per distinct queue name
  bool empty() const { return psubs.empty() && qsubs.empty(); }
};

class Sublist {
 public:
  static constexpr size_t kDefaultCacheMax = 1024;

  explicit Sublist(size_t cache_max = kDefaultCacheMax);
  ~Sublist();
  Sublist(const Sublist&) = delete;
  Sublist& operator=(const Sublist&) = delete;

  // Adds `sub` under sub->subject. Returns false (and adds nothing) when the subject is not a
  // valid subscription subject (empty token, `>` not last). Validation of the characters is the
  // caller's job (subject.h). REQUIRES: `sub` is not in this Sublist already.
  bool Insert(SubscriptionPtr sub);
  // Removes `sub` (matched by identity) and marks it closed. Returns false if it was not present.
  // O(tokens of its subject), whatever the number of subscriptions.
  bool Remove(const SubscriptionPtr& sub);
  // All subscriptions matching the literal subject. Never null. The reference is valid until
  // the next call on this Sublist; copy the shared_ptr to keep the result longer (it then stays
  // valid whatever happens to the Sublist meanwhile). Copying costs an atomic increment, which
  // the hot path skips for empty results.
  const std::shared_ptr<const SublistResult>& Match(std::string_view subject);

  size_t count() const { return count_; }
  uint64_t genid() const { return genid_; }
  size_t cache_size() const { return cache_.size(); }
  uint64_t cache_hits() const { return cache_hits_; }
  uint64_t matches() const { return matches_; }

 private:
  struct Level;
  struct Node;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct CacheEntry {
    std::shared_ptr<const SublistResult> result;
    uint64_t genid;
  };

  struct Step;  // a level walked by Remove and the token taken from it

  std::shared_ptr<const SublistResult> MatchUncached(std::string_view subject) const;
  // The slot of `token`'s child in `level` (`*` and `>` have their own); null when absent.
  static std::unique_ptr<Node>* ChildSlot(Level* level, std::string_view token);
  // Takes `sub` out of `node` in O(1); false if it is not there.
  static bool TakeOut(Node* node, const SubscriptionPtr& sub);
  // Deletes the nodes of `path` (n steps) left empty, deepest first.
  void Prune(const Step* path, size_t n);
  void AddToCache(std::string_view subject, std::shared_ptr<const SublistResult> result);

  const size_t cache_max_;
  // The last subject matched: a publisher usually sends many messages to one subject, and this
  // check (one compare) is cheaper than hashing. Valid while memo_genid_ == genid_.
  std::string memo_subject_;
  std::shared_ptr<const SublistResult> memo_result_;
  uint64_t memo_genid_ = UINT64_MAX;
  std::unique_ptr<Level> root_;
  size_t count_ = 0;
  uint64_t genid_ = 0;
  uint64_t cache_hits_ = 0;
  uint64_t matches_ = 0;
  std::unordered_map<std::string, CacheEntry, StringHash, std::equal_to<>> cache_;
};

}  // namespace tandem::server
