// client_conn.h: one NATS client connection: its socket, parser, CONNECT options, subscriptions
// (sid table), outbound queue, ping state and close reason.
//
// Reading: all connections read into ONE loop-wide buffer handed out by the host (reads are
// serialized on the loop thread, and the parser copies only an op cut by the end of a read), so
// an idle connection costs only this object. Writing: replies and messages are appended to
// `out_` (chunks, outbound_queue.h: written chunks go back at once, so a burst's peak is not
// kept) and the connection asks the host for a flush; the host's FlushAll calls Flush() once
// per loop pass, which tries uv_try_write and hands any rest to one uv_write at a time.
// When queued bytes exceed max_pending_bytes, or a write stays pending longer than
// write_deadline_ms, the connection is a slow consumer and is closed; others are unaffected.
//
// TLS (when the core has a TlsContext): INFO goes out in plain text, then the client's
// ClientHello starts the handshake (nats-server's and libnats' order). Ciphertext read from the
// socket goes through the connection's TlsSession and the plaintext it yields is parsed from
// the same loop-wide read buffer; `out_` always holds plaintext, sealed into TLS records by
// Flush just before the socket write. A handshake not finished within the TLS timeout gets
// nats-server's `-ERR 'Secure Connection - TLS Required'` and is closed; a failed handshake
// (a plain client, garbage, a refused certificate) is logged and closed.
//
// Closing retires the connection (none of its subscriptions receives anything from then on) and
// removes its first kRemoveOnClose subscriptions at once; the host hands a connection that still
// has some to its SubReaper, which removes the rest in slices (RemoveSubscriptions) and then
// destroys it, so that a million subscriptions never stall the loop.
//
// Ownership: the host (NatsServer) owns ClientConn objects. A ClientConn owns its uv_tcp_t
// (handle_.data = this) and its one uv_write_t. It dies in the host's ConnClosed, called from
// the close callback of its handle, or later in the SubReaper once its subscriptions are gone;
// Close() may be called any number of times and from inside any callback, and only records the
// first reason. Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/nats/auth.h"
#include "server/nats/core_options.h"
#include "server/nats/outbound_queue.h"
#include "server/nats/parser.h"
#include "server/nats/router.h"
#include "server/nats/sub_reaper.h"
#include "server/nats/sublist.h"
#include "server/util/tls_session.h"

namespace tandem::server {

class ClientConn;
class TlsContext;

enum class CloseReason {
  kNone,
  kClientClosed,  // EOF from the client
  kReadError,
  kWriteError,
  kProtocolViolation,  // parse error, bad CONNECT, HPUB without headers
  kMaxPayload,
  kMaxControlLine,
  kMaxConnections,
  kSlowConsumer,
  kStaleConnection,
  kServerShutdown,
  kAuthViolation,      // a CONNECT refused, or another op before an accepted CONNECT
  kAuthTimeout,        // no accepted CONNECT within authorization.timeout
  kTlsHandshakeError,  // failed or timed out
};
const char* CloseReasonName(CloseReason r);

// What a connection needs from the server that owns it.
class ConnHost {
 public:
  virtual ~ConnHost() = default;
  virtual Router& router() = 0;
  virtual const CoreOptions& options() const = 0;
  // The loop-wide read buffer.
  virtual uv_buf_t ReadBuffer() = 0;
  // Puts `c` on the list flushed before the loop next polls.
  virtual void QueueFlush(ClientConn* c) = 0;
  // Close callback of c's handle: the host destroys c.
  virtual void ConnClosed(ClientConn* c) = 0;
  // The live connection with this id, or null.
  virtual ClientConn* FindConn(uint64_t cid) = 0;
  virtual void CountSlowConsumer() = 0;
  virtual Authenticator& auth() = 0;
  // The client port's TLS configuration, or null when TLS is off.
  virtual const TlsContext* tls() const { return nullptr; }
};

class ClientConn final : public Subscriber, public Reapable, private ParserHandler {
 public:
  // Subscriptions removed by Close itself; the SubReaper removes the rest.
  static constexpr size_t kRemoveOnClose = 1024;

  ClientConn(ConnHost* host, uv_loop_t* loop, uint64_t cid);
  ~ClientConn() override;
  ClientConn(const ClientConn&) = delete;
  ClientConn& operator=(const ClientConn&) = delete;

  // The handle an accepted socket is opened on (uv_tcp_open). Initialised by the constructor.
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_); }
  // Once the socket is open on stream(): sends INFO (with `info_prefix`) and starts reading.
  void Start(std::string_view info_prefix);
  // Sends `-ERR '<err>'` (if non-empty), then closes. Idempotent.
  void Close(CloseReason reason, std::string_view err = {});
  // Hands queued bytes to the socket (called by the host's FlushAll, once per loop pass).
  void Flush();
  // Ping and write-deadline checks; `now_ms` is uv_now.
  void OnTick(uint64_t now_ms);

  // Subscriber
  void Deliver(Subscription& sub, const InboundMsg& msg) override;
  bool echo() const override { return echo_; }
  void Forget(const Subscription& sub) override;
  uint64_t PauseReading() override;
  uint64_t conn_id() const override { return cid_; }
  bool backlogged() const override;
  void WhenDrained(std::function<void()> fn) override;
  void ResumeReading();

  // Reapable. REQUIRES: closing().
  size_t RemoveSubscriptions(size_t max) override;
  size_t subscription_count() const { return subs_.size(); }

  uint64_t cid() const { return cid_; }
  bool closing() const { return closing_; }
  bool flush_queued() const { return flush_queued_; }
  CloseReason close_reason() const { return close_reason_; }
  const std::string& name() const { return name_; }
  // The user name (or nkey) the connection authenticated as; empty without users, for a token.
  const std::string& user() const { return user_; }
  // Bytes queued and not yet written.
  size_t pending_bytes() const { return out_.size(); }
  // What /connz shows of this connection; `now_ms` is uv_now.
  ConnSnapshot Snapshot(uint64_t now_ms) const;
  // With `verify_and_map`: the verified client certificate's identities, in the order the
  // users are matched (server/util/tls_identity.h); empty otherwise.
  // Set when the handshake completes, so before CONNECT is read.
  const std::vector<std::string>& tls_identities() const { return tls_identities_; }

 private:
  static void AllocCb(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
  static void ReadCb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void WriteCb(uv_write_t* req, int status) noexcept;
  static void CloseCb(uv_handle_t* h) noexcept;
  void OnRead(ssize_t nread, const uv_buf_t* buf);
  void OnWrite(int status);
  // TLS: feeds ciphertext, advances the handshake, parses the plaintext (tls_conn.cc).
  void OnTlsRead(const uv_buf_t* buf, size_t n);
  // TLS: seals out_ into records (once open) and appends the session's output to out_.
  void SealTls();
  // TLS: closes a connection whose handshake has not finished in time.
  void CheckTlsTimeout(uint64_t now_ms);

  // ParserHandler
  bool OnConnect(std::string_view json) override;
  bool OnPub(const PubArgs& pub) override;
  bool OnSub(std::string_view subject, std::string_view queue, std::string_view sid) override;
  bool OnUnsub(std::string_view sid, int64_t max) override;
  bool OnPing() override;
  bool OnPong() override;

  // Authentication and permissions (client_conn_auth.cc). Each returns false when the op must
  // not go on; the -ERR is sent and, for authentication, the connection closed.
  void StartAuth(uint64_t now_ms);
  bool Authenticate(const ConnectCredentials& creds);
  bool RequireAuth();
  bool PublishAllowed(std::string_view subject);
  bool SubscribeAllowed(std::string_view subject, std::string_view queue);
  bool DeliveryAllowed(const Subscription& sub, const InboundMsg& msg);
  bool AuthTimedOut(uint64_t now_ms);

  // True for the group members' subjects (CoreOptions::reserved_prefix).
  bool IsReserved(std::string_view subject) const;
  void Send(std::string_view bytes);
  void SendOk();
  void SendErr(std::string_view err);
  void RequestFlush();
  // Points write_bufs_ at every queued byte; returns how many entries it filled.
  unsigned PeekAll();
  // Sends nats-server's error for a SUB past nats.max_subscriptions (the connection stays).
  void RefuseSubscription();
  void HandleParseError(ParseError e);
  void ResumeStalledPublishers();
  // The queue went under the low-water mark (or the connection closes): resumes stalled
  // publishers and runs the drain waiters.
  void DrainedBelowLowWater();
  void RunDrainWaiters();
  std::string Describe() const;

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  // Constant after construction.
  ConnHost* const host_;
  const uint64_t cid_;

  uv_tcp_t handle_;
  uv_write_t write_req_;
  Parser parser_;
  std::string peer_;  // "ip:port"
  std::string peer_ip_;

  // Queued, not yet written. Its first `inflight_` bytes belong to the pending uv_write (which
  // points into the queue) and are consumed when it completes.
  OutboundQueue out_;
  size_t inflight_ = 0;
  std::vector<uv_buf_t> write_bufs_;  // out_'s chunks as handed to a write (PeekAll)
  bool writing_ = false;
  bool flush_queued_ = false;
  bool closing_ = false;
  CloseReason close_reason_ = CloseReason::kNone;

  // CONNECT options; the defaults are nats-server's for a client that never sent CONNECT.
  bool verbose_ = true;
  bool pedantic_ = true;
  bool echo_ = true;
  bool headers_ = false;
  bool no_responders_ = false;
  int protocol_ = 0;
  std::string name_, lang_, version_;
  bool member_ = false;  // CONNECT carried the group's member token (CoreOptions)

  // Authentication: until an accepted CONNECT, only CONNECT may come, and not after
  // auth_deadline_ms_. `nonce_` is the one sent in INFO (nkey users only). `perms_` is null for
  // a user without permissions; `grants_` exists only under allow_responses.
  bool authed_ = true;
  uint64_t auth_deadline_ms_ = 0;
  std::string nonce_;
  std::string user_;
  std::shared_ptr<PermissionSet> perms_;
  std::unique_ptr<ResponseGrants> grants_;

  std::unordered_map<std::string, SubscriptionPtr, StringHash, std::equal_to<>> subs_;

  // Flow control (nats-server's producer stall): while this connection's queue is above the
  // high-water mark, publishers feeding it stop reading; they resume when it drains below the
  // low-water mark, when it closes, or after kMaxStallMs at most. In-process publishers (the
  // streaming layer's deliveries) ask backlogged() and wait for WhenDrained instead.
  std::vector<uint64_t> stalled_publishers_;
  // In-process publishers waiting for the queue to drain (WhenDrained): told backlogged over
  // a lower mark (512 KiB), run under half of it or at the close.
  std::vector<std::function<void()>> drain_waiters_;
  bool paused_ = false;
  uint64_t paused_at_ms_ = 0;

  uint64_t start_ms_ = 0;
  uint64_t last_in_ms_ = 0;
  uint64_t next_ping_ms_ = 0;
  // Traffic of this connection, for /connz.
  uint64_t in_msgs_ = 0, in_bytes_ = 0, out_msgs_ = 0, out_bytes_ = 0;
  uint64_t write_started_ms_ = 0;
  int pings_out_ = 0;
  bool max_subs_logged_ = false;  // the limit is logged once per connection

  std::unique_ptr<TlsSession> tls_;  // null without TLS
  std::vector<std::string> tls_identities_;
};

}  // namespace tandem::server
