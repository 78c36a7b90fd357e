// channel.h: a streaming channel (its counters, limits, recent-message cache and subscribers)
// and the registry of channels (lookup, creation within max_channels, case conflicts, limits
// resolution with wildcard overrides). A channel is created by the first accepted publish or
// subscription to it, never by an ack or unsubscribe; its sequences start at 1 and are never
// reused; limits remove only the oldest messages (first_seq moves, last_seq stays). Name rules
// and the order in which overrides apply: server/stan/PROTOCOL.md.
//
// A channel's sequence numbers are assigned on the loop thread when a publish is accepted
// (last_seq) and become deliverable when the batch holding them commits (committed_seq). The
// cache holds the newest messages as serialized MsgProto bytes, contiguous in sequence, bounded
// by count and bytes; older messages are read from the store on demand.
//
// Ownership: the registry owns the channels; subscriptions and queue groups are owned by the
// channel (see stan_sub.h) and point back to it. Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/stan/stan_options.h"
#include "server/util/timer_queue.h"
#include "store/store.h"

namespace tandem::server {

class StanSub;
class StanQueueGroup;

// Limits in effect for one channel; 0 means unlimited.
struct ResolvedLimits {
  store::ChannelLimits store;  // max_msgs, max_bytes, max_age_ns
  uint64_t max_subs = 0;
  int64_t max_inactivity_ns = 0;
  uint64_t max_deliveries = 0;  // 0 = unlimited
  std::string dead_letter;      // "" = none
  RedeliveryBackoff redelivery_backoff;
};

struct CachedMsg {
  uint64_t seq = 0;
  int64_t timestamp_ns = 0;
  std::string data;  // serialized MsgProto as first delivered
};

// The limits a channel named `name` gets once, when created: the globals, then
// every matching wildcard entry from the widest to the narrowest, then the literal entry.
ResolvedLimits ResolveChannelLimits(const StanLimits& limits, std::string_view name);

// Follows dead letters from channel `start` (a dead_letter value): while the channel has
// max_deliveries and a dead_letter, on to that one. Returns the chain ("a -> b -> a") when it
// comes back to a channel already on it, else "". Every loop passes through some dead_letter
// value, so checking each configured one finds them all.
std::string DeadLetterLoop(const StanLimits& limits, std::string_view start);

class Channel {
 public:
  Channel(const store::ChannelRecord& rec, const ResolvedLimits& limits);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  int64_t id() const { return rec_.id; }
  const std::string& name() const { return rec_.name; }
  const ResolvedLimits& limits() const { return limits_; }
  const store::ChannelRecord& record() const { return rec_; }
  uint64_t first_seq() const { return rec_.first_seq; }
  uint64_t last_seq() const { return rec_.last_seq; }
  uint64_t committed_seq() const { return committed_seq_; }
  uint64_t msgs() const { return rec_.msgs; }
  uint64_t bytes() const { return rec_.bytes; }
  // The timestamp of the oldest message (accepted or stored); 0 when there is none or it is not
  // known (after a restart, until the store has read it: ChannelStats::first_timestamp_ns).
  int64_t oldest_timestamp_ns() const { return oldest_ns_; }

  // Assigns the next sequence and a timestamp >= the previous one; caches the message.
  // REQUIRES: the caller appends the same message to the current write batch.
  uint64_t Append(int64_t now_ns, int64_t* timestamp_ns);
  void CacheMsg(uint64_t seq, int64_t timestamp_ns, std::string data);
  // The batch holding messages up to `seq` committed; `stats` (if any) are the store's counters.
  void Committed(uint64_t seq);
  void ApplyStats(const store::ChannelStats& stats);

  // A committed message from the cache, or nullptr.
  const CachedMsg* Lookup(uint64_t seq) const;
  // Oldest cached seq (0 when the cache is empty).
  uint64_t cache_first() const { return cache_.empty() ? 0 : cache_.front().seq; }
  const std::deque<CachedMsg>& cache() const { return cache_; }

  // Subscriptions: every stored one (active, offline durables, shadow queue members).
  std::map<uint64_t, std::unique_ptr<StanSub>>& subs() { return subs_; }
  const std::map<uint64_t, std::unique_ptr<StanSub>>& subs() const { return subs_; }
  std::map<std::string, std::unique_ptr<StanQueueGroup>>& queues() { return queues_; }
  const std::map<std::string, std::unique_ptr<StanQueueGroup>>& queues() const { return queues_; }
  size_t active_subs() const;

  // Deletion in progress (max_inactivity): publishes and subscriptions are refused.
  bool deleting = false;
  uint64_t last_activity_ms = 0;  // last publish or subscription change (TimerQueue clock)
  TimerQueue::Id inactivity_timer = 0;
  // Stored messages that could not be read (Delivery::ReadFailed): the first failed range, kept
  // while the process runs (deliveries stop before it rather than skip it), and the number of
  // failed reads.
  struct ReadDamage {
    uint64_t from = 0, to = 0;
    std::string error;
  };
  std::optional<ReadDamage> read_damage;
  uint64_t read_errors = 0;
  // Messages that reached max_deliveries on a subscription since the process started: appended
  // to the dead-letter channel, or dropped (no dead-letter channel, or it could not be made).
  uint64_t dead_lettered = 0;
  uint64_t max_deliveries_dropped = 0;

 private:
  void TrimCache();

  store::ChannelRecord rec_;
  const ResolvedLimits limits_;
  uint64_t committed_seq_;
  int64_t oldest_ns_ = 0;
  std::deque<CachedMsg> cache_;
  size_t cache_bytes_ = 0;
  std::map<uint64_t, std::unique_ptr<StanSub>> subs_;
  std::map<std::string, std::unique_ptr<StanQueueGroup>> queues_;
};

class ChannelRegistry {
 public:
  // Cache bounds per channel.
  static constexpr size_t kCacheMaxMsgs = 16384;
  static constexpr size_t kCacheMaxBytes = 8 * 1024 * 1024;

  explicit ChannelRegistry(const StanLimits& limits);
  ~ChannelRegistry();

  // Valid channel name: non-empty, no leading/trailing '.', no "..", no '/', '*', '>'.
  static bool IsValidName(std::string_view name);
  // The limits a channel named `name` gets when created (ResolveChannelLimits above).
  ResolvedLimits Resolve(std::string_view name) const;

  Channel* Lookup(std::string_view name) const;
  Channel* LookupById(int64_t id) const;
  // Checks that a channel may be created: "" when it may, else the error text (max_channels,
  // case conflict). Does not create.
  std::string CheckCreate(std::string_view name) const;
  // Creates the channel (REQUIRES: CheckCreate returned ""). `id` is assigned by the registry.
  Channel* Create(std::string_view name);
  // Adds a recovered channel.
  Channel* Restore(const store::ChannelRecord& rec);
  void Remove(Channel* ch);

  void set_next_id(int64_t id) { next_id_ = id; }
  size_t size() const { return by_name_.size(); }
  // A channel's stored messages could not be read (delivery_read_damage.cc). Never cleared, so
  // that a health check walks the channels only when some damage was ever seen, not per call.
  void NoteReadDamage() { read_damage_seen_ = true; }
  bool read_damage_seen() const { return read_damage_seen_; }
  const std::map<std::string, std::unique_ptr<Channel>, std::less<>>& all() const {
    return by_name_;
  }

 private:
  const StanLimits limits_;
  int64_t next_id_ = 1;
  bool read_damage_seen_ = false;
  std::map<std::string, std::unique_ptr<Channel>, std::less<>> by_name_;
  std::unordered_map<int64_t, Channel*> by_id_;
  std::unordered_map<std::string, std::string> by_lower_;  // lower-cased name -> name
};

}  // namespace tandem::server
