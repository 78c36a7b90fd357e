// config_nats_client.cc: the external cluster's keys of `nats:` and --nats-server (see
// config_nats_client.h). The credential keys are read by the same code as the pair's `ft:`
// credentials (config_auth.h), so both give the same messages.
#include "server/config_nats_client.h"

#include <fstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "server/config.h"
#include "server/config_auth.h"
#include "server/config_yaml.h"
#include "server/nats/nkeys.h"
#include "server/util/tls_context.h"

namespace tandem::server {
namespace {

using namespace config_yaml;  // NOLINT: the shared walk helpers (config_yaml.h)

std::vector<std::string_view> SplitList(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

// nats.servers: a YAML list or one comma-separated string of NATS URLs.
Status LoadServers(const YAML::Node& n, std::string_view path, std::vector<std::string>& out) {
  std::vector<std::pair<std::string, std::string>> items;  // (key path, text)
  if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) {
      std::string kp = fmt::format("{}[{}]", path, i);
      auto text = ScalarOf(n[i], kp, "a NATS URL");
      if (!text.ok()) return text.status();
      items.emplace_back(kp, *text);
    }
  } else if (!n.IsNull()) {
    auto text = ScalarOf(n, path, "a list of NATS URLs");
    if (!text.ok()) return text.status();
    for (auto item : SplitList(*text)) items.emplace_back(std::string(path), std::string(item));
  }
  out.clear();
  for (const auto& [kp, text] : items) {
    auto url = ParseNatsUrl(text);
    if (!url.ok()) return At(kp, url.status());
    out.push_back(*url);
  }
  return Status::OK();
}

// nats.max_reconnects: -1 (forever, the default) or a count.
Result<int> ParseMaxReconnects(std::string_view text) {
  if (text == "-1") return -1;
  auto n = ParseCount(text, 0, kIntMax);
  if (!n.ok()) return Phrase(text, "is not -1 (forever) or a number of attempts");
  return static_cast<int>(*n);
}

}  // namespace

Status LoadClientTls(const YAML::Node& map, std::string_view path, TlsClientOptions& t) {
  t.enabled = true;
  return ForEachKey(
      map, path, {"ca_file", "cert_file", "key_file"},
      [&](const std::string& k, const YAML::Node& v, const std::string& kp) {
        auto text = StringOf(v, kp);
        if (!text.ok()) return text.status();
        (k == "ca_file" ? t.ca_file : k == "cert_file" ? t.cert_file : t.key_file) = *text;
        return Status::OK();
      });
}

Status LoadNatsClientKey(std::string_view key, const YAML::Node& v, std::string_view path,
                         Config& c, bool* handled) {
  ExternalNatsOptions& o = c.external;
  *handled = true;
  if (key == "servers") return LoadServers(v, path, o.servers);
  if (key == "tls") return LoadClientTls(v, path, o.tls);
  if (key == "credentials") {
    auto file = ScalarOf(v, path, "a file");
    if (!file.ok()) return file.status();
    o.credentials_file = *file;
    return Status::OK();
  }
  if (key == "connect_timeout") {
    return ApplyTo(v, path, "a duration", ParsePositiveMs, o.connect_timeout_ms);
  }
  if (key == "reconnect_wait") {
    return ApplyTo(v, path, "a duration", ParsePositiveMs, o.reconnect_wait_ms);
  }
  if (key == "reconnect_buf_size") {
    return ApplyTo(v, path, "a size", ParseSizeWithUnit, o.reconnect_buf_size);
  }
  if (key == "max_reconnects") {
    return ApplyTo(v, path, "-1 or a number", ParseMaxReconnects, o.max_reconnects);
  }
  // user, password, token, nkey_seed_file: read as the pair's credentials are.
  ft::FtOptions scratch;
  bool credential = false;
  Status s = LoadFtCredential(key, v, path, scratch, &credential);
  if (!credential) {
    *handled = false;
    return Status::OK();
  }
  if (!s.ok()) return s;
  if (!scratch.credentials.user.empty()) o.user = scratch.credentials.user;
  if (!scratch.credentials.password.empty()) o.password = scratch.credentials.password;
  if (!scratch.credentials.token.empty()) o.token = scratch.credentials.token;
  if (!scratch.credentials.nkey_seed.empty()) {
    o.nkey_seed_file = scratch.nkey_seed_file;
    auto seed = DecodeUserSeed(scratch.credentials.nkey_seed);
    if (!seed.ok()) return At(path, seed.status());
    o.nkey_public = EncodeUserPublicKey(PublicKeyOfSeed(*seed));
  }
  return Status::OK();
}

Status ApplyNatsServerFlag(const std::optional<std::string>& flag, Config& c) {
  if (!flag) return Status::OK();
  std::vector<std::string> servers;
  for (auto item : SplitList(*flag)) {
    auto url = ParseNatsUrl(item);
    if (!url.ok()) return At("--nats-server (nats.servers)", url.status());
    servers.push_back(*url);
  }
  if (servers.empty()) return At("--nats-server (nats.servers)", "needs at least one URL");
  c.external.servers = std::move(servers);
  return Status::OK();
}

Status CheckNatsClient(Config& c) {
  ExternalNatsOptions& o = c.external;
  const bool other_keys = !o.user.empty() || !o.token.empty() || !o.nkey_seed_file.empty() ||
                          !o.credentials_file.empty() || o.tls.enabled;
  if (!o.enabled()) {
    if (other_keys) {
      return At("nats.servers",
                "must be set: the client keys of nats (user, password, token, "
                "nkey_seed_file, credentials, tls) are for an external cluster");
    }
    return Status::OK();
  }
  int forms = (!o.user.empty() ? 1 : 0) + (!o.token.empty() ? 1 : 0) +
              (!o.nkey_seed_file.empty() ? 1 : 0) + (!o.credentials_file.empty() ? 1 : 0);
  if (forms > 1) {
    return At("nats",
              "give one form of credentials: user and password, token, nkey_seed_file "
              "or credentials");
  }
  if (!o.user.empty() && o.password.empty()) return At("nats.password", "must be set with user");
  if (o.user.empty() && !o.password.empty()) return At("nats.user", "must be set with password");
  if (!o.credentials_file.empty()) {
    std::ifstream in(o.credentials_file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.is_open()) {
      return At("nats.credentials", fmt::format("{}: cannot read", Quote(o.credentials_file)));
    }
    if (text.find("-----BEGIN NATS USER JWT-----") == std::string::npos ||
        text.find("SU") == std::string::npos) {
      return At("nats.credentials",
                fmt::format("{}: is not a .creds file (a user JWT and an nkey seed)",
                            Quote(o.credentials_file)));
    }
  }
  if (o.tls.enabled) {
    auto ctx = TlsContext::Client(o.tls);
    if (!ctx.ok()) return At("nats.tls", ctx.status().message());
  }
  o.ping_interval_ms = static_cast<int64_t>(c.core.ping_interval_ms);
  o.max_pings_out = c.core.max_pings_out;
  o.write_deadline_ms = static_cast<int64_t>(c.core.write_deadline_ms);
  if (o.name.empty()) {
    o.name = c.ft.name.empty() ? fmt::format("tandem-{}", c.stan.cluster_id)
                               : fmt::format("tandem-{}-{}", c.stan.cluster_id, c.ft.name);
  }
  return Status::OK();
}

}  // namespace tandem::server
