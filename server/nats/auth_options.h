// auth_options.h: the `authorization:` settings of the NATS core, in nats-server's words: one
// user with a password, or a token, or a list of users (password, plain or bcrypt, or an nkey),
// each with optional subject permissions, and the permissions of users without their own.
// Filled and validated by the configuration (server/config_auth.cc); read by the Authenticator
// (auth.h) when the core starts. Secrets live here and nowhere else: nothing prints them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tandem::server {

// One direction (publish or subscribe) of a user's permissions. An absent `allow` allows every
// subject; a present but empty one allows none. `deny` wins over `allow`. Entries are subjects
// with the usual wildcards.
struct SubjectRules {
  std::optional<std::vector<std::string>> allow;
  std::vector<std::string> deny;
};

// allow_responses: a user may publish to the reply subject of a message it received, at most
// `max_msgs` times (0: any number) and within `expires_ms` of the delivery (0: no limit).
// nats-server's defaults: 1 message, 2 minutes.
struct ResponsePermission {
  uint64_t max_msgs = 1;
  uint64_t expires_ms = 120000;
};

struct Permissions {
  std::optional<SubjectRules> publish;    // absent: publish anywhere
  std::optional<SubjectRules> subscribe;  // absent: subscribe anywhere
  std::optional<ResponsePermission> responses;
};

struct AuthUser {
  std::string user;      // empty for an nkey user
  std::string password;  // plain, or a bcrypt hash ($2a$, $2b$, $2y$)
  std::string nkey;      // an nkey user's public key ("U" and 55 base32 characters)
  std::optional<Permissions> permissions;  // absent: default_permissions
};

struct AuthOptions {
  std::string user, password;  // the single user of `authorization: {user, password}`
  std::string token;           // `authorization: {token}`
  std::vector<AuthUser> users;
  std::optional<Permissions> default_permissions;
  // A connection that has not sent an accepted CONNECT this long after its INFO is closed with
  // -ERR 'Authentication Timeout' (nats-server's AUTH_TIMEOUT: 2 s).
  uint64_t timeout_ms = 2000;

  bool required() const { return !user.empty() || !token.empty() || !users.empty(); }
  bool has_nkeys() const {
    for (const AuthUser& u : users) {
      if (!u.nkey.empty()) return true;
    }
    return false;
  }
};

}  // namespace tandem::server
