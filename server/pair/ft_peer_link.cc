// ft_peer_link.cc: the loop-native NATS client that carries heartbeats between group members
// (see ft_peer_link.h for the connection rules and the lifetime rules).
//
// Life of the link, one state at a time (State in the header):
//   kIdle -Start-> kResolving -> kConnecting -> kWaitInfo -> kWaitPong -> kConnected
//   any attempt state -(error, timeout)-> kDropping -(tcp closed)-> next server, or kWaiting
//   kResolving -(timeout)-> kAbandoned -(getaddrinfo callback)-> next server, or kWaiting
//   kConnected -(EOF, error, -ERR, pings)-> kDropping -(tcp closed)-> kWaiting -> kResolving
//   any -Close-> kClosed (final)
// timer_ is the attempt timeout from kResolving to kWaitPong and the reconnect wait in kWaiting;
// ping_timer_ runs in kConnected only. The TCP handle is closed and its close callback awaited
// before the next attempt opens it again, so there is never more than one socket.
//
// Sections, in order: helpers; construction and public methods; attempts; dropping and
// closing; I/O; server ops (NatsClientHandler); trampolines.
#include "server/pair/ft_peer_link.h"

#include <netdb.h>
#include <string.h>

#include <cassert>
#include <cstdlib>
#include <memory>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "server/pair/ft_credentials.h"
#include "server/util/close_handles.h"
#include "server/util/ip_literal.h"
#include "server/util/quoting.h"
#include "server/util/tls_context.h"
#include "server/util/value_syntax.h"

#include <netinet/in.h>

namespace tandem::server {
namespace {

// One uv_write with the bytes it sends; freed in WriteCb.
struct WriteReq {
  uv_write_t req;
  std::string data;
};

}  // namespace

// ---- construction and public methods ---------------------------------------------------------

PeerLink::PeerLink(uv_loop_t* loop, Options options, Handlers handlers)
    : loop_(loop),
      options_(std::move(options)),
      handlers_(std::move(handlers)),
      loop_thread_(std::this_thread::get_id()),
      reader_(this, ClientReaderLimits()) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  uv_timer_init(loop_, &ping_timer_);
  ping_timer_.data = this;
  gai_req_.data = this;
  connect_req_.data = this;
}

PeerLink::~PeerLink() {
  // REQUIRES: Close() finished (every handle closed, no request in flight).
  assert(state_ == State::kClosed && pending_closes_ == 0);
}

void PeerLink::AssertLoopThread() const { assert(std::this_thread::get_id() == loop_thread_); }

void PeerLink::Start() {
  AssertLoopThread();
  if (state_ != State::kIdle) return;
  if (options_.servers.empty()) {
    spdlog::error("ft: peer link {} has no server to connect to", options_.name);
    return;
  }
  index_ = 0;
  tried_in_pass_ = 0;
  BeginAttempt();
}

void PeerLink::Publish(std::string_view payload) {
  AssertLoopThread();
  if (state_ != State::kConnected) return;
  std::string op = "PUB ";
  op.reserve(options_.subject.size() + payload.size() + 32);
  op += options_.subject;
  op += ' ';
  op += std::to_string(payload.size());
  op += "\r\n";
  op += payload;
  op += "\r\n";
  Send(op);
}

void PeerLink::Close(std::function<void()> done) {
  AssertLoopThread();
  if (state_ == State::kClosed) return;
  const bool cancelled = state_ == State::kAbandoned;  // uv_cancel already asked
  state_ = State::kClosed;
  close_done_ = std::move(done);
  pending_closes_ = 1;  // the two timers, together
  CloseHandles(
      {reinterpret_cast<uv_handle_t*>(&timer_), reinterpret_cast<uv_handle_t*>(&ping_timer_)},
      [this] { HandleClosed(); });
  if (tcp_open_) {
    ++pending_closes_;
    if (!tcp_closing_) {
      tcp_closing_ = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), TcpCloseCb);
    }
  }
  if (gai_pending_) {
    ++pending_closes_;
    // Fails when the lookup is already running; its callback comes either way.
    if (!cancelled) uv_cancel(reinterpret_cast<uv_req_t*>(&gai_req_));
  }
}

// ---- attempts --------------------------------------------------------------------------------

void PeerLink::BeginAttempt() {
  ++attempts_;
  state_ = State::kResolving;
  uv_timer_start(&timer_, TimerCb, static_cast<uint64_t>(options_.connect_timeout_ms), 0);
  std::optional<HostPort> hp = ParsePeerHostPort(server());
  if (!hp) {
    spdlog::error("ft: peer link: bad server address '{}' (want host:port)", server());
    NextAttempt();
    return;
  }
  const std::string& host = hp->host;
  const std::string port = std::to_string(hp->port);
  // An IP literal needs no lookup: connect at once, without a trip through the libuv pool
  // (which the store's lock attempts use too).
  sockaddr_storage literal{};
  if (IpLiteralAddress(host, hp->port, &literal)) {
    addrs_.assign(1, literal);
    addr_index_ = 0;
    ConnectAddr();
    return;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  int rc = uv_getaddrinfo(loop_, &gai_req_, GetAddrInfoCb, host.c_str(), port.c_str(), &hints);
  if (rc < 0) {
    spdlog::debug("ft: peer link: resolving {}: {}", server(), uv_strerror(rc));
    NextAttempt();
    return;
  }
  gai_pending_ = true;
}

void PeerLink::OnResolved(int status, addrinfo* res) {
  gai_pending_ = false;
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owned(res, uv_freeaddrinfo);
  if (state_ == State::kClosed) return HandleClosed();
  if (state_ == State::kAbandoned) return NextAttempt();
  addrs_.clear();
  for (addrinfo* a = status < 0 ? nullptr : res; a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    sockaddr_storage ss{};
    memcpy(&ss, a->ai_addr, a->ai_addrlen);
    addrs_.push_back(ss);
  }
  if (addrs_.empty()) {
    spdlog::debug("ft: peer link: resolving {}: {}", server(),
                  status < 0 ? uv_strerror(status) : "no address");
    return NextAttempt();
  }
  addr_index_ = 0;
  ConnectAddr();
}

// Connects to addrs_[addr_index_]; a refusal moves on to the next address of the same server
// (a name may resolve to ::1 and 127.0.0.1 while the server listens on only one of them).
void PeerLink::ConnectAddr() {
  uv_tcp_init(loop_, &tcp_);
  tcp_.data = this;
  tls_.reset();
  start_tls_ = false;
  tcp_open_ = true;
  tcp_closing_ = false;
  state_ = State::kConnecting;
  uv_tcp_nodelay(&tcp_, 1);
  int rc = uv_tcp_connect(&connect_req_, &tcp_,
                          reinterpret_cast<const sockaddr*>(&addrs_[addr_index_]), ConnectCb);
  if (rc < 0) {
    try_next_addr_ = addr_index_ + 1 < addrs_.size();
    Drop(uv_strerror(rc));
  }
}

void PeerLink::OnConnect(int status) {
  if (status == UV_ECANCELED || state_ != State::kConnecting) return;  // torn down meanwhile
  if (status < 0) {
    try_next_addr_ = addr_index_ + 1 < addrs_.size();
    return Drop(uv_strerror(status));
  }
  reader_.Reset();
  out_.clear();
  pings_out_ = 0;
  state_ = State::kWaitInfo;
  int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), AllocCb, ReadCb);
  if (rc < 0) Drop(uv_strerror(rc));
}

void PeerLink::OnConnectTimeout() {
  switch (state_) {
    case State::kWaiting:  // timer_ was the reconnect wait
      BeginAttempt();
      break;
    case State::kResolving:
      state_ = State::kAbandoned;  // OnResolved moves on
      uv_cancel(reinterpret_cast<uv_req_t*>(&gai_req_));
      spdlog::debug("ft: peer link: resolving {} timed out", server());
      break;
    case State::kConnecting:
    case State::kWaitInfo:
    case State::kWaitPong:
      Drop("connect timeout");
      break;
    case State::kDropping:  // on the way to the next address: the attempt is over anyway
      try_next_addr_ = false;
      break;
    default:
      break;
  }
}

// After a failed attempt (no socket left open): the next server, or a wait after a full pass.
void PeerLink::NextAttempt() {
  uv_timer_stop(&timer_);
  index_ = (index_ + 1) % options_.servers.size();
  if (++tried_in_pass_ >= options_.servers.size()) {
    tried_in_pass_ = 0;
    WaitThenAttempt();
  } else {
    BeginAttempt();
  }
}

void PeerLink::WaitThenAttempt() {
  state_ = State::kWaiting;
  uv_timer_start(&timer_, TimerCb, static_cast<uint64_t>(options_.reconnect_wait_ms), 0);
}

void PeerLink::Established() {
  uv_timer_stop(&timer_);
  state_ = State::kConnected;
  tried_in_pass_ = 0;
  pings_out_ = 0;
  ++established_;
  if (options_.ping_interval_ms > 0) {
    auto every = static_cast<uint64_t>(options_.ping_interval_ms);
    uv_timer_start(&ping_timer_, PingTimerCb, every, every);
  }
  if (handlers_.on_connected) handlers_.on_connected("nats://" + server());
}

// ---- dropping and closing --------------------------------------------------------------------

void PeerLink::Drop(std::string_view why) {
  if (!socket_open()) return;
  was_connected_ = state_ == State::kConnected;
  uv_timer_stop(&ping_timer_);  // timer_ runs on: it still bounds the attempt
  state_ = State::kDropping;
  tcp_closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), TcpCloseCb);
  if (!was_connected_) {
    spdlog::debug("ft: peer link: {}: {}", server(), why);
    return;
  }
  spdlog::info("ft: peer link to {} lost: {}", server(), why);
  if (handlers_.on_disconnected) handlers_.on_disconnected();  // may Close() this link
}

void PeerLink::OnTcpClosed() {
  tcp_open_ = false;
  tcp_closing_ = false;
  out_.clear();
  write_in_flight_ = false;  // libuv cancelled the write in flight before closing
  in_flight_bytes_ = 0;
  if (state_ == State::kClosed) return HandleClosed();
  if (try_next_addr_) {
    try_next_addr_ = false;
    ++addr_index_;
    return ConnectAddr();
  }
  if (was_connected_) {
    was_connected_ = false;
    index_ = (index_ + 1) % options_.servers.size();
    tried_in_pass_ = 0;
    WaitThenAttempt();
  } else {
    NextAttempt();
  }
}

void PeerLink::HandleClosed() {
  if (--pending_closes_ > 0) return;
  std::function<void()> done = std::move(close_done_);
  if (done) done();  // may destroy this PeerLink: nothing after this line
}

// ---- I/O -------------------------------------------------------------------------------------

void PeerLink::OnRead(ssize_t nread) {
  if (nread == 0 || !socket_open()) return;
  if (nread < 0) {
    return Drop(nread == UV_EOF ? "connection closed by the server"
                                : uv_strerror(static_cast<int>(nread)));
  }
  if (tls_) return OnTlsRead(static_cast<size_t>(nread));
  ReadError e = reader_.Feed(read_buf_, static_cast<size_t>(nread));
  if (start_tls_ && socket_open()) return StartTls();
  if (e == ReadError::kNone || e == ReadError::kStopped) return;  // kStopped: already handled
  spdlog::warn("ft: peer link to {}: {} at {}", server(), ReadErrorText(e),
               reader_.error_snippet());
  Drop(ReadErrorText(e));
}

void PeerLink::Send(std::string_view bytes) {
  if (!socket_open()) return;
  if (out_.size() + in_flight_bytes_ + bytes.size() > options_.max_outbound) {
    return Drop("outbound queue full, the server is not reading");
  }
  if (tls_ && tls_->open()) {
    if (!tls_->Write(bytes)) return Drop(tls_->error());
    tls_->TakeOutput(&out_);
  } else {
    out_.append(bytes);
  }
  Flush();
}

void PeerLink::Flush() {
  if (write_in_flight_ || out_.empty() || !socket_open()) return;
  auto* w = new WriteReq;
  w->data.swap(out_);
  w->req.data = w;
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned int>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, WriteCb);
  if (rc < 0) {
    delete w;  // no callback comes for a failed uv_write
    return Drop(uv_strerror(rc));
  }
  write_in_flight_ = true;
  in_flight_bytes_ = w->data.size();
}

void PeerLink::OnWritten(int status) {
  write_in_flight_ = false;
  in_flight_bytes_ = 0;
  if (status == UV_ECANCELED) return;  // the socket is closing
  if (status < 0) return Drop(uv_strerror(status));
  Flush();
}

void PeerLink::OnPingTimer() {
  if (state_ != State::kConnected) return;
  if (pings_out_ >= options_.max_pings_out) return Drop("no PONG for our PINGs");
  ++pings_out_;
  Send("PING\r\n");
}

// The credential fields of CONNECT (a leading comma each): `ft_member`, then the user and
// password, the token (or else the member token again, as `auth_token`, which members before
// `ft_member` read), and the nkey with its signature of the INFO's nonce.
std::string PeerLink::ConnectCredentialFields() const {
  const ConnectCredentials c = PairConnectCredentials(options_.credentials, nonce_);
  std::string f;
  auto field = [&f](std::string_view name, std::string_view value) {
    if (value.empty()) return;
    f += fmt::format(",\"{}\":\"{}\"", name, JsonEscape(value));
  };
  field("ft_member", options_.member_token);
  field("user", c.user);
  field("pass", c.pass);
  field("auth_token", c.token.empty() ? options_.member_token : c.token);
  field("nkey", c.nkey);
  field("sig", c.sig);
  return f;
}

// ---- server ops ------------------------------------------------------------------------------
// Each returns whether the reader may go on: false once the socket is closing (dropped here or
// closed by a handler), so the reader never calls back into a link that has let go.

bool PeerLink::OnInfo(std::string_view json) {
  if (state_ != State::kWaitInfo || tls_) return socket_open();  // an async INFO: nothing we use
  // Read once: whether TLS comes next, and the nonce CONNECT signs (after the handshake, if any).
  auto info = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  const bool tls_required = info.is_object() && info.value("tls_required", false);
  nonce_ = info.is_object() ? info.value("nonce", std::string()) : std::string();
  if (options_.tls) {
    start_tls_ = true;  // OnRead starts it once the reader has returned
    return false;       // the bytes after INFO are TLS records, read by OnTlsRead
  }
  if (tls_required) {
    if (last_tls_error_ != "required") {
      last_tls_error_ = "required";
      spdlog::warn("ft: peer link to {}: the server requires TLS; set ft.tls (ca_file)", server());
    }
    Drop("the server requires TLS");
    return false;
  }
  SendConnect();
  return socket_open();
}

void PeerLink::SendConnect() {
  state_ = State::kWaitPong;
  std::string hello = "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"";
  hello += JsonEscape(options_.name);
  hello += "\",\"lang\":\"C++\",\"version\":\"" TANDEM_VERSION "\",\"protocol\":1,\"echo\":true";
  hello += ConnectCredentialFields();
  hello += "}\r\nSUB ";
  hello += options_.subject;
  hello += " 1\r\nPING\r\n";
  Send(hello);
}

// ---- TLS -------------------------------------------------------------------------------------

void PeerLink::StartTls() {
  start_tls_ = false;
  // The address parsed when this attempt began (BeginAttempt refuses one that does not parse).
  std::optional<HostPort> hp = ParsePeerHostPort(server());
  tls_ = std::make_unique<TlsSession>(*options_.tls, hp ? hp->host : std::string());
  reader_.Reset();
  OnTlsRead(0);  // produces the ClientHello
}

void PeerLink::OnTlsRead(size_t n) {
  const TlsSession::Pumped r = tls_->Pump(
      read_buf_, n, read_buf_, sizeof(read_buf_),
      [this] {
        last_tls_error_.clear();
        SendConnect();  // its records follow the handshake's in the session's output
        return socket_open();
      },
      [this](const char* data, size_t len) {
        ReadError e = reader_.Feed(data, len);
        if (e == ReadError::kStopped) return false;
        if (e != ReadError::kNone) {
          Drop(ReadErrorText(e));
          return false;
        }
        return true;
      });
  if (r == TlsSession::Pumped::kStopped) return;
  tls_->TakeOutput(&out_);
  Flush();
  if (r == TlsSession::Pumped::kHandshakeFailed) {
    if (last_tls_error_ != tls_->error()) {
      last_tls_error_ = tls_->error();
      spdlog::warn("ft: peer link to {}: TLS handshake failed: {}", server(), tls_->error());
    }
    return Drop("TLS handshake failed");
  }
  if (r == TlsSession::Pumped::kFailed) return Drop(tls_->error());
}

bool PeerLink::OnMsg(const MsgArgs& msg) {
  if (state_ == State::kWaitInfo) {
    Drop("the server did not start with INFO");
    return false;
  }
  if (handlers_.on_heartbeat) handlers_.on_heartbeat(std::string(msg.payload));
  return socket_open();
}

bool PeerLink::OnPing() {
  Send("PONG\r\n");
  return socket_open();
}

bool PeerLink::OnPong() {
  if (state_ == State::kWaitInfo) {
    Drop("the server did not start with INFO");
  } else if (state_ == State::kWaitPong) {
    Established();
  } else {
    pings_out_ = 0;
  }
  return socket_open();
}

bool PeerLink::OnOk() { return socket_open(); }

bool PeerLink::OnErr(std::string_view text) {
  spdlog::warn("ft: peer link to {}: the server says -ERR '{}'", server(), text);
  Drop("-ERR from the server");
  return false;
}

// ---- trampolines -----------------------------------------------------------------------------

void PeerLink::GetAddrInfoCb(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept {
  static_cast<PeerLink*>(req->data)->OnResolved(status, res);
}

void PeerLink::ConnectCb(uv_connect_t* req, int status) noexcept {
  static_cast<PeerLink*>(req->data)->OnConnect(status);
}

void PeerLink::AllocCb(uv_handle_t* handle, size_t, uv_buf_t* buf) noexcept {
  auto* self = static_cast<PeerLink*>(handle->data);
  *buf = uv_buf_init(self->read_buf_, sizeof(self->read_buf_));
}

void PeerLink::ReadCb(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) noexcept {
  static_cast<PeerLink*>(stream->data)->OnRead(nread);
}

void PeerLink::WriteCb(uv_write_t* req, int status) noexcept {
  auto* self = static_cast<PeerLink*>(req->handle->data);
  delete static_cast<WriteReq*>(req->data);
  self->OnWritten(status);
}

void PeerLink::TimerCb(uv_timer_t* handle) noexcept {
  static_cast<PeerLink*>(handle->data)->OnConnectTimeout();
}

void PeerLink::PingTimerCb(uv_timer_t* handle) noexcept {
  static_cast<PeerLink*>(handle->data)->OnPingTimer();
}

void PeerLink::TcpCloseCb(uv_handle_t* handle) noexcept {
  static_cast<PeerLink*>(handle->data)->OnTcpClosed();
}

}  // namespace tandem::server
