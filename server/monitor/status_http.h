// status_http.h: the HTTP exchange of `tandem status` and `tandem backup`: a GET (or a
// body-less POST) with Connection: close over a
// blocking-style socket (non-blocking, every step bounded by poll and one deadline), in plain
// text or through TLS (`https://HOST:PORT`), and the addresses it accepts.
//
// Over TLS the server's certificate is verified as curl does: against the CA file of
// `--cacert`, or the system's trusted CAs without it, and it must name the host of the address
// (a DNS name or an IP literal). There is no way to skip the verification. The TLS engine is
// the server's own (server/util/tls_session.h), driven here by a short blocking loop.
//
// Ownership: plain values; the TlsContext is borrowed. Thread safety: the CLI's main thread.
#pragma once

#include <string>
#include <string_view>

#include "store/status.h"

namespace tandem::server {

class TlsContext;

struct HttpReply {
  int status = 0;
  std::string body;
};

// A monitoring address of `tandem status`: `HOST:PORT`, `http://HOST:PORT` or
// `https://HOST:PORT`.
struct StatusTarget {
  bool https = false;
  std::string host;  // 0.0.0.0 is asked on 127.0.0.1
  int port = 0;
};
Result<StatusTarget> ParseStatusTarget(std::string_view address);

// GET http://host:port/path with Connection: close. TimedOut when the whole exchange takes
// longer than timeout_ms, IOError when the connection (or, with `tls`, the handshake) fails,
// Corruption for a reply that is not HTTP. With `tls` (a client context) the exchange is HTTPS.
Result<HttpReply> HttpGet(const std::string& host, int port, const std::string& path,
                          int timeout_ms, const TlsContext* tls = nullptr);
// The same exchange as a POST with an empty body (for requests that start work).
Result<HttpReply> HttpPost(const std::string& host, int port, const std::string& path,
                           int timeout_ms, const TlsContext* tls = nullptr);

}  // namespace tandem::server
