// http_server.cc: the monitoring HTTP/1.1 server: listener, one HttpConn per socket, request
// parsing with http_parser, routing, response writing and the close protocol.
//
// Sections, in order: helpers (reason phrases, percent decoding, host parsing), HttpConn
// (read -> parse -> dispatch -> write, timers, close), HttpServer::Impl (listener, accept,
// shutdown), the public HttpServer methods.
//
// Slow clients: every connection is in an HttpAdmission table with its phase (reading a request,
// idle between requests, answering its last one); its one timer is the header timeout while it
// reads a request and the idle timeout between requests. A newcomer over a limit closes the
// victim the table names before it is served.
//
// Close protocol: an HttpConn owns a uv_tcp_t and a uv_timer_t. Close() may be called any
// number of times; the first call closes both handles, and the connection is removed
// from the server (which destroys it) in the second close callback. Write requests own their
// bytes and are freed in their callback, which libuv also runs (with UV_ECANCELED) for writes
// still queued when the socket closes, always before the socket's close callback.
#include "server/monitor/http_server.h"

#include <http_parser.h>
#include <uv.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <exception>
#include <optional>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "server/monitor/http_admission.h"
#include "server/monitor/http_limit_log.h"
#include "server/util/close_handles.h"
#include "server/util/ip_literal.h"
#include "server/util/tls_context.h"
#include "server/util/tls_session.h"

namespace tandem::server {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Fills `addr` from a numeric IPv4/IPv6 host, "localhost" or "" (all interfaces).
bool ParseHost(const std::string& host, int port, sockaddr_storage* addr) {
  std::string h = host;
  if (h.empty()) h = "0.0.0.0";
  if (h == "localhost") h = "127.0.0.1";
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  return IpLiteralAddress(h, port, addr);
}

}  // namespace

std::string HttpRequest::Param(const std::string& key, std::string fallback) const {
  auto it = params.find(key);
  return it == params.end() ? std::move(fallback) : it->second;
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

const char* HttpServer::ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

std::string HttpServer::PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::map<std::string, std::string> HttpServer::ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true);
    out.emplace(std::move(key), std::move(value));  // keeps the first value of a key
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// HttpConn

class HttpConn {
 public:
  HttpConn(HttpServer::Impl* server, uv_loop_t* loop, const HttpServerOptions& options,
           uint64_t id);
  HttpConn(const HttpConn&) = delete;
  HttpConn& operator=(const HttpConn&) = delete;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }
  // Starts reading a connection that the admission table holds, from `peer`.
  void Start(std::string peer);
  void Close();

 private:
  struct WriteReq {
    uv_write_t req;
    HttpConn* conn;
    std::string data;
  };

  static void AllocCb(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
  static void ReadCb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) noexcept;
  static void WriteCb(uv_write_t* req, int status) noexcept;
  static void TimerCb(uv_timer_t* t) noexcept;

  static int OnMessageBeginCb(http_parser* p) noexcept;
  static int OnUrlCb(http_parser* p, const char* at, size_t len) noexcept;
  static int OnHeaderFieldCb(http_parser* p, const char* at, size_t len) noexcept;
  static int OnHeaderValueCb(http_parser* p, const char* at, size_t len) noexcept;
  static int OnHeadersCompleteCb(http_parser* p) noexcept;
  static int OnBodyCb(http_parser* p, const char* at, size_t len) noexcept;
  static int OnMessageCompleteCb(http_parser* p) noexcept;
  static const http_parser_settings* Settings();

  void OnRead(ssize_t n, const uv_buf_t* buf);
  void Parse(const char* data, size_t n);
  void OnTlsRead(const char* data, size_t n);
  void Send(std::string wire);
  void OnWritten(WriteReq* w, int status);
  bool CountHeaderBytes(size_t len);
  void FinishHeader();
  int OnMessageComplete();
  void Respond(const HttpResponse& response, bool head, bool keep_alive);
  void Reject(int status, std::string body);
  void Write(std::string data);
  void ArmIdleTimer();
  void SetPhase(HttpAdmission::Phase phase);

  HttpServer::Impl* const server_;
  const HttpServerOptions& options_;
  const uint64_t id_;
  std::string peer_;
  HttpAdmission::Phase phase_ = HttpAdmission::Phase::kRequest;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  http_parser parser_;
  char read_buf_[4096];
  std::unique_ptr<TlsSession> tls_;  // HTTPS only

  // The request being parsed.
  HttpRequest request_;
  std::string url_;
  std::string header_field_, header_value_;
  bool in_header_value_ = false;
  size_t header_bytes_ = 0;
  size_t body_bytes_ = 0;
  int reject_status_ = 0;  // 413 when a limit was crossed inside a parser callback

  size_t pending_bytes_ = 0;
  bool close_after_write_ = false;  // no more requests; close once the writes have drained
  int pending_writes_ = 0;
  bool closing_ = false;
};

// ---------------------------------------------------------------------------------------------
// HttpServer::Impl

class HttpServer::Impl {
 public:
  Impl(uv_loop_t* loop, HttpServerOptions options)
      : loop_(loop),
        options_(std::move(options)),
        owner_(std::this_thread::get_id()),
        admission_(static_cast<size_t>(std::max(options_.max_connections, 1)),
                   static_cast<size_t>(std::max(options_.max_connections_per_peer, 0))),
        limit_log_(options_.limit_log_interval_ms,
                   static_cast<size_t>(std::max(options_.max_connections, 1)),
                   static_cast<size_t>(std::max(options_.max_connections_per_peer, 0)),
                   options_.header_timeout_ms) {}

  Status Listen(const std::string& host, int port);
  void Shutdown(std::function<void()> done);
  void Dispatch(const HttpRequest& request, HttpResponse* response);
  void RemoveConn(HttpConn* conn);
  void AssertLoopThread() const { assert(std::this_thread::get_id() == owner_); }

  static void ConnectionCb(uv_stream_t* s, int status) noexcept;
  static void ListenerCloseCb(uv_handle_t* h) noexcept;
  static void ReportTimerCb(uv_timer_t* t) noexcept;
  static void ReportTimerCloseCb(uv_handle_t* h) noexcept;
  void OnConnection(int status);
  // Counts a slow-client event and writes the warning line if one is due (else arms the report
  // timer for when it will be).
  void CountLimitEvent(HttpLimitLog::Event event, const std::string& peer);
  void ReportLimits();
  void MaybeFinishShutdown();

  uv_loop_t* const loop_;
  const HttpServerOptions options_;
  const std::thread::id owner_;
  uv_tcp_t listener_;
  bool listening_ = false;
  bool listener_open_ = false;
  int port_ = 0;
  struct Route {
    Handler get;   // GET and HEAD
    Handler post;  // POST
  };
  std::unordered_map<std::string, Route> routes_;
  std::unordered_map<HttpConn*, std::unique_ptr<HttpConn>> conns_;  // closing ones included
  std::unordered_map<uint64_t, HttpConn*> by_id_;                   // the admitted, open ones
  HttpAdmission admission_;
  HttpLimitLog limit_log_;
  uint64_t next_id_ = 1;
  uv_timer_t report_timer_;
  bool report_timer_open_ = false;
  uint64_t requests_served_ = 0;
  bool shutting_down_ = false;
  std::function<void()> shutdown_done_;
};

HttpConn::HttpConn(HttpServer::Impl* server, uv_loop_t* loop, const HttpServerOptions& options,
                   uint64_t id)
    : server_(server), options_(options), id_(id) {
  uv_tcp_init(loop, &tcp_);
  tcp_.data = this;
  uv_timer_init(loop, &timer_);
  timer_.data = this;
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  if (options.tls) tls_ = std::make_unique<TlsSession>(*options.tls);
}

void HttpConn::Start(std::string peer) {
  peer_ = std::move(peer);
  uv_timer_start(&timer_, TimerCb, options_.header_timeout_ms, 0);
  int rc = uv_read_start(stream(), AllocCb, ReadCb);
  if (rc != 0) Close();
}

void HttpConn::ArmIdleTimer() { uv_timer_start(&timer_, TimerCb, options_.idle_timeout_ms, 0); }

void HttpConn::SetPhase(HttpAdmission::Phase phase) {
  phase_ = phase;
  server_->admission_.SetPhase(id_, phase, uv_now(timer_.loop));
}

void HttpConn::Close() {
  if (closing_) return;
  closing_ = true;
  server_->admission_.Remove(id_);
  server_->by_id_.erase(id_);
  uv_read_stop(stream());
  uv_timer_stop(&timer_);
  CloseHandles({reinterpret_cast<uv_handle_t*>(&tcp_), reinterpret_cast<uv_handle_t*>(&timer_)},
               [this] { server_->RemoveConn(this); });  // destroys this
}

void HttpConn::TimerCb(uv_timer_t* t) noexcept {
  auto* c = static_cast<HttpConn*>(t->data);
  if (c->phase_ == HttpAdmission::Phase::kRequest) {
    c->server_->CountLimitEvent(HttpLimitLog::Event::kHeaderTimeout, c->peer_);
  }
  c->Close();
}

void HttpConn::AllocCb(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
  auto* c = static_cast<HttpConn*>(h->data);
  *buf = uv_buf_init(c->read_buf_, sizeof(c->read_buf_));
}

void HttpConn::ReadCb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) noexcept {
  static_cast<HttpConn*>(s->data)->OnRead(n, buf);
}

void HttpConn::OnRead(ssize_t n, const uv_buf_t* buf) {
  if (n == 0 || closing_) return;
  if (n < 0) {
    Close();
    return;
  }
  if (close_after_write_) return;  // the last request is answered; ignore what follows
  if (tls_) return OnTlsRead(buf->base, static_cast<size_t>(n));
  Parse(buf->base, static_cast<size_t>(n));
}

// HTTPS: the ciphertext goes into the session; its plaintext is parsed from read_buf_. What the
// session produced meanwhile (handshake records, alerts, post-handshake answers) is sent.
void HttpConn::OnTlsRead(const char* data, size_t n) {
  const TlsSession::Pumped r = tls_->Pump(
      data, n, read_buf_, sizeof(read_buf_), [] { return true; },
      [this](const char* plain, size_t len) {
        Parse(plain, len);
        return !closing_ && !close_after_write_;
      });
  if (r == TlsSession::Pumped::kStopped) return;
  std::string out;
  tls_->TakeOutput(&out);
  if (!out.empty()) Send(std::move(out));
  if (r == TlsSession::Pumped::kHandshakeFailed) {
    spdlog::info("http: TLS handshake error from {}: {}", peer_, tls_->error());
    Close();
  } else if (r == TlsSession::Pumped::kFailed) {
    Close();
  }
}

void HttpConn::Parse(const char* data, size_t n) {
  size_t used = http_parser_execute(&parser_, Settings(), data, n);
  if (closing_ || close_after_write_) return;
  if (reject_status_ != 0) {
    Reject(reject_status_, reject_status_ == 413 ? "request too large\n" : "bad request\n");
    return;
  }
  auto err = HTTP_PARSER_ERRNO(&parser_);
  if (err != HPE_OK || used != n) {
    spdlog::debug("http: bad request: {}", http_errno_description(err));
    Reject(400, std::string("bad request: ") + http_errno_description(err) + "\n");
  }
}

const http_parser_settings* HttpConn::Settings() {
  static const http_parser_settings settings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = OnMessageBeginCb;
    s.on_url = OnUrlCb;
    s.on_header_field = OnHeaderFieldCb;
    s.on_header_value = OnHeaderValueCb;
    s.on_headers_complete = OnHeadersCompleteCb;
    s.on_body = OnBodyCb;
    s.on_message_complete = OnMessageCompleteCb;
    return s;
  }();
  return &settings;
}

int HttpConn::OnMessageBeginCb(http_parser* p) noexcept {
  auto* c = static_cast<HttpConn*>(p->data);
  if (c->phase_ == HttpAdmission::Phase::kIdle) {
    // The next request on a keep-alive connection: it is due within the header timeout.
    c->SetPhase(HttpAdmission::Phase::kRequest);
    uv_timer_start(&c->timer_, TimerCb, c->options_.header_timeout_ms, 0);
  }
  c->request_ = HttpRequest();
  c->url_.clear();
  c->header_field_.clear();
  c->header_value_.clear();
  c->in_header_value_ = false;
  c->header_bytes_ = 0;
  c->body_bytes_ = 0;
  return 0;
}

bool HttpConn::CountHeaderBytes(size_t len) {
  header_bytes_ += len;
  if (header_bytes_ > options_.max_header_bytes) {
    reject_status_ = 413;
    return false;
  }
  return true;
}

int HttpConn::OnUrlCb(http_parser* p, const char* at, size_t len) noexcept {
  auto* c = static_cast<HttpConn*>(p->data);
  if (!c->CountHeaderBytes(len)) return 1;
  c->url_.append(at, len);
  return 0;
}

void HttpConn::FinishHeader() {
  if (header_field_.empty()) return;
  std::string name = ToLower(header_field_);
  auto [it, inserted] = request_.headers.emplace(name, header_value_);
  if (!inserted) it->second += ", " + header_value_;
  header_field_.clear();
  header_value_.clear();
}

int HttpConn::OnHeaderFieldCb(http_parser* p, const char* at, size_t len) noexcept {
  auto* c = static_cast<HttpConn*>(p->data);
  if (!c->CountHeaderBytes(len + 4)) return 1;  // + ": " and CRLF
  if (c->in_header_value_) {
    c->FinishHeader();
    c->in_header_value_ = false;
  }
  c->header_field_.append(at, len);
  return 0;
}

int HttpConn::OnHeaderValueCb(http_parser* p, const char* at, size_t len) noexcept {
  auto* c = static_cast<HttpConn*>(p->data);
  if (!c->CountHeaderBytes(len)) return 1;
  c->in_header_value_ = true;
  c->header_value_.append(at, len);
  return 0;
}

int HttpConn::OnHeadersCompleteCb(http_parser* p) noexcept {
  auto* c = static_cast<HttpConn*>(p->data);
  c->FinishHeader();
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->options_.max_body_bytes) {
    c->reject_status_ = 413;
    return -1;  // 1 and 2 mean "skip the body"; anything else is an error
  }
  return 0;
}

int HttpConn::OnBodyCb(http_parser* p, const char* at, size_t len) noexcept {
  auto* c = static_cast<HttpConn*>(p->data);
  c->body_bytes_ += len;
  if (c->body_bytes_ > c->options_.max_body_bytes) {
    c->reject_status_ = 413;
    return 1;
  }
  return 0;
}

int HttpConn::OnMessageCompleteCb(http_parser* p) noexcept {
  return static_cast<HttpConn*>(p->data)->OnMessageComplete();
}

int HttpConn::OnMessageComplete() {
  if (closing_ || close_after_write_) return 0;
  http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(url_.data(), url_.size(), 0, &u) != 0 ||
      !(u.field_set & (1 << UF_PATH))) {
    reject_status_ = 400;
    return 1;
  }
  std::string_view url(url_);
  request_.path = HttpServer::PercentDecode(
      url.substr(u.field_data[UF_PATH].off, u.field_data[UF_PATH].len), false);
  if (u.field_set & (1 << UF_QUERY)) {
    request_.query = url.substr(u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
    request_.params = HttpServer::ParseQuery(request_.query);
  }
  auto method = static_cast<http_method>(parser_.method);
  request_.method = http_method_str(method);
  bool keep_alive = http_should_keep_alive(&parser_) != 0 && !parser_.upgrade;
  HttpResponse response;
  server_->Dispatch(request_, &response);
  Respond(response, method == HTTP_HEAD, keep_alive);
  if (!closing_ && !close_after_write_) ArmIdleTimer();
  return 0;
}

void HttpConn::Respond(const HttpResponse& response, bool head, bool keep_alive) {
  std::string out;
  out.reserve(256 + (head ? 0 : response.body.size()));
  out += "HTTP/1.1 " + std::to_string(response.status) + " " +
         HttpServer::ReasonPhrase(response.status) + "\r\n";
  if (response.status != 204) {
    out += "Content-Type: " + response.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  }
  for (const auto& [name, value] : response.headers) out += name + ": " + value + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (!head && response.status != 204) out += response.body;
  if (!keep_alive) close_after_write_ = true;
  SetPhase(close_after_write_ ? HttpAdmission::Phase::kClosing : HttpAdmission::Phase::kIdle);
  Write(std::move(out));
}

void HttpConn::Reject(int status, std::string body) {
  reject_status_ = 0;
  Respond(HttpResponse::Text(status, std::move(body)), false, false);
}

void HttpConn::Write(std::string data) {
  if (closing_) return;
  if (tls_) {
    if (!tls_->Write(data)) return Close();
    data.clear();
    tls_->TakeOutput(&data);
  }
  Send(std::move(data));
}

void HttpConn::Send(std::string data) {
  if (closing_) return;
  auto* w = new WriteReq{{}, this, std::move(data)};
  w->req.data = w;
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  pending_bytes_ += w->data.size();
  ++pending_writes_;
  int rc = uv_write(&w->req, stream(), &buf, 1, WriteCb);
  if (rc != 0) {
    // When uv_write fails libuv never calls WriteCb: undo and free the request here.
    pending_bytes_ -= w->data.size();
    --pending_writes_;
    delete w;
    Close();
    return;
  }
  if (close_after_write_) uv_read_stop(stream());
  if (pending_bytes_ > options_.max_pending_bytes) {
    spdlog::debug("http: closing a connection with {} unsent bytes", pending_bytes_);
    Close();
  }
}

void HttpConn::WriteCb(uv_write_t* req, int status) noexcept {
  auto* w = static_cast<WriteReq*>(req->data);
  w->conn->OnWritten(w, status);
}

void HttpConn::OnWritten(WriteReq* w, int status) {
  pending_bytes_ -= w->data.size();
  --pending_writes_;
  delete w;
  if (status < 0) {
    Close();
    return;
  }
  if (close_after_write_ && pending_writes_ == 0) Close();
}

// ---------------------------------------------------------------------------------------------
// HttpServer::Impl

Status HttpServer::Impl::Listen(const std::string& host, int port) {
  AssertLoopThread();
  if (listening_) return Status::InvalidArgument("http: already listening");
  sockaddr_storage addr{};
  if (!ParseHost(host, port, &addr)) {
    return Status::InvalidArgument("http: not an IP address", host);
  }
  std::string where = host + ":" + std::to_string(port);
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  listener_open_ = true;
  listening_ = true;
  uv_timer_init(loop_, &report_timer_);
  report_timer_.data = this;
  report_timer_open_ = true;
  int rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, ConnectionCb);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), ListenerCloseCb);
    return Status::IOError("http: cannot listen on " + where, uv_strerror(rc));
  }
  sockaddr_storage bound{};
  int len = sizeof(bound);
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  spdlog::info("http: monitoring on {}:{}", host, port_);
  return Status::OK();
}

void HttpServer::Impl::ConnectionCb(uv_stream_t* s, int status) noexcept {
  static_cast<Impl*>(s->data)->OnConnection(status);
}

void HttpServer::Impl::OnConnection(int status) {
  if (status < 0) {
    spdlog::warn("http: accept failed: {}", uv_strerror(status));
    return;
  }
  if (shutting_down_) return;
  uint64_t id = next_id_++;
  auto conn = std::make_unique<HttpConn>(this, loop_, options_, id);
  HttpConn* raw = conn.get();
  conns_.emplace(raw, std::move(conn));
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&listener_), raw->stream()) != 0) {
    raw->Close();
    return;
  }
  sockaddr_storage addr{};
  int len = sizeof(addr);
  std::string peer = "unknown";
  if (uv_tcp_getpeername(reinterpret_cast<uv_tcp_t*>(raw->stream()),
                         reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    peer = HttpAdmission::PeerKey(reinterpret_cast<const sockaddr*>(&addr));
  }
  HttpAdmission::Decision d = admission_.Admit(peer);
  if (!d.admit) {
    CountLimitEvent(HttpLimitLog::Event::kRefused, peer);
    raw->Close();
    return;
  }
  if (d.evict) {
    CountLimitEvent(d.limit == HttpAdmission::Limit::kPeer ? HttpLimitLog::Event::kEvictedPeer
                                                           : HttpLimitLog::Event::kEvictedGlobal,
                    peer);
    // Close() takes the victim out of the table at once, making room for the newcomer.
    auto victim = by_id_.find(*d.evict);
    if (victim != by_id_.end()) {
      victim->second->Close();
    } else {
      admission_.Remove(*d.evict);  // cannot happen: both tables change together
    }
  }
  admission_.Add(id, peer, uv_now(loop_));
  by_id_.emplace(id, raw);
  raw->Start(std::move(peer));
}

void HttpServer::Impl::CountLimitEvent(HttpLimitLog::Event event, const std::string& peer) {
  limit_log_.Count(event, peer, uv_now(loop_));
  if (!report_timer_open_) return;
  ReportLimits();
}

void HttpServer::Impl::ReportLimits() {
  uint64_t now = uv_now(loop_);
  if (std::optional<std::string> line = limit_log_.Take(now)) spdlog::warn("{}", *line);
  std::optional<uint64_t> due = limit_log_.NextDue(now);
  if (!due || shutting_down_) return;
  // Armed once per interval; a later event within it finds the timer already running.
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&report_timer_))) {
    uv_timer_start(&report_timer_, ReportTimerCb, *due, 0);
  }
}

void HttpServer::Impl::ReportTimerCb(uv_timer_t* t) noexcept {
  static_cast<Impl*>(t->data)->ReportLimits();
}

void HttpServer::Impl::ReportTimerCloseCb(uv_handle_t* h) noexcept {
  auto* self = static_cast<Impl*>(h->data);
  self->report_timer_open_ = false;
  self->MaybeFinishShutdown();
}

void HttpServer::Impl::ListenerCloseCb(uv_handle_t* h) noexcept {
  auto* self = static_cast<Impl*>(h->data);
  self->listener_open_ = false;
  self->MaybeFinishShutdown();
}

void HttpServer::Impl::RemoveConn(HttpConn* conn) {
  conns_.erase(conn);
  MaybeFinishShutdown();
}

void HttpServer::Impl::Shutdown(std::function<void()> done) {
  AssertLoopThread();
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  if (listener_open_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&listener_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), ListenerCloseCb);
  }
  if (report_timer_open_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&report_timer_))) {
    // The counts not reported yet are written now, whatever the interval.
    if (std::optional<std::string> line = limit_log_.Flush(uv_now(loop_))) {
      spdlog::warn("{}", *line);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&report_timer_), ReportTimerCloseCb);
  }
  std::vector<HttpConn*> all;
  for (auto& [raw, owned] : conns_) all.push_back(raw);
  for (HttpConn* c : all) c->Close();
  MaybeFinishShutdown();
}

void HttpServer::Impl::MaybeFinishShutdown() {
  if (!shutting_down_ || listener_open_ || report_timer_open_ || !conns_.empty()) return;
  if (!shutdown_done_) return;
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  done();
}

void HttpServer::Impl::Dispatch(const HttpRequest& request, HttpResponse* response) {
  ++requests_served_;
  auto it = routes_.find(request.path);
  if (it == routes_.end()) {
    *response = HttpResponse::Text(404, "404 page not found\n");
    return;
  }
  const Route& route = it->second;
  const bool get = request.method == "GET" || request.method == "HEAD";
  const Handler* handler = get ? &route.get : request.method == "POST" ? &route.post : nullptr;
  if (handler == nullptr || !*handler) {
    *response = HttpResponse::Text(405, "method not allowed\n");
    std::string allow = route.get ? "GET, HEAD" : "";
    if (route.post) allow += allow.empty() ? "POST" : ", POST";
    response->headers.emplace_back("Allow", allow);
    return;
  }
  try {
    *response = (*handler)(request);
  } catch (const std::exception& e) {
    spdlog::error("http: handler for {} failed: {}", request.path, e.what());
    *response = HttpResponse::Text(500, std::string("internal error: ") + e.what() + "\n");
  }
}

// ---------------------------------------------------------------------------------------------
// HttpServer

HttpServer::HttpServer(uv_loop_t* loop, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(loop, std::move(options))) {}

HttpServer::~HttpServer() {
  assert(!impl_->listener_open_ && !impl_->report_timer_open_ && impl_->conns_.empty());
}

void HttpServer::Handle(std::string path, Handler handler) {
  impl_->AssertLoopThread();
  impl_->routes_[std::move(path)].get = std::move(handler);
}

void HttpServer::HandlePost(std::string path, Handler handler) {
  impl_->AssertLoopThread();
  impl_->routes_[std::move(path)].post = std::move(handler);
}

Status HttpServer::Listen(const std::string& host, int port) { return impl_->Listen(host, port); }

int HttpServer::port() const { return impl_->port_; }

void HttpServer::Shutdown(std::function<void()> done) { impl_->Shutdown(std::move(done)); }

size_t HttpServer::connection_count() const { return impl_->conns_.size(); }

uint64_t HttpServer::requests_served() const { return impl_->requests_served_; }

}  // namespace tandem::server
