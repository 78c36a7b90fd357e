// status_http.cc: the bounded GET/POST of `tandem status` and `tandem backup`, plain or over TLS
// (see status_http.h).
#include "server/monitor/status_http.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "server/util/tls_session.h"
#include "server/util/value_syntax.h"

#include <sys/socket.h>

namespace tandem::server {

namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(left.count(), 0));
}

// Waits until `fd` is ready for `events` or the deadline passes.
Status WaitFor(int fd, short events, Clock::time_point deadline, const std::string& what) {
  while (true) {
    int left = RemainingMs(deadline);
    if (left == 0) return Status::TimedOut(what);
    pollfd p{fd, events, 0};
    int rc = poll(&p, 1, left);
    if (rc > 0) return Status::OK();
    if (rc == 0) return Status::TimedOut(what);
    if (errno != EINTR) return Status::IOError(what, strerror(errno));
  }
}

// A connected non-blocking socket to host:port, or the reason there is none.
Result<int> Connect(const std::string& host, int port, Clock::time_point deadline,
                    const std::string& where) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  int gai = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res);
  if (gai != 0) return Status::IOError(where, gai_strerror(gai));
  Status last = Status::IOError(where, "no address");
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last = Status::IOError(where, strerror(errno));
      continue;
    }
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      Status s = WaitFor(fd, POLLOUT, deadline, where + ": connect timed out");
      int err = 0;
      socklen_t len = sizeof(err);
      if (s.ok()) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (!s.ok()) {
        last = s;
      } else if (err != 0) {
        last = Status::IOError(where, strerror(err));
      } else {
        rc = 0;
      }
    } else if (rc != 0) {
      last = Status::IOError(where, strerror(errno));
    }
    if (rc == 0) {
      freeaddrinfo(res);
      return fd;
    }
    close(fd);
  }
  freeaddrinfo(res);
  return last;
}

Status SendAll(int fd, const std::string& data, Clock::time_point deadline,
               const std::string& where) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Status::IOError(where, strerror(errno));
    Status s = WaitFor(fd, POLLOUT, deadline, where + ": send timed out");
    if (!s.ok()) return s;
  }
  return Status::OK();
}

constexpr size_t kMaxReply = 64 * 1024 * 1024;

// Some bytes from `fd` into buf: how many, 0 when the server closed the connection.
Result<size_t> RecvSome(int fd, char* buf, size_t cap, Clock::time_point deadline,
                        const std::string& where) {
  while (true) {
    ssize_t n = recv(fd, buf, cap, 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EAGAIN && errno != EINTR) return Status::IOError(where, strerror(errno));
    Status s = WaitFor(fd, POLLIN, deadline, where + ": no reply in time");
    if (!s.ok()) return s;
  }
}

Result<std::string> ReadAll(int fd, Clock::time_point deadline, const std::string& where) {
  std::string in;
  char buf[16384];
  while (true) {
    Result<size_t> n = RecvSome(fd, buf, sizeof(buf), deadline, where);
    if (!n.ok()) return n.status();
    if (*n == 0) return in;
    in.append(buf, *n);
    if (in.size() > kMaxReply) return Status::Corruption(where, "reply too large");
  }
}

// The request and its reply through a TLS session on `fd`: the handshake (the server's
// certificate verified for `host`), then plaintext both ways until the server closes.
Result<std::string> TlsExchange(int fd, const TlsContext& context, const std::string& host,
                                const std::string& request, Clock::time_point deadline,
                                const std::string& where) {
  TlsSession tls(context, host);
  std::string out;
  auto flush = [&] {
    out.clear();
    tls.TakeOutput(&out);
    return out.empty() ? Status::OK() : SendAll(fd, out, deadline, where);
  };
  char buf[16384];
  for (;;) {
    const int r = tls.Handshake();
    Status s = flush();
    if (r < 0) return Status::IOError(where, "TLS handshake failed: " + tls.error());
    if (!s.ok()) return s;
    if (r == 1) break;
    Result<size_t> n = RecvSome(fd, buf, sizeof(buf), deadline, where);
    if (!n.ok()) return n.status();
    if (*n == 0) return Status::IOError(where, "TLS handshake failed: closed by the server");
    tls.PutCipher(buf, *n);
  }
  if (!tls.Write(request)) return Status::IOError(where, tls.error());
  Status s = flush();
  if (!s.ok()) return s;
  std::string in;
  for (;;) {
    long got;
    while ((got = tls.Read(buf, sizeof(buf))) > 0) in.append(buf, static_cast<size_t>(got));
    if (in.size() > kMaxReply) return Status::Corruption(where, "reply too large");
    if (got < 0) {
      if (tls.error() == "closed by the peer") return in;
      return Status::IOError(where, tls.error());
    }
    s = flush();  // post-handshake records (a key update's answer)
    if (!s.ok()) return s;
    Result<size_t> n = RecvSome(fd, buf, sizeof(buf), deadline, where);
    if (!n.ok()) return n.status();
    if (*n == 0) return in;  // closed without close_notify: Connection: close ends the reply
    tls.PutCipher(buf, *n);
  }
}

Result<HttpReply> ParseReply(const std::string& raw, const std::string& where) {
  size_t head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || raw.size() < 12) {
    return Status::Corruption(where, "not an HTTP reply");
  }
  HttpReply reply;
  reply.status = std::atoi(raw.c_str() + 9);
  reply.body = raw.substr(head_end + 4);
  return reply;
}

}  // namespace

Result<StatusTarget> ParseStatusTarget(std::string_view address) {
  const std::string_view given = address;
  StatusTarget t;
  if (address.substr(0, 8) == "https://") {
    t.https = true;
    address.remove_prefix(8);
  } else if (address.substr(0, 7) == "http://") {
    address.remove_prefix(7);
  }
  if (!address.empty() && address.back() == '/') address.remove_suffix(1);
  if (address.find("://") != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("\"{}\" is not HOST:PORT, http://HOST:PORT or https://HOST:PORT", given));
  }
  Result<HostPort> hp = ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  t.host = hp->host == "0.0.0.0" ? "127.0.0.1" : hp->host;
  t.port = hp->port;
  return t;
}

namespace {

Result<HttpReply> Exchange(const std::string& method, const std::string& host, int port,
                           const std::string& path, int timeout_ms, const TlsContext* tls) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string where = method + " " + std::string(tls != nullptr ? "https://" : "") +
                      FormatHostPort(host, port) + path;
  Result<int> fd = Connect(host, port, deadline, where);
  if (!fd.ok()) return fd.status();
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + FormatHostPort(host, port) +
                        "\r\nUser-Agent: tandem-status\r\n" +
                        (method == "POST" ? "Content-Length: 0\r\n" : "") +
                        "Connection: close\r\n\r\n";
  Result<std::string> raw = std::string();
  if (tls != nullptr) {
    // The name checked in the certificate: the host without an IPv6 literal's brackets.
    std::string name =
        host.size() > 1 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
    raw = TlsExchange(*fd, *tls, name, request, deadline, where);
  } else {
    Status s = SendAll(*fd, request, deadline, where);
    raw = s.ok() ? ReadAll(*fd, deadline, where) : Result<std::string>(s);
  }
  close(*fd);
  if (!raw.ok()) return raw.status();
  return ParseReply(*raw, where);
}

}  // namespace

Result<HttpReply> HttpGet(const std::string& host, int port, const std::string& path,
                          int timeout_ms, const TlsContext* tls) {
  return Exchange("GET", host, port, path, timeout_ms, tls);
}

Result<HttpReply> HttpPost(const std::string& host, int port, const std::string& path,
                           int timeout_ms, const TlsContext* tls) {
  return Exchange("POST", host, port, path, timeout_ms, tls);
}

}  // namespace tandem::server
