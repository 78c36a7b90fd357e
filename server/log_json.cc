// log_json.cc: the JSON form of the log (see log_json.h).
#include "server/log_json.h"

#include <nlohmann/json.hpp>
#include <spdlog/details/log_msg.h>

#include "server/monitor/time_format.h"

namespace tandem::server {
namespace {

class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto level = spdlog::level::to_string_view(msg.level);
    std::string line = JsonLogLine(msg.time, std::string_view(level.data(), level.size()),
                                   std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLogFormatter>();
  }
};

}  // namespace

LogFields LogFieldsOf(std::string_view message) {
  LogFields f;
  constexpr std::string_view kClient = "client ";
  if (message.substr(0, kClient.size()) == kClient) {
    // `client 12: ...` or `client 12 (127.0.0.1:5555 'name'): ...`
    std::string_view rest = message.substr(kClient.size());
    size_t n = 0;
    uint64_t cid = 0;
    while (n < rest.size() && n < 19 && rest[n] >= '0' && rest[n] <= '9') {
      cid = cid * 10 + static_cast<uint64_t>(rest[n++] - '0');
    }
    rest = rest.substr(n);
    if (n == 0 || !(rest.substr(0, 2) == ": " || rest.substr(0, 2) == " (")) return f;
    f.component = "client";
    f.cid = cid;
    if (rest[0] == ' ') {
      std::string_view peer = rest.substr(2);
      peer = peer.substr(0, peer.find_first_of(" )"));
      if (!peer.empty()) f.peer = std::string(peer);
    }
    return f;
  }
  size_t n = 0;
  while (n < message.size() && message[n] >= 'a' && message[n] <= 'z') ++n;
  if (n > 0 && message.substr(n, 2) == ": ") f.component = std::string(message.substr(0, n));
  return f;
}

std::string JsonLogLine(std::chrono::system_clock::time_point time, std::string_view level,
                        std::string_view message) {
  nlohmann::ordered_json j;
  j["time"] = Rfc3339(
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count());
  j["level"] = level;
  j["message"] = message;
  LogFields f = LogFieldsOf(message);
  if (!f.component.empty()) j["component"] = f.component;
  if (f.cid) j["cid"] = *f.cid;
  if (!f.peer.empty()) j["peer"] = f.peer;
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  return line;
}

std::unique_ptr<spdlog::formatter> MakeJsonLogFormatter() {
  return std::make_unique<JsonLogFormatter>();
}

}  // namespace tandem::server
