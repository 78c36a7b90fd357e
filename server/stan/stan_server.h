// stan_server.h: the NATS Streaming layer: request handlers for connect, publish, subscribe,
// unsubscribe, subscription close, connection close, pings and acks, on top of the NATS core
// (as a Bus) and the store (through a StoreWriter).
//
// Life cycle: construct from what Store::Recover() returned, Start() (checks the cluster id,
// restores channels, clients and subscriptions, subscribes the protocol subjects, redelivers
// every pending message, starts timers), serve, Stop() (stops timers and unsubscribes), then
// Drain(done) to let the last batch commit before the store is closed. ft/ calls exactly this
// sequence when an instance becomes active and when it stops.
//
// Commits: what a loop pass writes goes into one store batch. The process calls
// SubmitStoreBatch() once per loop pass, from its before-sleep sequence: it records what the
// delivery engine coalesced (FlushDirty), attaches the pass's PubAcks to the batch and submits
// it when the StoreWriter has room. The commit continuation of each batch submits the next one
// first, then delivers and sends the PubAcks. The StoreWriter never calls back into this class
// to complete a batch.
//
// The publish invariant: a message is delivered and its PubAck sent only after the batch
// holding it has committed. After a failed commit the layer stops
// acknowledging for good and on_fatal runs once.
//
// Ownership: borrows the loop, the Bus and the Store, which must outlive it (the
// Store until Drain has finished). Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/bus/bus.h"
#include "server/stan/channel.h"
#include "server/stan/delivery.h"
#include "server/stan/expiry_schedule.h"
#include "server/stan/partitions.h"
#include "server/stan/session_guard.h"
#include "server/stan/stan_clients.h"
#include "server/stan/stan_options.h"
#include "server/stan/store_writer.h"
#include "server/util/timer_queue.h"
#include "store/status.h"
#include "store/store.h"

namespace pb {
class ConnectRequest;
class SubscriptionRequest;
}  // namespace pb

namespace tandem::server {

// Counters for monitoring.
struct StanStats {
  uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0;
  // Publishes and subscriptions refused by the channel permissions.
  uint64_t denied_publishes = 0, denied_subscriptions = 0;
};

class StanServer {
 public:
  StanServer(uv_loop_t* loop, Bus* nc, store::Store* store, store::Recovered recovered,
             const StanOptions& options);
  ~StanServer();
  StanServer(const StanServer&) = delete;
  StanServer& operator=(const StanServer&) = delete;

  // InvalidArgument when the store belongs to another cluster id.
  Status Start();
  void Stop();
  // Runs `done` when every batch written so far has committed (or failed).
  void Drain(std::function<void()> done);
  // The streaming layer's step of the before-sleep sequence: completes and submits the batch
  // this loop pass filled, when the writer has room (a no-op before Start and after Stop).
  void SubmitStoreBatch();
  // Told once, on the first failed commit (the caller should make the process exit).
  void SetOnFatal(std::function<void(const Status&)> fn) { on_fatal_ = std::move(fn); }

  bool failed() const { return failed_; }
  const ChannelRegistry& channels() const { return channels_; }
  const ClientRegistry& clients() const { return clients_; }
  size_t subscription_count() const { return delivery_.count(); }
  const StanStats& stats() const { return stats_; }
  // Acks, unsubscribes and closes refused because their sender does not act for the client.
  const ForgedCounts& forged() const { return guard_.counts(); }
  // Deliveries and redeliveries so far (monitoring).
  const Delivery::Counters& delivery_counters() const { return delivery_.counters(); }
  // Monitoring: ops and latency of every group commit (see StoreWriter::SetCommitObserver).
  void SetCommitObserver(StoreWriter::CommitObserver fn) {
    writer_.SetCommitObserver(std::move(fn));
  }
  TimerQueue& TEST_timers() { return timers_; }

 private:
  // The PubAcks of one batch, in one buffer: for each, its reply subject then its payload.
  struct PendingAcks {
    std::string bytes;
    std::vector<std::pair<uint32_t, uint32_t>> sizes;  // (reply size, payload size)
    bool empty() const { return sizes.empty(); }
  };

  // --- handlers (one per protocol request) ---
  void ProcessConnect(const InboundMsg& m);
  void ProcessPub(const InboundMsg& m);
  void ProcessSub(const InboundMsg& m);
  void ProcessUnsub(const InboundMsg& m) { ProcessUnsubOrClose(m, false); }
  void ProcessSubClose(const InboundMsg& m) { ProcessUnsubOrClose(m, true); }
  void ProcessUnsubOrClose(const InboundMsg& m, bool is_close);
  void ProcessClose(const InboundMsg& m);
  void ProcessPing(const InboundMsg& m);
  void ProcessAck(uint64_t sub_id, uint64_t gen, const InboundMsg& m);

  // --- start and recovery ---
  void RestoreSubs();
  void BuildServerRecord();

  // --- clients ---
  void RegisterClient(const pb::ConnectRequest& req, uint64_t sender);
  void ReplyConnect(const std::string& reply, int32_t req_protocol, int32_t ping_interval,
                    int32_t ping_max_out);
  void ReplyConnectError(const std::string& reply, const std::string& error);
  void CloseClient(const std::string& client_id);

  // --- channels ---
  Channel* LookupOrCreateChannel(std::string_view name, std::string* error);
  void ArmInactivity(Channel* ch);
  void CheckInactive(int64_t channel_id);
  void DeleteChannel(Channel* ch);
  // --- max_age (stan_server_expiry.cc) ---
  // A message of `ch` stamped `timestamp_ns` was accepted: its expiry is scheduled.
  void ScheduleExpiry(Channel* ch, int64_t timestamp_ns);
  // Start: every recovered channel with max_age and messages is looked at once.
  void ScheduleRecoveredExpiry();
  // Sets the one deadline for the earliest due channel (when none is set for it or earlier).
  void ArmExpiry();
  // Runs when the deadline passes: the due channels expire or are scheduled again.
  void ExpireDue();
  // Appends message `seq` of `from` (its stored bytes) to from's dead-letter channel in the
  // current batch; false when the channel has none or it cannot be made
  // (stan_server_dead_letter.cc).
  bool AppendDeadLetter(Channel* from, uint64_t seq, std::string_view stored);

  // --- subscriptions ---
  // Where a subscribe request's subscription came from: made new, or an offline durable (or a
  // durable queue group's shadow) resumed; a time start not yet resolved holds new messages.
  struct SubPlacement {
    StanSub* sub = nullptr;
    bool resumed = false;
    bool deferred = false;  // the start time needs a store lookup (ResolveTimeStart)
    int64_t start_ts = 0;
  };
  // Subscribe, by kind: each sets p->sub, or returns the error string of the refusal.
  const char* JoinQueueGroup(Channel* ch, const pb::SubscriptionRequest& req, SubPlacement* p);
  const char* PlaceDurable(Channel* ch, const pb::SubscriptionRequest& req, SubPlacement* p);
  // Activates the placed subscription, replies with its ack inbox, then starts sending
  // (pending messages of a resumed one first).
  void StartSub(const SubPlacement& p, const std::string& reply);
  void SubReply(const std::string& reply, const std::string& ack_inbox, const std::string& error);
  StanSub* NewSub(Channel* ch, const pb::SubscriptionRequest& req, const std::string& queue,
                  uint64_t last_sent);
  void ResumeSub(StanSub* sub, const pb::SubscriptionRequest& req);
  void Activate(StanSub* sub);
  void Deactivate(StanSub* sub);
  // Start position of a new subscription; *deferred when a store lookup must finish first (the
  // subscription is then held until it does).
  uint64_t StartPosition(Channel* ch, const pb::SubscriptionRequest& req, bool* deferred,
                         int64_t* ts_ns);
  void ResolveTimeStart(StanSub* sub, int64_t ts_ns);
  // Unsubscribe (unsubscribe = true) or close. They differ only for durables: unsubscribe
  // deletes one, close keeps it offline (a durable queue group: when its last member leaves).
  void RemoveSub(StanSub* sub, bool unsubscribe);
  void DeleteSubRecord(StanSub* sub);

  // --- commits ---
  // Submits the sealed batches, then completes (PrepareBatch) and submits the current one when
  // the writer has room for it.
  void SubmitBatch();
  // Completes the current batch: records the delivery engine's coalesced state and attaches its
  // continuations (when the batch holds anything): once applied, the next batch goes to the
  // store and the batch's messages to their subscribers (BatchApplied); once durable, its
  // PubAcks go out (BatchDurable). A message is delivered after its commit, acknowledged only
  // after the sync that covers it.
  void PrepareBatch();
  void BatchApplied(const Status& s, const store::BatchResult& r,
                    const std::unordered_map<int64_t, uint64_t>& channels);
  void BatchDurable(const Status& s, const PendingAcks& acks);

  Bus* const nc_;
  store::Store* const store_;
  const StanOptions options_;
  store::Recovered recovered_;  // consumed by Start()

  TimerQueue timers_;
  StoreWriter writer_;
  Requester requester_;
  ClientRegistry clients_;
  ChannelRegistry channels_;
  // Partitioning: the channels this group owns (limits.channels); unset, it owns them all.
  const ChannelOwnership owned_;
  bool Owns(std::string_view channel) const {
    return !options_.partitioning || owned_.Owns(channel);
  }
  Delivery delivery_;
  SessionGuard guard_;

  store::ServerRecord server_;
  std::vector<uint64_t> sids_;
  uint64_t next_sub_id_ = 1;
  bool started_ = false;
  bool stopped_ = false;
  bool failed_ = false;
  std::function<void(const Status&)> on_fatal_;
  ExpirySchedule expiry_;
  TimerQueue::Id expire_timer_ = 0;
  int64_t expire_armed_ns_ = 0;  // the due time expire_timer_ was set for
  StanStats stats_;
  std::set<int64_t> dead_letter_warned_;  // channels whose dead letters could not be appended

  // Filled while a batch is open, handed to its continuation by PrepareBatch().
  PendingAcks acks_;
  std::unordered_map<int64_t, uint64_t> batch_channels_;  // channel id -> highest seq appended
};

}  // namespace tandem::server
