// status_command.cc: `tandem status`: a bounded HTTP GET, the collection from each instance
// and the text screen (see status_command.h).
#include "server/monitor/status_command.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "server/monitor/time_format.h"
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

Result<std::string> ReadAll(int fd, Clock::time_point deadline, const std::string& where) {
  constexpr size_t kMaxReply = 64 * 1024 * 1024;
  std::string in;
  char buf[16384];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
      if (in.size() > kMaxReply) return Status::Corruption(where, "reply too large");
      continue;
    }
    if (n == 0) return in;
    if (errno != EAGAIN && errno != EINTR) return Status::IOError(where, strerror(errno));
    Status s = WaitFor(fd, POLLIN, deadline, where + ": no reply in time");
    if (!s.ok()) return s;
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

std::string Str(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "-";
  const auto& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string FormatPeer(const nlohmann::json& p) {
  int64_t age_ms = p.value("heartbeat_age_ms", int64_t{0});
  std::string out = fmt::format("{} (epoch {}, heartbeat {} ago", p.value("name", std::string("?")),
                                p.value("epoch", uint64_t{0}), DurationText(age_ms * 1000000));
  if (!p.value("alive", false)) out += ", LOST";
  return out + ")";
}

void FormatInstances(const std::vector<InstanceReport>& reports, std::string* out) {
  *out += fmt::format("{:<22} {:<11} {:<8} {:>5} {:<12} {:>7} {:>8} {:>8}  {}\n", "INSTANCE",
                      "STATE", "ROLE", "EPOCH", "UPTIME", "CLIENTS", "CHANNELS", "MSGS", "NAME");
  for (const auto& r : reports) {
    if (!r.error.empty()) {
      *out += fmt::format("{:<22} UNREACHABLE  {}\n", r.address, r.error);
      continue;
    }
    const auto& s = r.serverz;
    *out +=
        fmt::format("{:<22} {:<11} {:<8} {:>5} {:<12} {:>7} {:>8} {:>8}  {}\n", r.address,
                    Str(s, "state"), Str(s, "role"), Str(s, "epoch"), Str(s, "uptime"),
                    Str(s, "clients"), Str(s, "channels"), Str(s, "total_msgs"), Str(s, "name"));
  }
}

void FormatActive(const InstanceReport& r, std::string* out) {
  const auto& s = r.serverz;
  *out += fmt::format("\nActive: {} at {}, epoch {}, up {}, {} takeover(s)\n", Str(s, "name"),
                      r.address, Str(s, "epoch"), Str(s, "uptime"), Str(s, "takeovers"));
  const auto& standbys = s.contains("standbys") ? s["standbys"] : nlohmann::json::array();
  if (standbys.empty()) {
    *out += "Standbys: none\n";
  } else {
    for (const auto& p : standbys) *out += "Standby: " + FormatPeer(p) + "\n";
  }
  if (r.channelsz.is_object() && r.channelsz.contains("channels")) {
    *out += fmt::format("\n{:<32} {:>10} {:>12} {:>10} {:>10} {:>5} {:>8}\n", "CHANNEL", "MSGS",
                        "BYTES", "FIRST", "LAST", "SUBS", "PENDING");
    for (const auto& c : r.channelsz["channels"]) {
      uint64_t pending = 0;
      int stalled = 0;
      if (c.contains("subscriptions")) {
        for (const auto& sub : c["subscriptions"]) {
          pending += sub.value("pending_count", uint64_t{0});
          stalled += sub.value("is_stalled", false) ? 1 : 0;
        }
      }
      *out += fmt::format("{:<32} {:>10} {:>12} {:>10} {:>10} {:>5} {:>8}{}\n", Str(c, "name"),
                          Str(c, "msgs"), Str(c, "bytes"), Str(c, "first_seq"), Str(c, "last_seq"),
                          Str(c, "subs_count"), pending,
                          stalled > 0 ? fmt::format("  ({} stalled)", stalled) : "");
    }
  } else {
    *out += "\nChannels: none\n";
  }
  if (r.clientsz.is_object() && r.clientsz.contains("clients") && !r.clientsz["clients"].empty()) {
    *out += fmt::format("\n{:<32} {:>5}\n", "CLIENT", "SUBS");
    for (const auto& c : r.clientsz["clients"]) {
      *out += fmt::format("{:<32} {:>5}\n", Str(c, "id"), Str(c, "subs_count"));
    }
  } else {
    *out += "Clients: none\n";
  }
}

}  // namespace

Result<HttpReply> HttpGet(const std::string& host, int port, const std::string& path,
                          int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string where = "GET " + FormatHostPort(host, port) + path;
  Result<int> fd = Connect(host, port, deadline, where);
  if (!fd.ok()) return fd.status();
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + FormatHostPort(host, port) +
                        "\r\nUser-Agent: tandem-status\r\nConnection: close\r\n\r\n";
  Status s = SendAll(*fd, request, deadline, where);
  Result<std::string> raw = s.ok() ? ReadAll(*fd, deadline, where) : Result<std::string>(s);
  close(*fd);
  if (!raw.ok()) return raw.status();
  return ParseReply(*raw, where);
}

bool IsActive(const InstanceReport& r) {
  if (!r.error.empty() || !r.serverz.is_object()) return false;
  std::string state = r.serverz.value("state", std::string());
  return state == "FT_ACTIVE" || state == "STANDALONE";
}

std::vector<InstanceReport> CollectStatus(const StatusOptions& options) {
  std::vector<InstanceReport> reports;
  for (const auto& address : options.http) {
    InstanceReport r;
    r.address = address;
    Result<HostPort> hp = ParseHostPort(address);
    if (!hp.ok()) {
      r.error = hp.status().message();
      reports.push_back(std::move(r));
      continue;
    }
    std::string host = hp->host == "0.0.0.0" ? "127.0.0.1" : hp->host;
    auto get = [&](const std::string& path, nlohmann::json* into) -> std::string {
      Result<HttpReply> reply = HttpGet(host, hp->port, path, options.timeout_ms);
      if (!reply.ok()) return reply.status().ToString();
      if (reply->status != 200) return fmt::format("{} answered HTTP {}", path, reply->status);
      *into = nlohmann::json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
      if (into->is_discarded()) return path + " answered something that is not JSON";
      return {};
    };
    r.error = get("/streaming/serverz", &r.serverz);
    if (r.error.empty() && IsActive(r)) {
      // Best effort: a failure here still leaves the instance's own line.
      get("/streaming/channelsz?subs=1", &r.channelsz);
      get("/streaming/clientsz", &r.clientsz);
    }
    reports.push_back(std::move(r));
  }
  return reports;
}

std::string FormatStatus(const std::vector<InstanceReport>& reports) {
  std::string out;
  FormatInstances(reports, &out);
  int actives = 0;
  for (const auto& r : reports) {
    if (!IsActive(r)) continue;
    ++actives;
    FormatActive(r, &out);
  }
  if (actives == 0) out += "\nNo active instance found.\n";
  if (actives > 1) out += "\nWARNING: more than one instance reports itself active.\n";
  return out;
}

int RunStatus(const StatusOptions& options, std::FILE* out) {
  std::vector<InstanceReport> reports = CollectStatus(options);
  std::string text = FormatStatus(reports);
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
  return std::any_of(reports.begin(), reports.end(), IsActive) ? 0 : 1;
}

}  // namespace tandem::server
