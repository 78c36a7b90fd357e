// config_auth.cc: reads and checks the security sections of the configuration (see
// config_auth.h). Words and shapes are nats-server's: `user`/`username`, `password`/`pass`,
// `token`, `timeout` (seconds as a bare number, as nats-server reads it, or a duration),
// `users` (each {user, password, permissions} or {nkey, permissions}), `default_permissions`;
// `permissions: {publish, subscribe, allow_responses}` where publish and subscribe are a
// subject, a list of subjects (both meaning `allow`) or {allow, deny}, and allow_responses is
// true/false or {max, expires}.
#include "server/config_auth.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "server/config.h"
#include "server/config_yaml.h"
#include "server/nats/auth.h"
#include "server/nats/nkeys.h"
#include "server/pair/ft_credentials.h"

namespace tandem::server {
namespace {

using namespace config_yaml;  // NOLINT: the shared walk helpers

// A secret: any scalar; the message never shows it.
Status SecretOf(const YAML::Node& n, std::string_view path, std::string& out) {
  if (!n.IsScalar()) return At(path, fmt::format("expected a string, got {}", KindName(n)));
  out = n.Scalar();
  if (out.empty()) return At(path, "must not be empty");
  return Status::OK();
}

Status NameOf(const YAML::Node& n, std::string_view path, std::string& out) {
  auto text = ScalarOf(n, path, "a name");
  if (!text.ok()) return text.status();
  Status s = CheckPrintable(*text);
  if (s.ok() && text->empty()) s = Phrase(*text, "must not be empty");
  if (!s.ok()) return At(path, s);
  out = *text;
  return Status::OK();
}

// A `users` entry's name: like NameOf, but spaces are allowed, since under verify_and_map it
// may be a certificate subject ("CN=bob,O=Example Corp"); control characters are not.
Status UserNameOf(const YAML::Node& n, std::string_view path, std::string& out) {
  auto text = ScalarOf(n, path, "a name");
  if (!text.ok()) return text.status();
  if (text->empty()) return At(path, Phrase(*text, "must not be empty"));
  for (char c : *text) {
    if (std::iscntrl(static_cast<unsigned char>(c)) || (c != ' ' && std::isspace(c))) {
      return At(path, Phrase(*text, "must not contain control characters"));
    }
  }
  out = *text;
  return Status::OK();
}

// authorization.timeout: above 0.
Result<uint64_t> ParseAuthTimeoutMs(std::string_view text) { return ParseTimeoutMs(text, false); }

// A subject or a list of them, each checked.
Status LoadSubjects(const YAML::Node& n, std::string_view path, std::vector<std::string>& out) {
  out.clear();
  auto one = [&](const YAML::Node& item, const std::string& kp) -> Status {
    auto text = ScalarOf(item, kp, "a subject");
    if (!text.ok()) return text.status();
    Status s = CheckSubject(*text, /*wildcards=*/true);
    if (!s.ok()) return At(kp, s);
    out.push_back(*text);
    return Status::OK();
  };
  if (n.IsNull()) return Status::OK();
  if (!n.IsSequence()) return one(n, std::string(path));
  for (size_t i = 0; i < n.size(); ++i) {
    Status s = one(n[i], fmt::format("{}[{}]", path, i));
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status LoadSubjectRules(const YAML::Node& n, std::string_view path, SubjectRules& r) {
  if (!n.IsMap()) {  // a bare subject or list: allow
    std::vector<std::string> allow;
    Status s = LoadSubjects(n, path, allow);
    if (s.ok()) r.allow = std::move(allow);
    return s;
  }
  return ForEachKey(n, path, {"allow", "deny"},
                    [&](const std::string& k, const YAML::Node& v, const std::string& kp) {
                      if (k == "deny") return LoadSubjects(v, kp, r.deny);
                      std::vector<std::string> allow;
                      Status s = LoadSubjects(v, kp, allow);
                      if (s.ok()) r.allow = std::move(allow);
                      return s;
                    });
}

Status LoadResponses(const YAML::Node& n, std::string_view path,
                     std::optional<ResponsePermission>& out) {
  if (n.IsScalar()) {
    auto on = ParseBool(n.Scalar());
    if (!on.ok()) return At(path, on.status());
    if (*on) out = ResponsePermission{};
    return Status::OK();
  }
  ResponsePermission rp;
  Status s =
      ForEachKey(n, path, {"max", "expires"},
                 [&](const std::string& k, const YAML::Node& v, const std::string& kp) -> Status {
                   if (k == "max")
                     return ApplyTo(v, kp, "a number", Count(0, kU64Max), rp.max_msgs);
                   return ApplyTo(
                       v, kp, "a duration",
                       [](std::string_view t) -> Result<uint64_t> {
                         auto ns = ParseDurationNs(t);
                         if (!ns.ok()) return ns.status();
                         return static_cast<uint64_t>(*ns / 1000000);
                       },
                       rp.expires_ms);
                 });
  if (s.ok()) out = rp;
  return s;
}

Status LoadPermissions(const YAML::Node& map, std::string_view path, Permissions& p) {
  if (!map.IsMap()) return At(path, fmt::format("expected a map, got {}", KindName(map)));
  return ForEachKey(
      map, path, {"publish", "subscribe", "allow_responses"},
      [&](const std::string& k, const YAML::Node& v, const std::string& kp) -> Status {
        if (k == "allow_responses") return LoadResponses(v, kp, p.responses);
        SubjectRules rules;
        Status s = LoadSubjectRules(v, kp, rules);
        if (!s.ok()) return s;
        (k == "publish" ? p.publish : p.subscribe) = std::move(rules);
        return Status::OK();
      });
}

Status LoadUser(const YAML::Node& map, std::string_view path, AuthUser& u) {
  if (!map.IsMap()) return At(path, fmt::format("expected a map, got {}", KindName(map)));
  Status s =
      ForEachKey(map, path, {"user", "username", "password", "pass", "nkey", "permissions"},
                 [&](const std::string& k, const YAML::Node& v, const std::string& kp) -> Status {
                   if (k == "user" || k == "username") return UserNameOf(v, kp, u.user);
                   if (k == "password" || k == "pass") return SecretOf(v, kp, u.password);
                   if (k == "permissions") {
                     Permissions p;
                     Status ps = LoadPermissions(v, kp, p);
                     if (ps.ok()) u.permissions = std::move(p);
                     return ps;
                   }
                   auto text = ScalarOf(v, kp, "an nkey");
                   if (!text.ok()) return text.status();
                   auto key = DecodeUserPublicKey(*text);
                   if (!key.ok()) return At(kp, Phrase(*text, key.status().message()));
                   u.nkey = *text;
                   return Status::OK();
                 });
  if (!s.ok()) return s;
  if (!u.nkey.empty() && (!u.user.empty() || !u.password.empty())) {
    return At(path, "an nkey user has no user name or password");
  }
  if (u.nkey.empty() && u.user.empty()) return At(path, "needs user (with password) or nkey");
  // A user without a password is checked in CheckAuth: tls.verify_and_map allows it.
  return Status::OK();
}

Status LoadUsers(const YAML::Node& n, std::string_view path, std::vector<AuthUser>& users) {
  if (!n.IsSequence()) return At(path, fmt::format("expected a list, got {}", KindName(n)));
  std::set<std::string> seen;
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string kp = fmt::format("{}[{}]", path, i);
    AuthUser u;
    Status s = LoadUser(n[i], kp, u);
    if (!s.ok()) return s;
    const std::string& id = u.nkey.empty() ? u.user : u.nkey;
    if (!seen.insert(id).second) return At(kp, fmt::format("duplicate user {}", Quote(id)));
    users.push_back(std::move(u));
  }
  return Status::OK();
}

// The seed in an nkey seed file: its first word starting with "SU".
Status ReadSeedFile(const std::string& file, std::string_view path, std::string& seed) {
  std::ifstream in(file);
  if (!in) return At(path, fmt::format("{}: cannot read: {}", Quote(file), std::strerror(errno)));
  std::string word;
  while (in >> word) {
    if (word.rfind("SU", 0) != 0) continue;
    auto decoded = DecodeUserSeed(word);
    if (!decoded.ok()) {
      return At(path, fmt::format("{}: the seed {}", Quote(file), decoded.status().message()));
    }
    seed = word;
    return Status::OK();
  }
  return At(path, fmt::format("{}: holds no user nkey seed (\"SU...\")", Quote(file)));
}

}  // namespace

Status LoadAuthorization(const YAML::Node& map, std::string_view path, AuthOptions& o) {
  return ForEachKey(
      map, path,
      {"user", "username", "password", "pass", "token", "timeout", "users", "default_permissions"},
      [&](const std::string& k, const YAML::Node& v, const std::string& kp) -> Status {
        if (k == "user" || k == "username") return NameOf(v, kp, o.user);
        if (k == "password" || k == "pass") return SecretOf(v, kp, o.password);
        if (k == "token") return SecretOf(v, kp, o.token);
        if (k == "timeout") return ApplyTo(v, kp, "a duration", ParseAuthTimeoutMs, o.timeout_ms);
        if (k == "users") return LoadUsers(v, kp, o.users);
        Permissions p;
        Status s = LoadPermissions(v, kp, p);
        if (s.ok()) o.default_permissions = std::move(p);
        return s;
      });
}

Status LoadFtCredential(std::string_view key, const YAML::Node& v, std::string_view path,
                        ft::FtOptions& ft, bool* handled) {
  *handled = true;
  if (key == "user") return NameOf(v, path, ft.credentials.user);
  if (key == "password") return SecretOf(v, path, ft.credentials.password);
  if (key == "token") return SecretOf(v, path, ft.credentials.token);
  if (key == "nkey_seed_file") {
    auto file = ScalarOf(v, path, "a file");
    if (!file.ok()) return file.status();
    ft.nkey_seed_file = *file;
    return ReadSeedFile(*file, path, ft.credentials.nkey_seed);
  }
  *handled = false;
  return Status::OK();
}

Status ApplyAuthFlags(const std::optional<std::string>& user,
                      const std::optional<std::string>& pass,
                      const std::optional<std::string>& token, AuthOptions& o) {
  if (user) {
    Status s = CheckPrintable(*user);
    if (s.ok() && user->empty()) s = Phrase(*user, "must not be empty");
    if (!s.ok()) return At("--user (authorization.user)", s);
    o.user = *user;
  }
  if (pass) {
    if (pass->empty()) return At("--pass (authorization.password)", "must not be empty");
    o.password = *pass;
  }
  if (token) {
    if (token->empty()) return At("--auth (authorization.token)", "must not be empty");
    o.token = *token;
  }
  return Status::OK();
}

Status CheckAuth(const Config& c) {
  const AuthOptions& a = c.core.auth;
  if (!a.user.empty() && a.password.empty()) {
    return At("authorization.password", "must be set with authorization.user");
  }
  if (a.user.empty() && !a.password.empty()) {
    return At("authorization.user", "must be set with authorization.password");
  }
  const int forms =
      (a.user.empty() ? 0 : 1) + (a.token.empty() ? 0 : 1) + (a.users.empty() ? 0 : 1);
  if (forms > 1) {
    return At("authorization", "use one of user/password, token or users, not several");
  }
  // A user without a password can log in only with a client certificate that names it.
  const bool maps = c.core.tls.verify_and_map && !a.users.empty();
  for (size_t i = 0; i < a.users.size(); ++i) {
    if (a.users[i].nkey.empty() && a.users[i].password.empty() && !maps) {
      return At(fmt::format("authorization.users[{}].password", i),
                "is missing (only tls.verify_and_map admits a user without one)");
    }
  }
  const ft::FtCredentials& cred = c.ft.credentials;
  if (!cred.user.empty() && cred.password.empty()) {
    return At("ft.password", "must be set with ft.user");
  }
  if (c.ft.group.empty() || !a.required()) return Status::OK();
  // Under verify_and_map the link's certificate (ft.tls.cert_file) names its user.
  if (maps && cred.nkey_seed.empty()) {
    if (c.ft_tls.cert_file.empty()) {
      return At("ft.tls.cert_file",
                "must be set: tls.verify_and_map takes the pair's user from its certificate");
    }
    return Status::OK();
  }
  // The standby's link logs in on the active's client port: refuse a member it would be
  // locked out of (assuming the members of a group share their authorization).
  if (cred.empty()) {
    return At("ft",
              "the client port requires authorization: set ft.user and ft.password, "
              "ft.token or ft.nkey_seed_file for the pair's link");
  }
  Authenticator auth(a);
  const std::string nonce = Authenticator::MakeNonce();
  if (!auth.Check(PairConnectCredentials(cred, nonce), nonce)) {
    return At("ft",
              "the pair's credentials (ft.user/ft.password, ft.token or "
              "ft.nkey_seed_file) are not accepted by this member's authorization");
  }
  return Status::OK();
}

}  // namespace tandem::server
