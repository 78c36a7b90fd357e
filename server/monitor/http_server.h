// http_server.h: a small HTTP/1.1 server on the uv loop, used by the monitoring endpoints.
//
// It accepts connections on one TCP listener, parses requests with http_parser, routes GET and
// HEAD requests by exact path to synchronous handlers and writes their responses. Keep-alive and
// pipelined requests are supported; responses leave in request order. Everything else is refused
// with a status code, never with a hang:
//   - a method other than GET/HEAD: 405 (with Allow), an unknown path: 404;
//   - request line plus headers over max_header_bytes, or any body over max_body_bytes: 413;
//   - malformed HTTP: 400. After a 400 or 413 the connection is closed.
//
// Slow and hostile clients cost bounded memory, never block the loop, and cannot take the port
// away from health probes:
//   - a request (its head; monitoring requests have no body) must arrive complete within
//     header_timeout_ms, counted from the accept for the first request and from its first byte
//     for a later one on a keep-alive connection; a keep-alive connection between requests is
//     closed after idle_timeout_ms; either way the connection is closed without an answer;
//   - unsent responses piling up past max_pending_bytes close the connection;
//   - at most max_connections are open at once, and at most max_connections_per_peer from one
//     client address. A newcomer over a limit replaces the connection that has been reading its
//     request the longest, else the longest-idle keep-alive one (HttpAdmission has the rules),
//     and is refused (accepted and closed) only when every connection is answering;
//   - evictions, refusals and header timeouts are logged as one warning with counts at most
//     every limit_log_interval_ms (HttpLimitLog).
//
// Ownership: HttpServer borrows the uv loop; it owns the listener and every connection with its
// handles. Handlers are copied in and called on the loop thread; a Request is valid only during
// the handler call. Shutdown() closes every handle; the HttpServer may be destroyed once its
// `done` callback ran, or at once if Listen was never called. After a failed Listen, call
// Shutdown too (the listener handle was initialised and is closing).
// Thread safety: loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/status.h"

typedef struct uv_loop_s uv_loop_t;

namespace tandem::server {

class TlsContext;

struct HttpServerOptions {
  size_t max_header_bytes = 8 * 1024;          // request line plus headers
  size_t max_body_bytes = 0;                   // monitoring requests carry no body
  size_t max_pending_bytes = 8 * 1024 * 1024;  // unsent response bytes per connection
  int max_connections = 256;
  int max_connections_per_peer = 32;  // per client IP (IPv6: per /64); 0 = no per-peer limit
  // A probe sends its whole request in one packet at once, so a few seconds is generous; it is
  // also the longest a slow client holds a slot when no newcomer needs it.
  uint64_t header_timeout_ms = 5000;
  // Longer, so that a scraper reusing its connection every 15 s keeps it; an idle connection
  // is evicted when a newcomer needs its slot, so this costs no availability.
  uint64_t idle_timeout_ms = 30000;
  uint64_t limit_log_interval_ms = 5000;  // at most one slow-client warning per interval
  // HTTPS (`https: HOST:PORT`): every connection speaks TLS from its first byte, through a
  // TlsSession (server/util/tls_session.h); the limits above count plaintext. Null: plain HTTP.
  std::shared_ptr<TlsContext> tls;
};

struct HttpRequest {
  std::string method;                          // "GET", "HEAD" or (HandlePost) "POST"
  std::string path;                            // percent-decoded, without the query string
  std::string query;                           // raw query string, without '?'
  std::map<std::string, std::string> params;   // decoded query; the first value of a repeated key
  std::map<std::string, std::string> headers;  // names lower-cased; repeated values joined ", "

  // The decoded query value of `key`, or `fallback` when absent.
  std::string Param(const std::string& key, std::string fallback = {}) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;

  static HttpResponse Text(int status, std::string body);
  static HttpResponse Json(int status, std::string body);
};

class HttpConn;

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  HttpServer(uv_loop_t* loop, HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes GET/HEAD requests for exactly `path` to `handler` (a later call replaces it). HEAD gets
  // the GET response without its body. May be called before or after Listen.
  void Handle(std::string path, Handler handler);
  // Routes POST requests for exactly `path` to `handler`: for requests that change something
  // (a GET must never start work). Parameters come in the query string; a body is refused over
  // max_body_bytes (0 by default: none) and otherwise dropped. Any other method on a known path is
  // 405 with an Allow header naming the methods the path takes; an unknown path is 404.
  void HandlePost(std::string path, Handler handler);

  // Binds host:port ("127.0.0.1", "0.0.0.0", "::1", "localhost"; port 0 picks a free one) and
  // starts accepting. InvalidArgument for an unparsable host, IOError naming the address if the
  // bind or listen fails.
  Status Listen(const std::string& host, int port);
  int port() const;  // the bound port, after a successful Listen

  // Closes the listener and every connection (unsent responses are dropped); `done` runs on the
  // loop thread once every handle has been closed. Safe to call once; no-op before Listen.
  void Shutdown(std::function<void()> done);

  size_t connection_count() const;
  uint64_t requests_served() const;

  // The canonical reason phrase of a status code ("Not Found"), "Unknown" otherwise.
  static const char* ReasonPhrase(int status);
  // Decodes %XX escapes and, if `plus_is_space`, '+' as ' '. Invalid escapes stay as written.
  static std::string PercentDecode(std::string_view s, bool plus_is_space);
  // Splits "a=1&b=x%20y" into decoded pairs; the first value of a repeated key wins.
  static std::map<std::string, std::string> ParseQuery(std::string_view query);

 private:
  friend class HttpConn;
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::server
