// requester.h: request/reply over any Bus, the way NATS clients do it: one wildcard inbox
// subscription ("<inbox>.*") for all requests, a token per request as the last reply token, and a
// timeout per request from the TimerQueue. The first reply wins; later ones are ignored.
//
// Used by the streaming layer for its server -> client heartbeats and for the liveness check of
// a client whose clientID is registered again.
//
// Ownership: borrows the Bus and the TimerQueue, which outlive it. Thread safety: loop thread
// only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "server/bus/bus.h"
#include "server/util/timer_queue.h"

namespace tandem::server {

class Requester {
 public:
  // `reply` is the first reply (valid only during the call), or nullptr after the timeout.
  using Done = std::function<void(const InboundMsg* reply)>;
  Requester(Bus* nc, TimerQueue* timers);
  ~Requester();
  Requester(const Requester&) = delete;
  Requester& operator=(const Requester&) = delete;

  void Start();  // subscribes to the inbox
  void Stop();   // unsubscribes; pending requests are dropped without calling back
  void Request(std::string_view subject, std::string_view payload, uint64_t timeout_ms, Done done);

 private:
  struct Pending {
    Done done;
    TimerQueue::Id timer = 0;
  };
  void OnReply(const InboundMsg& m);
  void Finish(uint64_t token, const InboundMsg* reply);

  Bus* const nc_;
  TimerQueue* const timers_;
  std::string prefix_;  // "<inbox>."
  uint64_t sid_ = 0;
  uint64_t next_token_ = 1;
  std::unordered_map<uint64_t, Pending> pending_;
};

}  // namespace tandem::server
