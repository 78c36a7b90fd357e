// partitions.h: channel partitioning (streaming.partitioning), the reference streaming server's
// model: which channels this group owns (ChannelOwnership), the channel-list messages on
// _STAN.part.<cluster id> (the codec), and the overlap check with the other partitions of the
// cluster (Partitions). The wire format is in server/stan/PROTOCOL.md, "Partitioning".
//
// Ownership: a group owns exactly the names and wildcards listed under limits.channels. Two
// lists conflict when some literal channel name matches an entry of each ("foo.*" and "*.bar"
// both own "foo.bar"); that is stricter than the reference, which compares each entry of one
// list as a subject against the other list, so tandem refuses every overlap the reference
// refuses, and a few more.
//
// The check: Check() publishes this group's list with a reply inbox; every other partition
// answers with an empty Data (no conflict) or the name of a conflicting channel. Replies are
// collected until `wait_ms` pass without one (the reference's 1 s); the first conflict ends the
// round with an error. A Check() while a round runs sends the list again (a new server joined)
// and the round waits again. Answering: Start() subscribes the list subject and answers the
// others' lists; a list from a member of this same group (its ServerID carries the group name,
// "<group>@<id>") is not answered, since members of a group own the same channels by design.
//
// Ownership: borrows the Bus and the loop, which must outlive it; owns its TimerQueue, closed by
// Stop() (required before the loop closes). Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "server/bus/bus.h"
#include "server/util/timer_queue.h"
#include "store/status.h"

namespace tandem::server {

// True when one literal subject matches both patterns (each may hold '*' and '>').
bool PatternsOverlap(std::string_view a, std::string_view b);

class ChannelOwnership {
 public:
  ChannelOwnership() = default;
  explicit ChannelOwnership(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {}
  bool enabled() const { return !patterns_.empty(); }
  // True when the literal channel name matches one of the owned entries.
  bool Owns(std::string_view channel) const;
  // The first of `others` that overlaps an owned entry, or "" when none does.
  std::string FirstConflict(const std::vector<std::string>& others) const;
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  std::vector<std::string> patterns_;
};

// The control message on _STAN.part.<cluster>: MsgType 4 (partitioning), the sender's id and
// Data (a channel list in a request; a conflicting channel, or nothing, in a reply).
struct PartitionMsg {
  std::string server_id;
  std::string data;
};
std::string EncodePartitionMsg(const PartitionMsg& m);
bool DecodePartitionMsg(std::string_view payload, PartitionMsg* out);
// The channel list in Data: each name as a 2-byte little-endian length, then its bytes. Encodes
// as many requests' Data as needed so that none exceeds `max_data` bytes (names longer than
// 65535 or than max_data cannot be encoded: false).
bool EncodeChannelLists(const std::vector<std::string>& channels, size_t max_data,
                        std::vector<std::string>* out);
bool DecodeChannelList(std::string_view data, std::vector<std::string>* out);

class Partitions {
 public:
  struct Options {
    std::string cluster_id;
    std::string group;  // ft.group, "" when the instance is alone
    std::vector<std::string> channels;
    uint64_t wait_ms = 1000;
  };
  Partitions(uv_loop_t* loop, Bus* bus, Options options);
  ~Partitions();
  Partitions(const Partitions&) = delete;
  Partitions& operator=(const Partitions&) = delete;

  // Subscribes the list subject: from now on the others' lists are answered.
  void Start();
  // Sends the list and calls `done` once the round ends: OK, or InvalidArgument naming the
  // conflicting channel and the server that owns it.
  void Check(std::function<void(const Status&)> done);
  void Stop();
  const std::string& server_id() const { return server_id_; }
  const ChannelOwnership& ownership() const { return ownership_; }

 private:
  void OnRequest(const InboundMsg& m);
  void OnReply(const InboundMsg& m);
  void SendList();
  void EndRound(const Status& s);

  Bus* const bus_;
  const Options options_;
  const ChannelOwnership ownership_;
  const std::string subject_;
  std::string server_id_;
  std::string group_prefix_;  // "<group>@", "" when alone
  TimerQueue timers_;
  uint64_t list_sid_ = 0, inbox_sid_ = 0;
  std::string inbox_;
  TimerQueue::Id quiet_timer_ = 0;
  std::vector<std::function<void(const Status&)>> waiting_;
  bool stopped_ = false;
};

}  // namespace tandem::server
