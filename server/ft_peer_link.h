// ft_peer_link.h: a NATS client connection (libnats) from this instance to the other members of
// its fault-tolerant group, carrying ft/ heartbeats.
//
// A standby uses it to hear the active's heartbeats and to send its own (the active's client
// port is among the peers); an active keeps one to the peers other than itself only to notice a
// second active. The connection retries and reconnects forever on its own; each state change and
// each heartbeat is handed to the loop thread.
//
// libnats is threaded: its callbacks run on its own threads. They only append to a mutex-guarded
// queue in a Shared block and uv_async_send; the loop drains the queue and calls the handlers.
// Connect and destroy can block (DNS, TCP connect timeout, joining threads), so they run on the
// libuv pool. The Shared block outlives the PeerLink until libnats has made its last callback
// (the connection's closed callback and the subscription's on-complete callback).
//
// Ownership: borrows the loop. Close() must be called and its `done` awaited before the
// PeerLink is destroyed (it owns a uv_async_t). Thread safety: public methods on the loop thread
// only; Publish may be called at any time after Start (dropped until connected).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

namespace tandem::server {

class PeerLink {
 public:
  struct Handlers {
    std::function<void(std::string payload)> on_heartbeat;
    std::function<void(const std::string& url)> on_connected;  // also after a reconnect
    std::function<void()> on_disconnected;
  };
  struct Options {
    std::vector<std::string> servers;  // "host:port"
    std::string subject;               // the heartbeat subject
    std::string name;                  // connection name shown by the peer
    int64_t reconnect_wait_ms = 50;
    int64_t connect_timeout_ms = 1000;
  };

  PeerLink(uv_loop_t* loop, Options options, Handlers handlers);
  ~PeerLink();
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  // Starts connecting in the background (never blocks the loop).
  void Start();
  // Best effort, non-blocking; dropped while not connected.
  void Publish(const std::string& payload);
  bool connected() const { return connected_; }
  // Destroys the connection off the loop, then closes the async handle; `done` runs on the loop.
  void Close(std::function<void()> done);

  struct Shared;  // defined in the .cc; shared with libnats' threads

 private:
  void AfterConnect();
  void StartCloseJob();
  void FinishClose();
  void Drain();
  static void AsyncCb(uv_async_t* handle) noexcept;
  static void CloseCb(uv_handle_t* handle) noexcept;

  uv_loop_t* const loop_;
  const Options options_;
  const Handlers handlers_;
  uv_async_t async_{};
  Shared* shared_;  // owned jointly with libnats (see the comment at the top)
  void* nc_ = nullptr;  // the natsConnection, set once the connect job is done
  bool connected_ = false;
  bool started_ = false;
  bool connect_done_ = false;
  bool closing_ = false;
  std::function<void()> close_done_;
};

}  // namespace tandem::server
