// backup_command.cc: `tandem backup` (see backup_command.h).
#include "server/monitor/backup_command.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "server/monitor/http_server.h"
#include "server/monitor/status_command.h"
#include "server/util/value_syntax.h"

namespace tandem::server {
namespace {

using Clock = std::chrono::steady_clock;

// GET (or with `post`, POST) `path`; the JSON body of the reply, or why there is none.
Result<nlohmann::json> AskJson(const std::string& host, int port, const std::string& path,
                               int timeout_ms, int* status, bool post = false) {
  Result<HttpReply> reply =
      post ? HttpPost(host, port, path, timeout_ms) : HttpGet(host, port, path, timeout_ms);
  if (!reply.ok()) return reply.status();
  *status = reply->status;
  nlohmann::json j = nlohmann::json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corruption(path, fmt::format("HTTP {}: not a JSON object", reply->status));
  }
  return j;
}

std::string Encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

int RunBackup(const BackupOptions& options, std::FILE* out, std::FILE* err) {
  auto fail = [err](const std::string& why) {
    std::fprintf(err, "tandem: backup: %s\n", why.c_str());
    return 1;
  };
  Result<HostPort> hp = ParseHostPort(options.http);
  if (!hp.ok()) return fail(hp.status().message());
  const std::string host = hp->host == "0.0.0.0" ? "127.0.0.1" : hp->host;
  const auto deadline = Clock::now() + std::chrono::milliseconds(options.timeout_ms);
  const int request_ms = std::min(options.timeout_ms, 5000);
  int status = 0;
  Result<nlohmann::json> started =
      AskJson(host, hp->port, "/backup?to=" + Encode(options.to), request_ms, &status, true);
  if (!started.ok()) return fail(started.status().ToString());
  if (status != 202) return fail(started->value("error", fmt::format("HTTP {}", status)));
  const std::string file = started->value("file", "");
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(options.poll_ms));
    Result<nlohmann::json> st = AskJson(host, hp->port, "/backup", request_ms, &status);
    if (!st.ok()) return fail(st.status().ToString());
    if (st->value("file", "") != file) return fail("another backup replaced this one: " + file);
    const std::string state = st->value("state", "");
    if (state == "running") continue;
    if (state != "done") return fail(file + ": " + st->value("error", state));
    std::fprintf(out,
                 "backup: %s, %llu bytes, %.3f s (integrity_check ok; %llu steps, the "
                 "longest %lld us)\n",
                 file.c_str(), static_cast<unsigned long long>(st->value("bytes", 0ULL)),
                 st->value("elapsed_ms", 0LL) / 1000.0,
                 static_cast<unsigned long long>(st->value("steps", 0ULL)),
                 static_cast<long long>(st->value("max_step_us", 0LL)));
    return 0;
  }
  return fail(fmt::format("{}: not done within {} ms (it goes on in the server)", file,
                          options.timeout_ms));
}

}  // namespace tandem::server
