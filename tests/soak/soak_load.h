// soak_load.h: the clients of the soak, all libnats streaming connections that know both
// members' addresses and reconnect on their own: a steady publisher (asynchronous publishes of
// numbered messages "n<id>", every PubAck recorded by id), a durable subscriber with manual acks
// and a durable queue group of two members. It also times recoveries: Arm() marks a fault, and
// the first successful PubAck after it (after the publisher's connection dropped, when the
// fault should move the clients to another member) is the moment service resumed.
//
// At the end, ReadBack() reads the channel from sequence 1 with a fresh subscriber and tells
// which acknowledged ids are not in it: those are lost.
//
// Ownership: SoakLoad owns its connections, subscriptions and publisher thread.
// Thread safety: libnats calls back on its own threads; counters are atomics or guarded by mu_.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct __stanConnection;
struct __stanSubscription;

namespace tandem::soak {

struct LoadReport {
  uint64_t published = 0;
  uint64_t acked = 0;
  uint64_t not_acked = 0;  // PubAck error or timeout: the publisher would retry those
  std::map<std::string, uint64_t> ack_errors;
  uint64_t lost = 0;  // acknowledged, not in the channel
  std::string lost_examples;
  uint64_t stored = 0;             // messages read back from sequence 1
  uint64_t stored_duplicates = 0;  // ids stored more than once
  uint64_t durable_missing = 0;    // acknowledged, never delivered to the durable subscriber
  uint64_t queue_missing = 0;      // acknowledged, never delivered to the queue group
  uint64_t redelivered = 0;        // deliveries with the redelivered flag
  bool read_complete = false;      // the read-back reached the channel's last sequence
  std::string read_error;
};

class SoakLoad {
 public:
  SoakLoad(std::string urls, std::string cluster_id, std::string channel, int rate);
  ~SoakLoad();
  SoakLoad(const SoakLoad&) = delete;
  SoakLoad& operator=(const SoakLoad&) = delete;

  // Connects the clients, subscribes and starts publishing; false with `error` set.
  bool Start(std::string* error);
  void StopPublishing();

  // Marks a fault: Resumed() becomes the time of the first successful PubAck after now (and
  // after the publisher's connection dropped, if need_disconnect).
  void Arm(bool need_disconnect);
  int64_t Resumed() const { return resumed_us_.load(); }
  void Disarm() { armed_ = false; }

  uint64_t acked() const { return acked_.load(); }
  int64_t last_ack_us() const { return last_ack_us_.load(); }
  bool connection_lost() const { return connection_lost_.load(); }

  // Waits (at most timeout_ms) until every publish has its PubAck or error, then until every
  // acknowledged message reached the durable subscriber and the queue group.
  bool Settle(int timeout_ms);
  // Reads the channel from sequence 1 up to last_seq (at most timeout_ms) and reports.
  LoadReport ReadBack(uint64_t last_seq, int timeout_ms);

  // libnats callbacks (public for the C trampolines).
  void OnAck(size_t id, const char* error);
  void OnDelivery(size_t id, bool durable, bool redelivered);
  void OnDisconnected();
  void OnConnectionLost() { connection_lost_ = true; }
  void OnReadBack(size_t id, uint64_t seq);

 private:
  void Publish();
  bool AllResolved(bool deliveries);

  const std::string urls_, cluster_id_, channel_;
  const int rate_;
  __stanConnection* pub_ = nullptr;
  __stanConnection* durable_conn_ = nullptr;
  __stanConnection* queue_conn_ = nullptr;
  std::vector<__stanSubscription*> subs_;
  std::thread publisher_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> acked_{0};
  std::atomic<int64_t> last_ack_us_{0};
  std::atomic<bool> connection_lost_{false};

  std::atomic<bool> armed_{false};
  std::atomic<bool> need_disconnect_{false};
  std::atomic<bool> disconnected_{false};
  std::atomic<int64_t> resumed_us_{0};

  std::mutex mu_;                  // guards everything below
  std::vector<uint8_t> ack_;       // by id: 0 pending, 1 acknowledged, 2 error or timeout
  std::vector<uint16_t> durable_;  // by id: deliveries to the durable subscriber
  std::vector<uint16_t> queue_;    // by id: deliveries to the queue group
  std::vector<uint8_t> stored_;    // by id: times read back
  std::map<std::string, uint64_t> ack_errors_;
  uint64_t redelivered_ = 0;
  uint64_t read_last_seq_ = 0;  // highest sequence read back
};

}  // namespace tandem::soak
