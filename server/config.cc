// config.cc: loads and validates the YAML configuration and the flag overrides (see config.h).
//
// The walk is explicit: one function per YAML section lists the keys it knows, converts each
// scalar with a shared value parser and stores it in the option struct that owns it. Anything
// else is an error naming the key path. Flags reuse the same value parsers and are labelled
// "--flag (key.path)" in messages. Cross-key checks run last, after the flags.
//
// The shared walk helpers are in config_yaml.h; the security sections in config_auth.cc; the
// bounded-redelivery keys of `limits` in config_redelivery.cc.
//
// yaml-cpp reports problems with exceptions: they are caught in ParseConfig and nowhere else,
// and never leave this file: every caller gets a Status (exceptions never cross a libuv
// callback or a folder boundary).
//
// Sections, in order: messages (the "config: <where>: <what>" format); value parsers (numbers,
// booleans, names, subjects, peers); setters shared by YAML keys and flags; the YAML walk (one
// Load* per section); flags and cross-key checks; the public functions of config.h.
#include "server/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "server/bus/subject.h"
#include "server/config_auth.h"
#include "server/config_backup.h"
#include "server/config_nats_client.h"
#include "server/config_redelivery.h"
#include "server/config_yaml.h"
#include "server/util/bind_address.h"
#include "server/util/tls_context.h"
#include "server/util/value_syntax.h"

namespace tandem::server {
namespace {

using namespace config_yaml;  // NOLINT: the shared walk helpers (config_yaml.h)

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

// Cluster ids and FT group names end up as one token of a subject: letters, digits, _ and -.
Status CheckName(std::string_view text, bool allow_empty) {
  if (text.empty()) {
    return allow_empty ? Status::OK() : Phrase(text, "must not be empty");
  }
  if (!std::all_of(text.begin(), text.end(), IsTokenChar)) {
    return Phrase(text, "may contain only letters, digits, '_' and '-'");
  }
  return Status::OK();
}

// A peer or advertised URL: HOST:PORT with a real host and a port in 1..65535; "nats://" in
// front is allowed (WithoutNatsScheme) and dropped.
Result<std::string> ParsePeer(std::string_view text) {
  auto hp = ParseHostPort(WithoutNatsScheme(text));
  if (!hp.ok()) return hp.status();
  if (hp->port == 0) return Phrase(text, "needs a port in 1..65535");
  return FormatHostPort(hp->host, hp->port);
}

std::vector<std::string_view> SplitComma(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

// ---- setters shared by YAML keys and flags -------------------------------------------------

// A host name is resolved here, once, so that a name that does not resolve is a configuration
// error and the listener binds the numeric address.
Result<std::string> BindHost(std::string_view text, const std::string& host) {
  auto ip = ResolveBindHost(host);
  if (!ip.ok()) {
    return Status::InvalidArgument(
        fmt::format("{}: cannot resolve {}: {}", Quote(text), host, ip.status().message()));
  }
  return ip;
}

Status SetListen(Config& c, std::string_view text) {
  auto hp = ParseHostPort(text);
  if (!hp.ok()) return hp.status();
  auto host = BindHost(text, hp->host);
  if (!host.ok()) return host.status();
  c.core.host = *host;
  c.core.port = hp->port;
  return Status::OK();
}

Status SetHttp(Config& c, std::string_view text) {
  if (text.empty()) {  // off; backup.dir stays as read
    c.http.host.clear();
    c.http.port = 0;
    c.http.https = false;
    return Status::OK();
  }
  auto hp = ParseHostPort(text);
  if (!hp.ok()) return hp.status();
  auto host = BindHost(text, hp->host);
  if (!host.ok()) return host.status();
  c.http.host = *host;
  c.http.port = hp->port;
  c.http.https = false;
  return Status::OK();
}

Status SetHttps(Config& c, std::string_view text) {
  Status s = SetHttp(c, text);
  if (s.ok()) c.http.https = !text.empty();
  return s;
}

// tls.timeout: 0 means no handshake deadline.
Result<uint64_t> ParseTlsTimeoutMs(std::string_view text) { return ParseTimeoutMs(text, true); }

Status SetMinVersion(TlsOptions& t, std::string_view text) {
  if (text != "1.2" && text != "1.3") return Phrase(text, "is not a TLS version (1.2 or 1.3)");
  t.min_version = std::string(text);
  return Status::OK();
}

Status SetClusterId(Config& c, std::string_view text) {
  Status s = CheckName(text, /*allow_empty=*/false);
  if (!s.ok()) return s;
  c.stan.cluster_id = std::string(text);
  return Status::OK();
}

Status SetLogLevel(Config& c, std::string_view text) {
  auto level = ParseLogLevel(text);
  if (!level.ok()) return level.status();
  c.log_level = *level;
  return Status::OK();
}

Status SetLogFormat(Config& c, std::string_view text) {
  if (text == "text") {
    c.log_format = LogFormat::kText;
  } else if (text == "json") {
    c.log_format = LogFormat::kJson;
  } else {
    return Phrase(text, "is not a log format (text or json)");
  }
  return Status::OK();
}

Status SetStoreDir(Config& c, std::string_view text) {
  if (text.empty()) return Phrase(text, "must not be empty");
  c.store_dir = std::string(text);
  return Status::OK();
}

Status SetSync(Config& c, std::string_view text) {
  if (text == "full") {
    c.store.sync = store::SyncMode::kFull;
  } else if (text == "normal") {
    c.store.sync = store::SyncMode::kNormal;
  } else {
    return Phrase(text, "is not a sync mode (full or normal)");
  }
  return Status::OK();
}

Status SetDeliver(Config& c, std::string_view text) {
  if (text == "synced") {
    c.stan.deliver_on_commit = false;
  } else if (text == "committed") {
    c.stan.deliver_on_commit = true;
  } else {
    return Phrase(text, "is not a delivery point (synced or committed)");
  }
  return Status::OK();
}

Status SetFtGroup(Config& c, std::string_view text) {
  Status s = CheckName(text, /*allow_empty=*/true);
  if (!s.ok()) return s;
  c.ft.group = std::string(text);
  return Status::OK();
}

Status SetFtName(Config& c, std::string_view text) {
  Status s = CheckPrintable(text);
  if (!s.ok()) return s;
  c.ft.name = std::string(text);
  return Status::OK();
}

// A list of HOST:PORT: a YAML sequence, or one comma-separated string.
Status ApplyPeers(const YAML::Node& n, std::string_view path, std::vector<std::string>& out) {
  std::vector<std::string> items;
  if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) {
      auto text = ScalarOf(n[i], fmt::format("{}[{}]", path, i), "HOST:PORT");
      if (!text.ok()) return text.status();
      items.push_back(*text);
    }
  } else if (!n.IsNull()) {
    auto text = ScalarOf(n, path, "a list of HOST:PORT");
    if (!text.ok()) return text.status();
    for (auto item : SplitComma(*text)) items.emplace_back(item);
  }
  out.clear();
  for (size_t i = 0; i < items.size(); ++i) {
    auto peer = ParsePeer(items[i]);
    if (!peer.ok())
      return At(n.IsSequence() ? fmt::format("{}[{}]", path, i) : std::string(path), peer.status());
    out.push_back(*peer);
  }
  return Status::OK();
}

Status LoadStore(const YAML::Node& map, std::string_view path, Config& c) {
  return ForEachKey(
      map, path, {"dir", "sync", "deliver"},
      [&](const std::string& k, const YAML::Node& v, const std::string& kp) -> Status {
        if (k == "dir")
          return Apply(v, kp, "a directory", [&](auto& t) { return SetStoreDir(c, t); });
        if (k == "deliver")
          return Apply(v, kp, "synced or committed", [&](auto& t) { return SetDeliver(c, t); });
        return Apply(v, kp, "full or normal", [&](auto& t) { return SetSync(c, t); });
      });
}

Status LoadNats(const YAML::Node& map, std::string_view path, Config& c) {
  CoreOptions& o = c.core;
  return ForEachKey(
      map, path,
      {"max_payload", "max_control_line", "max_connections", "max_subscriptions", "max_pending",
       "ping_interval", "max_pings_out", "write_deadline", "server_name", "connect_urls",
       // an external cluster (config_nats_client.h)
       "servers", "user", "password", "token", "nkey_seed_file", "credentials", "tls",
       "connect_timeout", "reconnect_wait", "reconnect_buf_size", "max_reconnects"},
      [&](const std::string& k, const YAML::Node& v, const std::string& kp) -> Status {
        bool client_key = false;
        Status cs = LoadNatsClientKey(k, v, kp, c, &client_key);
        if (client_key) return cs;
        auto positive_size = [](std::string_view t) -> Result<uint64_t> {
          auto s = ParseSizeWithUnit(t);
          if (s.ok() && *s == 0) return Phrase(t, "must be greater than 0");
          return s;
        };
        if (k == "max_payload") return ApplyTo(v, kp, "a size", positive_size, o.max_payload);
        if (k == "max_control_line")
          return ApplyTo(v, kp, "a size", positive_size, o.max_control_line);
        if (k == "max_pending") return ApplyTo(v, kp, "a size", positive_size, o.max_pending_bytes);
        if (k == "max_connections")
          return ApplyTo(v, kp, "a number", Count(1, kIntMax), o.max_connections);
        if (k == "max_subscriptions")
          return ApplyTo(v, kp, "a number", Count(0, kIntMax), o.max_subscriptions);
        if (k == "max_pings_out")
          return ApplyTo(v, kp, "a number", Count(1, kIntMax), o.max_pings_out);
        if (k == "ping_interval")
          return ApplyTo(v, kp, "a duration", ParsePositiveMs, o.ping_interval_ms);
        if (k == "write_deadline")
          return ApplyTo(v, kp, "a duration", ParsePositiveMs, o.write_deadline_ms);
        if (k == "connect_urls") return ApplyPeers(v, kp, o.connect_urls);
        auto name = StringOf(v, kp);
        if (!name.ok()) return name.status();
        Status s = CheckPrintable(*name);
        if (!s.ok()) return At(kp, s);
        o.server_name = *name;
        return Status::OK();
      });
}

Status LoadStreaming(const YAML::Node& map, std::string_view path, StanOptions& o) {
  return ForEachKey(
      map, path,
      {"discover_prefix", "hb_interval", "hb_timeout", "hb_fail_count", "replace_durable",
       "partitioning"},
      [&](const std::string& k, const YAML::Node& v, const std::string& kp) -> Status {
        if (k == "hb_interval")
          return ApplyTo(v, kp, "a duration", ParsePositiveMs, o.hb_interval_ms);
        if (k == "hb_timeout")
          return ApplyTo(v, kp, "a duration", ParsePositiveMs, o.hb_timeout_ms);
        if (k == "hb_fail_count")
          return ApplyTo(v, kp, "a number", Count(1, kIntMax), o.hb_fail_count);
        if (k == "replace_durable")
          return ApplyTo(v, kp, "a boolean", ParseBool, o.replace_durable);
        if (k == "partitioning") return ApplyTo(v, kp, "a boolean", ParseBool, o.partitioning);
        return Apply(v, kp, "a subject", [&](const std::string& t) -> Status {
          Status s = CheckSubject(t, /*wildcards=*/false);
          if (s.ok()) o.discover_prefix = t;
          return s;
        });
      });
}

auto Duration() {
  return [](std::string_view t) { return ParseDurationNs(t); };
}

template <typename T>
Status ApplyOptional(const YAML::Node& v, std::string_view kp, std::string_view what,
                     Result<T> (*parse)(std::string_view), std::optional<T>& out) {
  T value{};
  Status s = ApplyTo(v, kp, what, parse, value);
  if (s.ok()) out = value;
  return s;
}

Result<uint64_t> ParseAnyCount(std::string_view t) { return ParseCount(t, 0, kU64Max); }

Status LoadChannel(const YAML::Node& map, std::string_view path, LimitsEntry& e) {
  return ForEachKey(
      map, path,
      {"max_msgs", "max_bytes", "max_age", "max_subs", "max_inactivity", "max_deliveries",
       "dead_letter", "redelivery_backoff"},
      [&](const std::string& k, const YAML::Node& v, const std::string& kp) -> Status {
        if (k == "max_msgs")
          return ApplyOptional<uint64_t>(v, kp, "a number", ParseAnyCount, e.max_msgs);
        if (k == "max_bytes")
          return ApplyOptional<uint64_t>(v, kp, "a size", ParseSizeWithUnit, e.max_bytes);
        if (k == "max_subs")
          return ApplyOptional<uint64_t>(v, kp, "a number", ParseAnyCount, e.max_subs);
        if (k == "max_age")
          return ApplyOptional<int64_t>(v, kp, "a duration", ParseDurationNs, e.max_age_ns);
        if (k == "max_inactivity")
          return ApplyOptional<int64_t>(v, kp, "a duration", ParseDurationNs, e.max_inactivity_ns);
        uint64_t max_deliveries = 0;
        std::string dead_letter;
        RedeliveryBackoff backoff;
        Status s = LoadRedeliveryKey(k, v, kp, max_deliveries, dead_letter, backoff);
        if (!s.ok()) return s;
        if (k == "max_deliveries") e.max_deliveries = max_deliveries;
        if (k == "dead_letter") e.dead_letter = dead_letter;
        if (k == "redelivery_backoff") e.redelivery_backoff = backoff;
        return Status::OK();
      });
}

Status LoadChannels(const YAML::Node& map, std::string_view path, StanLimits& l) {
  if (map.IsNull()) return Status::OK();
  if (!map.IsMap())
    return At(path, fmt::format("expected a map of channel names, got {}", KindName(map)));
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) return At(path, "channel names must be plain strings");
    const std::string& name = kv.first.Scalar();
    std::string kp = fmt::format("{}.{}", path, Quote(name));
    Status s = CheckSubject(name, /*wildcards=*/true);
    if (!s.ok()) return At(kp, s);
    if (l.channels.count(name)) return At(kp, "duplicate channel");
    LimitsEntry entry;
    s = LoadChannel(kv.second, kp, entry);
    if (!s.ok()) return s;
    l.channels.emplace(name, entry);
  }
  return Status::OK();
}

Status LoadLimits(const YAML::Node& map, std::string_view path, StanLimits& l) {
  Status s = ForEachKey(
      map, path,
      {"max_channels", "max_msgs", "max_bytes", "max_age", "max_subs", "max_inactivity",
       "max_deliveries", "dead_letter", "redelivery_backoff", "channels"},
      [&](const std::string& k, const YAML::Node& v, const std::string& kp) -> Status {
        if (k == "max_channels") return ApplyTo(v, kp, "a number", ParseAnyCount, l.max_channels);
        if (k == "max_msgs") return ApplyTo(v, kp, "a number", ParseAnyCount, l.max_msgs);
        if (k == "max_bytes") return ApplyTo(v, kp, "a size", ParseSizeWithUnit, l.max_bytes);
        if (k == "max_subs") return ApplyTo(v, kp, "a number", ParseAnyCount, l.max_subs);
        if (k == "max_age") return ApplyTo(v, kp, "a duration", Duration(), l.max_age_ns);
        if (k == "max_inactivity")
          return ApplyTo(v, kp, "a duration", Duration(), l.max_inactivity_ns);
        if (k != "channels") {
          return LoadRedeliveryKey(k, v, kp, l.max_deliveries, l.dead_letter, l.redelivery_backoff);
        }
        l.channels.clear();
        return LoadChannels(v, kp, l);
      });
  return s.ok() ? CheckDeadLetters(l) : s;
}

// `tls:` (the client port, and the monitoring port with `https`), nats-server's words.
Status LoadTls(const YAML::Node& map, std::string_view path, TlsOptions& t) {
  t.enabled = true;
  return ForEachKey(
      map, path,
      {"cert_file", "key_file", "ca_file", "verify", "verify_and_map", "timeout", "min_version"},
      [&](const std::string& k, const YAML::Node& v, const std::string& kp) -> Status {
        if (k == "verify") return ApplyTo(v, kp, "a boolean", ParseBool, t.verify);
        if (k == "verify_and_map") return ApplyTo(v, kp, "a boolean", ParseBool, t.verify_and_map);
        if (k == "timeout") return ApplyTo(v, kp, "a duration", ParseTlsTimeoutMs, t.timeout_ms);
        if (k == "min_version")
          return Apply(v, kp, "a TLS version", [&](auto& x) { return SetMinVersion(t, x); });
        auto text = StringOf(v, kp);
        if (!text.ok()) return text.status();
        (k == "cert_file" ? t.cert_file : k == "key_file" ? t.key_file : t.ca_file) = *text;
        return Status::OK();
      });
}

Status LoadFt(const YAML::Node& map, std::string_view path, Config& c) {
  return ForEachKey(
      map, path,
      {"group", "name", "peers", "heartbeat", "missed", "user", "password", "token",
       "nkey_seed_file", "tls"},
      [&](const std::string& k, const YAML::Node& v, const std::string& kp) -> Status {
        bool credential = false;
        Status cs = LoadFtCredential(k, v, kp, c.ft, &credential);
        if (credential) return cs;
        if (k == "peers") return ApplyPeers(v, kp, c.ft.peers);
        if (k == "tls") return LoadClientTls(v, kp, c.ft_tls);  // the peer link's side
        if (k == "heartbeat")
          return ApplyTo(v, kp, "a duration", ParsePositiveMs, c.ft.heartbeat_ms);
        if (k == "missed") return ApplyTo(v, kp, "a number", Count(1, kIntMax), c.ft.missed);
        auto text = StringOf(v, kp);
        if (!text.ok()) return text.status();
        Status s = k == "group" ? SetFtGroup(c, *text) : SetFtName(c, *text);
        return s.ok() ? s : At(kp, s);
      });
}

Status LoadTop(const YAML::Node& root, Config& c) {
  return ForEachKey(
      root, "",
      {"listen", "http", "https", "cluster_id", "log_level", "log_format", "store", "nats",
       "streaming", "limits", "ft", "authorization", "tls", "backup"},
      [&](const std::string& k, const YAML::Node& v, const std::string& kp) -> Status {
        if (k == "authorization") return LoadAuthorization(v, kp, c.core.auth);
        if (k == "tls") return LoadTls(v, kp, c.core.tls);
        if (k == "store") return LoadStore(v, kp, c);
        if (k == "backup") return LoadBackup(v, kp, c.http);
        if (k == "nats") return LoadNats(v, kp, c);
        if (k == "streaming") return LoadStreaming(v, kp, c.stan);
        if (k == "limits") return LoadLimits(v, kp, c.stan.limits);
        if (k == "ft") return LoadFt(v, kp, c);
        if (k == "http" || k == "https") {
          auto text = StringOf(v, kp);
          if (!text.ok()) return text.status();
          if (c.http.https != (k == "https") && !c.http.host.empty() && !text->empty())
            return At(kp, "http and https cannot both be set (one monitoring port)");
          Status s = k == "http" ? SetHttp(c, *text) : SetHttps(c, *text);
          return s.ok() ? s : At(kp, s);
        }
        if (k == "listen")
          return Apply(v, kp, "HOST:PORT", [&](auto& t) { return SetListen(c, t); });
        if (k == "cluster_id")
          return Apply(v, kp, "a name", [&](auto& t) { return SetClusterId(c, t); });
        if (k == "log_format")
          return Apply(v, kp, "text or json", [&](auto& t) { return SetLogFormat(c, t); });
        return Apply(v, kp, "a log level", [&](auto& t) { return SetLogLevel(c, t); });
      });
}

// ---- flags and cross-key checks ------------------------------------------------------------

template <typename Set>
Status ApplyFlag(const std::optional<std::string>& value, std::string_view flag,
                 std::string_view key, Set&& set) {
  if (!value) return Status::OK();
  Status s = set(*value);
  return s.ok() ? s : At(fmt::format("{} ({})", flag, key), s);
}

Status ApplyOverrides(const ConfigOverrides& o, Config& c) {
  Status s;
  s = ApplyFlag(o.listen, "--listen", "listen", [&](auto& t) { return SetListen(c, t); });
  if (!s.ok()) return s;
  s = ApplyFlag(o.http, "--http", "http", [&](auto& t) { return SetHttp(c, t); });
  if (!s.ok()) return s;
  s = ApplyFlag(o.store_dir, "--store", "store.dir", [&](auto& t) { return SetStoreDir(c, t); });
  if (!s.ok()) return s;
  s = ApplyFlag(o.cluster_id, "--cluster-id", "cluster_id",
                [&](auto& t) { return SetClusterId(c, t); });
  if (!s.ok()) return s;
  s = ApplyFlag(o.log_level, "--log-level", "log_level",
                [&](auto& t) { return SetLogLevel(c, t); });
  if (!s.ok()) return s;
  s = ApplyFlag(o.log_format, "--log-format", "log_format",
                [&](auto& t) { return SetLogFormat(c, t); });
  if (!s.ok()) return s;
  s = ApplyFlag(o.sync, "--sync", "store.sync", [&](auto& t) { return SetSync(c, t); });
  if (!s.ok()) return s;
  s = ApplyFlag(o.ft_group, "--ft-group", "ft.group", [&](auto& t) { return SetFtGroup(c, t); });
  if (!s.ok()) return s;
  s = ApplyFlag(o.ft_name, "--ft-name", "ft.name", [&](auto& t) { return SetFtName(c, t); });
  if (!s.ok()) return s;
  s = ApplyAuthFlags(o.user, o.pass, o.auth, c.core.auth);
  if (!s.ok()) return s;
  s = ApplyFlag(o.ft_peers, "--ft-peers", "ft.peers", [&](const std::string& t) -> Status {
    std::vector<std::string> peers;
    for (auto item : SplitComma(t)) {
      auto peer = ParsePeer(item);
      if (!peer.ok()) return peer.status();
      peers.push_back(*peer);
    }
    c.ft.peers = std::move(peers);
    return Status::OK();
  });
  if (!s.ok()) return s;
  s = ApplyFlag(o.https, "--https", "https", [&](auto& t) { return SetHttps(c, t); });
  if (!s.ok()) return s;
  s = ApplyNatsServerFlag(o.nats_server, c);
  if (!s.ok()) return s;
  if (o.partitioning) c.stan.partitioning = true;
  TlsOptions& t = c.core.tls;
  if (o.tls || o.tls_verify || o.tls_cert || o.tls_key || o.tls_ca) t.enabled = true;
  if (o.tls_verify) t.verify = true;
  if (o.tls_cert) t.cert_file = *o.tls_cert;
  if (o.tls_key) t.key_file = *o.tls_key;
  if (o.tls_ca) t.ca_file = *o.tls_ca;
  return Status::OK();
}

// Loads the certificates now, so that a bad file stops tandem before it starts, named. The
// contexts are the ones the process uses (each built once): the client port and https share
// the server one, the peer links the client one.
Status CheckTls(Config& c) {
  if (c.core.tls.enabled) {
    auto ctx = TlsContext::Server(c.core.tls);
    if (!ctx.ok()) return At("tls", ctx.status().message());
    c.core.tls_context = *ctx;
  }
  if (c.http.https && !c.core.tls.enabled) {
    return At("https", "needs the tls section (cert_file, key_file) for its certificate");
  }
  if (c.ft_tls.enabled) {
    auto ctx = TlsContext::Client(c.ft_tls);
    if (!ctx.ok()) return At("ft.tls", ctx.status().message());
    c.ft_tls_context = *ctx;
  }
  return Status::OK();
}

// Partitioning splits channels among groups that share one NATS: an external cluster, and a
// list of the channels this group owns.
Status CheckPartitioning(const Config& c) {
  if (!c.stan.partitioning) return Status::OK();
  if (!c.external.enabled()) {
    return At("streaming.partitioning",
              "needs an external NATS cluster (nats.servers or --nats-server): partitions share "
              "one cluster");
  }
  if (c.stan.limits.channels.empty()) {
    return At("streaming.partitioning",
              "needs the channels this group owns under limits.channels (names or wildcards)");
  }
  return Status::OK();
}

Status Finish(Config& c) {
  if (c.core.max_payload > c.core.max_pending_bytes) {
    return At("nats.max_payload", fmt::format("{} must not exceed nats.max_pending ({})",
                                              c.core.max_payload, c.core.max_pending_bytes));
  }
  c.store.path = (std::filesystem::path(c.store_dir) / "store.db").string();
  if (Status s = CheckBackup(c.http); !s.ok()) return s;
  // A member of an FT group with no peers listens for the active on its own client port: the
  // port every member of a same-host pair binds once active. With an external cluster the
  // members hear each other through it and have no peers to dial.
  if (!c.ft.group.empty() && c.ft.peers.empty() && !c.external.enabled()) {
    if (c.core.port == 0)
      return At("ft.peers", "must be set when ft.group is set and listen has port 0");
    std::string host = c.core.host == "0.0.0.0" ? "127.0.0.1"
                       : c.core.host == "::"    ? "::1"
                                                : c.core.host;
    c.ft.peers.push_back(FormatHostPort(host, c.core.port));
  }
  Status auth = CheckAuth(c);
  if (!auth.ok()) return auth;
  Status client = CheckNatsClient(c);
  if (!client.ok()) return client;
  Status part = CheckPartitioning(c);
  if (!part.ok()) return part;
  return CheckTls(c);
}

}  // namespace

// ---- public --------------------------------------------------------------------------------

Result<Config> ParseConfig(std::string_view yaml, const ConfigOverrides& overrides) {
  Config c;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    Status s = LoadTop(root, c);
    if (!s.ok()) return s;
  } catch (const YAML::Exception& e) {
    if (!e.mark.is_null()) {
      return At(fmt::format("line {}, column {}", e.mark.line + 1, e.mark.column + 1), e.msg);
    }
    return At("yaml", e.msg);
  } catch (const std::exception& e) {
    return At("yaml", e.what());
  }
  Status s = ApplyOverrides(overrides, c);
  if (!s.ok()) return s;
  s = Finish(c);
  if (!s.ok()) return s;
  return c;
}

Result<Config> LoadConfig(const std::string& path, const ConfigOverrides& overrides) {
  if (path.empty()) return ParseConfig("", overrides);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return At(path, "is a directory, not a config file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return At(path, fmt::format("cannot read: {}", std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return At(path, "read error");
  auto config = ParseConfig(text.str(), overrides);
  if (config.ok()) return config;
  // Name the file in front of the key: "config: FILE: key: message".
  std::string msg = config.status().message();
  constexpr std::string_view kPrefix = "config: ";
  if (msg.rfind(kPrefix, 0) == 0) msg = msg.substr(kPrefix.size());
  return At(path, msg);
}

Result<LogLevel> ParseLogLevel(std::string_view text) {
  static constexpr LogLevel kAll[] = {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo,
                                      LogLevel::kWarn, LogLevel::kError};
  for (LogLevel l : kAll) {
    if (text == LogLevelName(l)) return l;
  }
  return Phrase(text, "is not a log level (trace, debug, info, warn, error)");
}

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace tandem::server
