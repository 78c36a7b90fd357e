// config_auth.h: the security sections of the configuration: `authorization:` (users,
// passwords, token, nkeys, permissions, timeout) into CoreOptions::auth, the pair's credential
// keys of `ft:`, the flags --user, --pass and --auth, and the checks across them that run
// after the flags (one form of authorization; a member whose core requires authentication
// must carry credentials that this core accepts). Messages never quote a secret.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ft/ft_options.h"
#include "server/nats/auth_options.h"
#include "store/status.h"

namespace YAML {
class Node;
}

namespace tandem::server {

struct Config;

// `authorization:` at `path`.
Status LoadAuthorization(const YAML::Node& map, std::string_view path, AuthOptions& o);
// One credential key of `ft:` (user, password, token, nkey_seed_file); false in *handled when
// `key` is not one of them.
Status LoadFtCredential(std::string_view key, const YAML::Node& v, std::string_view path,
                        ft::FtOptions& ft, bool* handled);
// --user, --pass and --auth.
Status ApplyAuthFlags(const std::optional<std::string>& user,
                      const std::optional<std::string>& pass,
                      const std::optional<std::string>& token, AuthOptions& o);
// The checks across keys, once the flags are applied.
Status CheckAuth(const Config& c);

}  // namespace tandem::server
