// client_conn.cc: one client connection (see client_conn.h). Sections, in order: libuv
// trampolines; start, read, write and close; protocol handlers (Process*); delivery; timers.
#include "server/nats/client_conn.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "server/bus/subject.h"
#include "server/nats/server_info.h"
#include "server/util/json_utf8.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace tandem::server {

namespace {

// Flow control: queue length above which publishers feeding a connection pause, and the longest
// a publisher stays paused for one consumer (the slow-consumer rules handle the rest).
constexpr size_t kStallHighBytes = 4 * 1024 * 1024;
// In-process publishers (the streaming layer) can wait without holding a client back, so they
// are told a connection is backlogged at a lower mark: what they would queue beyond it waits
// in the store, and the kernel's socket buffers keep the connection busy meanwhile. 512 KiB and
// not more: in a 1 -> 100 fan-out over 10 connections the queues at this mark were the largest
// item of the server's peak memory, and half of it still keeps the socket busy.
constexpr size_t kBacklogHighBytes = 512 * 1024;
constexpr uint64_t kMaxStallMs = 1000;

size_t StallHigh(const CoreOptions& o) {
  return std::min(kStallHighBytes, o.max_pending_bytes / 2);
}

size_t BacklogHigh(const CoreOptions& o) { return std::min(kBacklogHighBytes, StallHigh(o)); }

void AppendNumber(OutboundQueue* out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->Append(std::string_view(buf, static_cast<size_t>(end - buf)));
}

std::string PeerAddress(uv_tcp_t* tcp, std::string* ip_out) {
  sockaddr_storage ss{};
  int len = sizeof(ss);
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    uv_ip4_name(a, ip, sizeof(ip));
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    uv_ip6_name(a, ip, sizeof(ip));
    port = ntohs(a->sin6_port);
  }
  *ip_out = ip;
  return std::string(ip) + ":" + std::to_string(port);
}

}  // namespace

const char* CloseReasonName(CloseReason r) {
  switch (r) {
    case CloseReason::kNone:
      return "none";
    case CloseReason::kClientClosed:
      return "client closed";
    case CloseReason::kReadError:
      return "read error";
    case CloseReason::kWriteError:
      return "write error";
    case CloseReason::kProtocolViolation:
      return "protocol violation";
    case CloseReason::kMaxPayload:
      return "maximum payload exceeded";
    case CloseReason::kMaxControlLine:
      return "maximum control line exceeded";
    case CloseReason::kMaxConnections:
      return "maximum connections exceeded";
    case CloseReason::kSlowConsumer:
      return "slow consumer";
    case CloseReason::kStaleConnection:
      return "stale connection";
    case CloseReason::kServerShutdown:
      return "server shutdown";
    case CloseReason::kAuthViolation:
      return "authorization violation";
    case CloseReason::kAuthTimeout:
      return "authentication timeout";
    case CloseReason::kTlsHandshakeError:
      return "TLS handshake error";
  }
  return "unknown";
}

ClientConn::ClientConn(ConnHost* host, uv_loop_t* loop, uint64_t cid)
    : host_(host),
      cid_(cid),
      parser_(this, ParserLimits{host->options().max_control_line, host->options().max_payload}) {
  uv_tcp_init(loop, &handle_);
  handle_.data = this;
  write_req_.data = this;
}

ClientConn::~ClientConn() = default;

// --- libuv trampolines -----------------------------------------------------------------------

void ClientConn::AllocCb(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
  *buf = static_cast<ClientConn*>(h->data)->host_->ReadBuffer();
}

void ClientConn::ReadCb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept {
  static_cast<ClientConn*>(s->data)->OnRead(nread, buf);
}

void ClientConn::WriteCb(uv_write_t* req, int status) noexcept {
  static_cast<ClientConn*>(req->data)->OnWrite(status);
}

void ClientConn::CloseCb(uv_handle_t* h) noexcept {
  auto* c = static_cast<ClientConn*>(h->data);
  c->host_->ConnClosed(c);  // destroys c
}

// --- start, read, write, close ---------------------------------------------------------------

void ClientConn::Start(std::string_view info_prefix) {
  peer_ = PeerAddress(&handle_, &peer_ip_);
  uv_tcp_nodelay(&handle_, 1);
  const uint64_t now = uv_now(handle_.loop);
  start_ms_ = now;
  last_in_ms_ = now;
  next_ping_ms_ = now + host_->options().ping_interval_ms;
  StartAuth(now);
  std::string info;
  AppendInfo(info_prefix, cid_, peer_ip_, &info, nonce_);
  out_.Append(info);
  if (const TlsContext* ctx = host_->tls()) tls_ = std::make_unique<TlsSession>(*ctx);
  RequestFlush();
  int r = uv_read_start(stream(), AllocCb, ReadCb);
  if (r != 0) {
    spdlog::info("client {} ({}): read start failed: {}", cid_, peer_, uv_strerror(r));
    Close(CloseReason::kReadError);
    return;
  }
  spdlog::debug("client {} connected from {}", cid_, peer_);
}

void ClientConn::OnRead(ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0 || closing_) return;
  if (nread < 0) {
    Close(nread == UV_EOF ? CloseReason::kClientClosed : CloseReason::kReadError);
    return;
  }
  last_in_ms_ = uv_now(handle_.loop);
  if (tls_) return OnTlsRead(buf, static_cast<size_t>(nread));
  ParseError e = parser_.Feed(buf->base, static_cast<size_t>(nread));
  if (e != ParseError::kNone) HandleParseError(e);
}

void ClientConn::HandleParseError(ParseError e) {
  if (e == ParseError::kStopped || closing_) return;
  std::string_view text = ParseErrorText(e);
  CloseReason reason = CloseReason::kProtocolViolation;
  if (e == ParseError::kMaxPayload) reason = CloseReason::kMaxPayload;
  if (e == ParseError::kMaxControlLine) reason = CloseReason::kMaxControlLine;
  // With authentication on, the bytes near the error may be a CONNECT with a secret.
  spdlog::info("client {}: parse error '{}' at offset {} near {}", Describe(),
               text.empty() ? std::string_view("protocol violation") : text, parser_.error_offset(),
               host_->auth().required() ? std::string("(not shown)") : parser_.error_snippet());
  Close(reason, text);
}

void ClientConn::RequestFlush() {
  if (flush_queued_ || closing_) return;
  flush_queued_ = true;
  host_->QueueFlush(this);
}

void ClientConn::Flush() {
  flush_queued_ = false;
  if (closing_ || writing_) return;
  if (tls_) SealTls();
  if (out_.empty()) return;
  int n = uv_try_write(stream(), write_bufs_.data(), PeekAll());
  if (n == UV_EAGAIN || n == UV_ENOSYS) {
    n = 0;
  } else if (n < 0) {
    spdlog::info("client {}: write failed: {}", Describe(), uv_strerror(n));
    Close(CloseReason::kWriteError);
    return;
  }
  out_.Consume(static_cast<size_t>(n));
  if (out_.empty()) {
    DrainedBelowLowWater();
    return;
  }
  // Hand all the rest to one uv_write (so that, with TLS, everything sealed is in it); it
  // points into out_, whose bytes stay in place until OnWrite consumes them.
  const unsigned nbufs = PeekAll();
  inflight_ = out_.size();
  writing_ = true;
  write_started_ms_ = uv_now(handle_.loop);
  int r = uv_write(&write_req_, stream(), write_bufs_.data(), nbufs, WriteCb);
  if (r != 0) {  // no callback will come
    writing_ = false;
    spdlog::info("client {}: write failed: {}", Describe(), uv_strerror(r));
    Close(CloseReason::kWriteError);
  }
}

unsigned ClientConn::PeekAll() {
  write_bufs_.resize(out_.chunks());
  return static_cast<unsigned>(out_.Peek(write_bufs_.data(), write_bufs_.size()));
}

void ClientConn::OnWrite(int status) {
  writing_ = false;
  out_.Consume(inflight_);
  inflight_ = 0;
  if (closing_) return;
  if (status < 0) {
    spdlog::info("client {}: write failed: {}", Describe(), uv_strerror(status));
    Close(CloseReason::kWriteError);
    return;
  }
  if (!stalled_publishers_.empty() && pending_bytes() <= StallHigh(host_->options()) / 2) {
    ResumeStalledPublishers();
  }
  if (!drain_waiters_.empty() && pending_bytes() <= BacklogHigh(host_->options()) / 2) {
    RunDrainWaiters();
  }
  if (!out_.empty() || (tls_ && tls_->has_output())) RequestFlush();
}

void ClientConn::Close(CloseReason reason, std::string_view err) {
  if (closing_) return;
  if (!err.empty()) SendErr(err);
  closing_ = true;
  close_reason_ = reason;
  Retire();
  RemoveSubscriptions(kRemoveOnClose);
  DrainedBelowLowWater();
  uv_read_stop(stream());
  // Best effort: the -ERR line and whatever is queued go out if the socket takes them now.
  if (tls_ && !writing_) SealTls();
  if (!writing_ && !out_.empty()) {
    uv_try_write(stream(), write_bufs_.data(), PeekAll());
  }
  if (reason == CloseReason::kClientClosed || reason == CloseReason::kServerShutdown) {
    spdlog::debug("client {} closed: {}", Describe(), CloseReasonName(reason));
  } else {
    spdlog::info("client {} closed: {}", Describe(), CloseReasonName(reason));
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), CloseCb);
}

size_t ClientConn::RemoveSubscriptions(size_t max) {
  Router& router = host_->router();
  size_t n = 0;
  // Erasing the first element of an unordered_map, and finding the next first, are O(1).
  for (; n < max && !subs_.empty(); ++n) {
    auto it = subs_.begin();
    router.RemoveSubscription(it->second);
    subs_.erase(it);
  }
  return n;
}

std::string ClientConn::Describe() const {
  std::string d = std::to_string(cid_) + " (" + peer_;
  if (!name_.empty()) d += " '" + name_ + "'";
  return d + ")";
}

void ClientConn::Send(std::string_view bytes) {
  out_.Append(bytes);
  RequestFlush();
}

void ClientConn::SendOk() { Send("+OK\r\n"); }

void ClientConn::SendErr(std::string_view err) {
  out_.Append("-ERR '");
  out_.Append(err);
  out_.Append("'\r\n");
  RequestFlush();
}

// --- protocol handlers -----------------------------------------------------------------------

namespace {

// Compares in time independent of where the first difference is, so that the member token
// cannot be guessed byte by byte from response times.
bool TokenEquals(std::string_view expected, std::string_view given) {
  if (expected.empty() || expected.size() != given.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    diff |= static_cast<unsigned char>(expected[i] ^ given[i]);
  }
  return diff == 0;
}

}  // namespace

bool ClientConn::IsReserved(std::string_view subject) const {
  if (subject.empty() || subject[0] != '_') return false;  // the common case, without a call
  const std::string& prefix = host_->options().reserved_prefix;
  return !prefix.empty() && subject.substr(0, prefix.size()) == prefix;
}

bool ClientConn::OnConnect(std::string_view json) {
  // Strings that are not UTF-8 are read as nats-server reads them, not refused (json_utf8.h).
  std::optional<std::string> repaired = RepairJsonUtf8(json);
  if (repaired) json = *repaired;
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    spdlog::info("client {}: malformed CONNECT", Describe());
    Close(CloseReason::kProtocolViolation);
    return false;
  }
  ConnectCredentials creds;
  try {
    verbose_ = j.value("verbose", verbose_);
    pedantic_ = j.value("pedantic", pedantic_);
    echo_ = j.value("echo", echo_);
    headers_ = j.value("headers", headers_);
    no_responders_ = j.value("no_responders", no_responders_);
    protocol_ = j.value("protocol", protocol_);
    name_ = j.value("name", name_);
    lang_ = j.value("lang", lang_);
    version_ = j.value("version", version_);
    creds.user = j.value("user", std::string());
    creds.pass = j.value("pass", std::string());
    creds.token = j.value("auth_token", std::string());
    creds.nkey = j.value("nkey", std::string());
    creds.sig = j.value("sig", std::string());
    // The pair's link sends the member token as `ft_member`, beside its credentials; older
    // members sent it as `auth_token`, which still admits them where no token is configured.
    const std::string& member_token = host_->options().member_token;
    member_ = TokenEquals(member_token, j.value("ft_member", std::string())) ||
              TokenEquals(member_token, creds.token);
  } catch (const nlohmann::json::exception& e) {
    spdlog::info("client {}: bad CONNECT field: {}", Describe(), e.what());
    Close(CloseReason::kProtocolViolation);
    return false;
  }
  if (protocol_ < 0 || protocol_ > 1) {
    Close(CloseReason::kProtocolViolation, "invalid client protocol");
    return false;
  }
  if (no_responders_ && !headers_) {
    Close(CloseReason::kProtocolViolation, "no responders requires headers support");
    return false;
  }
  if (!Authenticate(creds)) return false;
  spdlog::debug("client {} CONNECT lang={} version={} protocol={} headers={}", Describe(), lang_,
                version_, protocol_, headers_);
  if (verbose_) SendOk();
  return true;
}

bool ClientConn::OnPub(const PubArgs& pub) {
  if (!RequireAuth()) return false;
  if (pub.has_headers && !headers_) {
    spdlog::info("client {}: HPUB without headers support", Describe());
    Close(CloseReason::kProtocolViolation);
    return false;
  }
  // Like nats-server, pedantic mode reports a wildcard publish subject but still routes it
  // (it can only reach subscriptions with the same wildcard tokens).
  if (pedantic_ && !IsValidLiteralSubject(pub.subject)) SendErr("Invalid Publish Subject");
  if (!member_ && IsReserved(pub.subject)) {
    // nats-server's answer to a publish its permissions deny: the connection stays open.
    SendErr("Permissions Violation for Publish to \"" + std::string(pub.subject) + "\"");
    spdlog::warn("client {}: publish to reserved subject {} refused", Describe(), pub.subject);
    return true;
  }
  if (!PublishAllowed(pub.subject)) return true;
  if (verbose_) SendOk();
  ++in_msgs_;
  in_bytes_ += pub.headers.size() + pub.payload.size();
  Router& router = host_->router();
  // The permissions travel with the message: the streaming layer checks channels by them.
  const InboundMsg msg{pub.subject, pub.reply, pub.headers, pub.payload, 0, perms_.get()};
  bool delivered = router.Route(this, msg);
  if (!delivered && no_responders_ && !pub.reply.empty() && !closing_) {
    router.SendNoResponders(this, pub.reply);
  }
  return !closing_;
}

bool ClientConn::OnSub(std::string_view subject, std::string_view queue, std::string_view sid) {
  if (!RequireAuth()) return false;
  // Like nats-server, the limit comes before anything else, a sid already in use included.
  const size_t max_subs = host_->options().max_subscriptions;
  if (max_subs > 0 && subs_.size() >= max_subs) {
    RefuseSubscription();
    return true;
  }
  if (!IsValidSubject(subject) || (!queue.empty() && !IsValidQueueName(queue))) {
    SendErr("Invalid Subject");
    return true;
  }
  if (!member_ && IsReserved(subject)) {
    SendErr("Permissions Violation for Subscription to \"" + std::string(subject) + "\"");
    spdlog::warn("client {}: subscription to reserved subject {} refused", Describe(), subject);
    return true;
  }
  if (!SubscribeAllowed(subject, queue)) return true;
  if (subs_.find(sid) == subs_.end()) {
    auto sub = std::make_shared<Subscription>(this, std::string(subject), std::string(queue),
                                              std::string(sid));
    if (!host_->router().AddSubscription(sub)) {
      SendErr("Invalid Subject");
      return true;
    }
    subs_.emplace(sub->sid, std::move(sub));
  }
  if (verbose_) SendOk();
  return true;
}

void ClientConn::RefuseSubscription() {
  if (!max_subs_logged_) {
    max_subs_logged_ = true;
    spdlog::warn("client {}: maximum subscriptions exceeded ({}); refusing further SUBs",
                 Describe(), host_->options().max_subscriptions);
  }
  SendErr("maximum subscriptions exceeded");
}

bool ClientConn::OnUnsub(std::string_view sid, int64_t max) {
  if (!RequireAuth()) return false;
  auto it = subs_.find(sid);
  if (it != subs_.end()) {
    SubscriptionPtr sub = it->second;
    if (max > 0 && static_cast<uint64_t>(max) > sub->delivered) {
      sub->max = static_cast<uint64_t>(max);
    } else {
      host_->router().RemoveSubscription(sub);
      subs_.erase(it);
    }
  }
  if (verbose_) SendOk();
  return true;
}

bool ClientConn::OnPing() {
  if (!RequireAuth()) return false;
  Send("PONG\r\n");
  return true;
}

bool ClientConn::OnPong() {
  if (!RequireAuth()) return false;
  pings_out_ = 0;
  return true;
}

ConnSnapshot ClientConn::Snapshot(uint64_t now_ms) const {
  ConnSnapshot s;
  s.cid = cid_;
  s.ip = peer_ip_;
  size_t colon = peer_.rfind(':');
  if (colon != std::string::npos) s.port = std::atoi(peer_.c_str() + colon + 1);
  s.age_ms = now_ms - std::min(now_ms, start_ms_);
  s.idle_ms = now_ms - std::min(now_ms, last_in_ms_);
  s.pending_bytes = pending_bytes();
  s.in_msgs = in_msgs_;
  s.in_bytes = in_bytes_;
  s.out_msgs = out_msgs_;
  s.out_bytes = out_bytes_;
  s.subscriptions = subs_.size();
  s.name = name_;
  s.lang = lang_;
  s.version = version_;
  s.user = user_;
  if (tls_ != nullptr && tls_->open()) {
    s.tls_version = tls_->version();
    s.tls_cipher = tls_->cipher();
  }
  return s;
}

// --- delivery --------------------------------------------------------------------------------

void ClientConn::Deliver(Subscription& sub, const InboundMsg& msg) {
  if (closing_) return;
  if (!member_ && IsReserved(msg.subject)) return;  // a wildcard reaches no member's subject
  if (perms_ != nullptr && !DeliveryAllowed(sub, msg)) return;
  const bool hmsg = headers_ && !msg.headers.empty();
  const size_t total = (hmsg ? msg.headers.size() : 0) + msg.payload.size();
  const size_t line = 32 + msg.subject.size() + sub.sid.size() + msg.reply.size();
  if (pending_bytes() + line + total > host_->options().max_pending_bytes) {
    host_->CountSlowConsumer();
    spdlog::warn("slow consumer: client {} has {} bytes pending, closing", Describe(),
                 pending_bytes());
    Close(CloseReason::kSlowConsumer);
    return;
  }
  ++out_msgs_;
  out_bytes_ += total;
  out_.Append(hmsg ? std::string_view("HMSG ") : std::string_view("MSG "));
  out_.Append(msg.subject);
  out_.Append(' ');
  out_.Append(sub.sid);
  out_.Append(' ');
  if (!msg.reply.empty()) {
    out_.Append(msg.reply);
    out_.Append(' ');
  }
  if (hmsg) {
    AppendNumber(&out_, msg.headers.size());
    out_.Append(' ');
  }
  AppendNumber(&out_, total);
  out_.Append("\r\n");
  if (hmsg) out_.Append(msg.headers);
  out_.Append(msg.payload);
  out_.Append("\r\n");
  RequestFlush();
  if (pending_bytes() > StallHigh(host_->options())) {
    Subscriber* publisher = host_->router().current_publisher();
    if (publisher != nullptr && publisher != this) {
      const uint64_t id = publisher->PauseReading();
      if (id != 0 && std::find(stalled_publishers_.begin(), stalled_publishers_.end(), id) ==
                         stalled_publishers_.end()) {
        stalled_publishers_.push_back(id);
      }
    }
  }
}

uint64_t ClientConn::PauseReading() {
  if (closing_) return 0;
  if (!paused_) {
    paused_ = true;
    paused_at_ms_ = uv_now(handle_.loop);
    uv_read_stop(stream());
  }
  return cid_;
}

void ClientConn::ResumeReading() {
  if (!paused_ || closing_) return;
  paused_ = false;
  int r = uv_read_start(stream(), AllocCb, ReadCb);
  if (r != 0) {
    spdlog::info("client {}: read start failed: {}", Describe(), uv_strerror(r));
    Close(CloseReason::kReadError);
  }
}

bool ClientConn::backlogged() const {
  return !closing_ && pending_bytes() > BacklogHigh(host_->options());
}

void ClientConn::WhenDrained(std::function<void()> fn) {
  if (!backlogged()) return fn();
  drain_waiters_.push_back(std::move(fn));
}

void ClientConn::DrainedBelowLowWater() {
  if (!stalled_publishers_.empty()) ResumeStalledPublishers();
  if (!drain_waiters_.empty()) RunDrainWaiters();
}

void ClientConn::RunDrainWaiters() {
  std::vector<std::function<void()>> waiters;
  waiters.swap(drain_waiters_);
  for (auto& fn : waiters) fn();
}

void ClientConn::ResumeStalledPublishers() {
  std::vector<uint64_t> ids;
  ids.swap(stalled_publishers_);
  for (uint64_t id : ids) {
    if (ClientConn* c = host_->FindConn(id)) c->ResumeReading();
  }
}

void ClientConn::Forget(const Subscription& sub) {
  auto it = subs_.find(std::string_view(sub.sid));
  if (it != subs_.end() && it->second.get() == &sub) subs_.erase(it);
}

// --- timers ----------------------------------------------------------------------------------

void ClientConn::OnTick(uint64_t now_ms) {
  if (closing_ || AuthTimedOut(now_ms)) return;
  const CoreOptions& o = host_->options();
  if (tls_ && !tls_->open()) {  // nothing but the handshake until it is done
    CheckTlsTimeout(now_ms);
    return;
  }
  if (paused_ && now_ms - paused_at_ms_ >= kMaxStallMs) ResumeReading();
  if (writing_ && o.write_deadline_ms > 0 && now_ms - write_started_ms_ >= o.write_deadline_ms) {
    host_->CountSlowConsumer();
    spdlog::warn("slow consumer: client {} write pending for {} ms, closing", Describe(),
                 now_ms - write_started_ms_);
    Close(CloseReason::kSlowConsumer);
    return;
  }
  if (o.ping_interval_ms == 0 || now_ms < next_ping_ms_) return;
  next_ping_ms_ = now_ms + o.ping_interval_ms;
  // Recent traffic from the client proves it alive; no ping needed (nats-server does the same).
  if (pings_out_ == 0 && now_ms - last_in_ms_ < o.ping_interval_ms) return;
  if (pings_out_ + 1 > o.max_pings_out) {
    Close(CloseReason::kStaleConnection, "Stale Connection");
    return;
  }
  ++pings_out_;
  Send("PING\r\n");
}

}  // namespace tandem::server
