// ft_peer_link.h: a small NATS client, native to the libuv loop, from this instance to the other
// members of its fault-tolerant group, carrying ft/ heartbeats.
//
// A standby uses it to hear the active's heartbeats and to send its own (the active's client
// port is among the peers); an active keeps one to the peers other than itself only to notice a
// second active. The link retries and reconnects forever on its own.
//
// How it connects: the servers ("host:port"; host a name or an IPv4/IPv6 literal, "[::1]:4222"
// works too) are tried in order, one attempt each, then again after reconnect_wait_ms, forever.
// An attempt resolves the host (uv_getaddrinfo; an IP literal is used as is), connects (to each
// address the name resolves to, in order, while they refuse), reads the server's INFO, sends
// CONNECT (echo on: the link hears its own heartbeats, as with libnats' defaults; with the
// member token as `ft_member` and the credentials, the nkey signing the INFO's nonce), SUB to the
// subject and PING; the link is connected when the PONG for that PING arrives, so the server
// has processed the SUB by then. An attempt that has not got there within connect_timeout_ms is
// abandoned and the next server is tried. Once connected, the link answers the server's PINGs,
// sends its own every ping_interval_ms and drops the connection when max_pings_out are
// unanswered (a stopped peer is dropped; noticing missed heartbeats is the role machine's job).
// After a drop (EOF, error, -ERR, ping timeout, outbound queue full) it waits reconnect_wait_ms
// and starts over with the next server.
//
// TLS: with Options::tls set, after the plain-text INFO the link starts a TLS handshake (its
// ClientHello first, as libnats does), verifies the server's certificate against the CA and the
// host of the server's address (an IP literal must be an IP SAN), and then speaks the protocol
// through its TlsSession. A server whose INFO says tls_required while the link has no TLS
// configured is dropped with a warning naming `ft.tls`; a failed handshake is logged as a
// warning (once per distinct reason) and the next attempt follows as for any failure.
//
// Wire: the NATS client protocol (INFO first from the server, then CONNECT and PING from the
// link, PONG completes the handshake; PING/PONG either way; -ERR '<text>' ends the connection);
// the server -> client ops are read by NatsClientReader.
//
// Ownership: borrows the loop, which must outlive the PeerLink. The PeerLink owns a TCP handle
// and two timers (and a getaddrinfo request while resolving): Close() must be called, and its
// `done` awaited, before the PeerLink is destroyed; `done` runs on the loop, from a close
// callback, never inside Close().
//
// Thread safety: loop thread only (asserted in debug builds). No threads, no uv_async, no pool
// jobs of its own (uv_getaddrinfo uses the libuv pool internally). The handlers are called on the
// loop; a handler may call Publish() or Close() on this PeerLink.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ft/ft_options.h"
#include "server/nats/nats_client_reader.h"
#include "server/util/tls_session.h"

namespace tandem::server {

class TlsContext;

class PeerLink : private NatsClientHandler {
 public:
  struct Handlers {
    std::function<void(std::string payload)> on_heartbeat;     // each MSG/HMSG payload
    std::function<void(const std::string& url)> on_connected;  // "nats://host:port"; again
                                                               // after each reconnect
    std::function<void()> on_disconnected;  // once per established link that drops
  };
  struct Options {
    std::vector<std::string> servers;  // "host:port"
    std::string subject;               // the heartbeat subject
    std::string name;                  // connection name shown by the peer
    std::string member_token;          // CONNECT ft_member: the member token (ft/heartbeat.h)
    ft::FtCredentials credentials;     // CONNECT user/pass, auth_token, or nkey/sig of the nonce
    int64_t reconnect_wait_ms = 50;
    int64_t connect_timeout_ms = 1000;
    int64_t ping_interval_ms = 2000;
    int max_pings_out = 2;
    size_t max_outbound = 1024 * 1024;  // queued bytes before a peer counts as not reading
    std::shared_ptr<TlsContext> tls;    // client side (`ft.tls`); null: plain TCP
  };

  PeerLink(uv_loop_t* loop, Options options, Handlers handlers);
  ~PeerLink() override;
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  // Starts connecting (never blocks the loop). REQUIRES: not closing.
  void Start();
  // `PUB <subject> <len>` with `payload`; queued, never blocks; dropped while not connected.
  void Publish(std::string_view payload);
  bool connected() const { return state_ == State::kConnected; }
  // Stops everything (no handler runs after this call) and closes the handles; `done` runs on
  // the loop once every close callback has run. Later calls are ignored.
  void Close(std::function<void()> done);

  // For tests: connection attempts begun and links established so far.
  uint64_t TEST_attempts() const { return attempts_; }
  uint64_t TEST_established() const { return established_; }

 private:
  enum class State : uint8_t {
    kIdle,        // not started
    kResolving,   // uv_getaddrinfo in flight
    kConnecting,  // uv_tcp_connect in flight
    kWaitInfo,    // TCP up, waiting for the server's INFO
    kWaitPong,    // CONNECT, SUB, PING sent; waiting for the PONG
    kConnected,
    kAbandoned,  // the attempt timed out while resolving; waiting for getaddrinfo's callback
    kDropping,   // the socket is closing; what follows depends on `was_connected_`
    kWaiting,    // between attempts (reconnect_wait_ms)
    kClosed,     // Close() was called
  };

  // Connection attempts.
  void BeginAttempt();
  void OnResolved(int status, struct addrinfo* res);
  void ConnectAddr();
  void OnConnect(int status);
  void OnConnectTimeout();
  void NextAttempt();
  void WaitThenAttempt();
  void Established();
  // Tears the socket down: after an attempt that failed, or a link that dropped.
  void Drop(std::string_view why);
  void OnTcpClosed();

  // I/O.
  void OnRead(ssize_t nread);
  void Send(std::string_view bytes);
  void Flush();
  void OnWritten(int status);
  void OnPingTimer();
  // TLS: starts the handshake after INFO; feeds ciphertext and parses the plaintext.
  void StartTls();
  void OnTlsRead(size_t n);
  void SendConnect();  // CONNECT (signing nonce_ where an nkey is used), SUB, PING

  std::string ConnectCredentialFields() const;

  // NatsClientHandler.
  bool OnInfo(std::string_view json) override;
  bool OnMsg(const MsgArgs& msg) override;
  bool OnPing() override;
  bool OnPong() override;
  bool OnOk() override;
  bool OnErr(std::string_view text) override;

  void HandleClosed();
  bool socket_open() const { return tcp_open_ && !tcp_closing_; }
  const std::string& server() const { return options_.servers[index_]; }
  void AssertLoopThread() const;

  static void GetAddrInfoCb(uv_getaddrinfo_t* req, int status, struct addrinfo* res) noexcept;
  static void ConnectCb(uv_connect_t* req, int status) noexcept;
  static void AllocCb(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) noexcept;
  static void ReadCb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void WriteCb(uv_write_t* req, int status) noexcept;
  static void TimerCb(uv_timer_t* handle) noexcept;
  static void PingTimerCb(uv_timer_t* handle) noexcept;
  static void TcpCloseCb(uv_handle_t* handle) noexcept;

  // Constant after construction.
  uv_loop_t* const loop_;
  const Options options_;
  const Handlers handlers_;
  const std::thread::id loop_thread_;

  State state_ = State::kIdle;
  size_t index_ = 0;                     // the server of the current (or last) attempt
  size_t tried_in_pass_ = 0;             // attempts that failed since the last wait
  bool was_connected_ = false;           // the socket being dropped carried an established link
  std::vector<sockaddr_storage> addrs_;  // the current server's addresses, in resolver order
  size_t addr_index_ = 0;                // the one being tried
  bool try_next_addr_ = false;           // the socket being dropped was refused: try the next

  // Handles. timer_ serves one phase at a time: the attempt timeout, then the reconnect wait.
  uv_timer_t timer_{};
  uv_timer_t ping_timer_{};
  uv_tcp_t tcp_{};
  uv_connect_t connect_req_{};
  uv_getaddrinfo_t gai_req_{};
  bool tcp_open_ = false;     // tcp_ initialised and its close callback not yet run
  bool tcp_closing_ = false;  // uv_close(tcp_) called
  bool gai_pending_ = false;  // gai_req_ in flight
  int pending_closes_ = 0;    // callbacks Close() waits for
  std::function<void()> close_done_;

  // The connection.
  NatsClientReader reader_;
  std::string out_;             // bytes waiting for the write in flight to finish
  size_t in_flight_bytes_ = 0;  // bytes of the write in flight (0 when none)
  bool write_in_flight_ = false;
  int pings_out_ = 0;
  char read_buf_[16 * 1024];
  std::unique_ptr<TlsSession> tls_;  // the current socket's session, with Options::tls
  std::string last_tls_error_;       // logged once per distinct reason
  std::string nonce_;                // the current connection's INFO nonce (nkey logins sign it)
  bool start_tls_ = false;           // INFO seen; the handshake starts after the reader returns

  uint64_t attempts_ = 0;
  uint64_t established_ = 0;
};

}  // namespace tandem::server
