// config_nats_client.h: the keys of `nats:` that make tandem a client of an external NATS
// cluster (servers, the credentials, tls, the reconnect settings) into ExternalNatsOptions, the
// --nats-server flag, and the checks across them that run after the flags (one form of
// credentials; the files exist and are usable; the embedded-only keys that do not apply).
// Messages never quote a secret.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "server/util/tls_options.h"
#include "store/status.h"

namespace YAML {
class Node;
}

namespace tandem::server {

struct Config;

// One key of `nats:` about the external cluster; false in *handled when `key` is not one.
Status LoadNatsClientKey(std::string_view key, const YAML::Node& v, std::string_view path,
                         Config& c, bool* handled);
// --nats-server URL[,URL...]: replaces nats.servers.
Status ApplyNatsServerFlag(const std::optional<std::string>& flag, Config& c);
// After the flags: fills what the client takes from elsewhere (ping settings, name) and checks
// the credentials and TLS files.
Status CheckNatsClient(Config& c);

// A client side of TLS (`ca_file`, `cert_file`, `key_file`): `nats.tls` and `ft.tls` alike.
Status LoadClientTls(const YAML::Node& map, std::string_view path, TlsClientOptions& t);

}  // namespace tandem::server
