// status_command.cc: `tandem status`: the collection from each instance and the text screen
// (see status_command.h).
#include "server/monitor/status_command.h"

#include <algorithm>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "server/monitor/time_format.h"
#include "server/util/tls_context.h"

namespace tandem::server {

namespace {

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

bool IsActive(const InstanceReport& r) {
  if (!r.error.empty() || !r.serverz.is_object()) return false;
  std::string state = r.serverz.value("state", std::string());
  return state == "FT_ACTIVE" || state == "STANDALONE";
}

namespace {

// The client context of the https:// addresses, built once (`--cacert`, or the system's CAs).
Result<std::shared_ptr<TlsContext>> StatusTlsContext(const StatusOptions& options) {
  TlsClientOptions o;
  o.enabled = true;
  o.ca_file = options.cacert;
  o.system_trust = options.cacert.empty();
  Result<std::shared_ptr<TlsContext>> ctx = TlsContext::Client(o);
  if (!ctx.ok()) return Status::InvalidArgument("--cacert " + ctx.status().message());
  return ctx;
}

}  // namespace

std::vector<InstanceReport> CollectStatus(const StatusOptions& options) {
  std::vector<InstanceReport> reports;
  std::optional<Result<std::shared_ptr<TlsContext>>> tls;  // made at the first https:// address
  for (const auto& address : options.http) {
    InstanceReport r;
    r.address = address;
    Result<StatusTarget> target = ParseStatusTarget(address);
    if (target.ok() && target->https && !tls) tls = StatusTlsContext(options);
    if (!target.ok() || (target->https && !tls->ok())) {
      r.error = !target.ok() ? target.status().message() : tls->status().message();
      reports.push_back(std::move(r));
      continue;
    }
    const TlsContext* context = target->https ? tls->value().get() : nullptr;
    auto get = [&](const std::string& path, nlohmann::json* into) -> std::string {
      Result<HttpReply> reply =
          HttpGet(target->host, target->port, path, options.timeout_ms, context);
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
