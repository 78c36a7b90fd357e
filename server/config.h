// config.h: the whole configuration of a tandem process, and how it is loaded.
//
// A Config aggregates the option structs that each part of the process reads (CoreOptions for the
// NATS core, StanOptions for the streaming layer, StoreOptions, FtOptions, HttpOptions) plus the
// log level. LoadConfig() builds one from, in increasing precedence: the defaults of those
// structs, an optional YAML file, and the command-line flags (ConfigOverrides). Every value is
// validated; the first problem is returned as InvalidArgument with a one-line message that names
// the key path and the value, e.g. `limits.max_msgs: "abc" is not a number`.
//
// config.cc, config_auth.cc, config_redelivery.cc and config_yaml.h are the only files that
// include yaml-cpp; no exception leaves them.
//
// Ownership: plain values. Thread safety: pure functions, callable from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ft/ft_options.h"
#include "server/logging.h"
#include "server/monitor/http_options.h"
#include "server/nats/core_options.h"
#include "server/natsclient/external_options.h"
#include "server/stan/stan_options.h"
#include "server/util/tls_options.h"
#include "server/util/value_syntax.h"
#include "store/status.h"
#include "store/store.h"

namespace tandem::server {

struct Config {
  CoreOptions core;           // YAML: listen, nats.*, authorization.*
  StanOptions stan;           // YAML: cluster_id, streaming.*, limits.*
  store::StoreOptions store;  // YAML: store.* (path is <store.dir>/store.db)
  std::string store_dir = "./tandem-data";
  ft::FtOptions ft;         // YAML: ft.*
  HttpOptions http;         // YAML: http or https (off unless set)
  TlsClientOptions ft_tls;  // YAML: ft.tls: the peer link's side of the core's TLS
  std::shared_ptr<TlsContext> ft_tls_context;  // built from ft_tls once, when read
  // YAML: nats.servers and the client keys of nats: (config_nats_client.h). With servers set,
  // tandem is a client of that cluster and the embedded core does not listen.
  ExternalNatsOptions external;
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kText;  // YAML: log_format (text or json)
};

// Command-line flags of `tandem serve`. Each field is set only when its flag was given, holds
// the flag's raw text, and is validated like the YAML key it overrides.
struct ConfigOverrides {
  std::optional<std::string> listen;      // --listen HOST:PORT     -> listen
  std::optional<std::string> http;        // --http HOST:PORT       -> http
  std::optional<std::string> store_dir;   // --store DIR            -> store.dir
  std::optional<std::string> cluster_id;  // --cluster-id ID        -> cluster_id
  std::optional<std::string> log_level;   // --log-level LEVEL      -> log_level
  std::optional<std::string> log_format;  // --log-format text|json -> log_format
  std::optional<std::string> sync;        // --sync full|normal     -> store.sync
  std::optional<std::string> ft_group;    // --ft-group NAME        -> ft.group
  std::optional<std::string> ft_name;     // --ft-name NAME         -> ft.name
  std::optional<std::string> ft_peers;    // --ft-peers H:P,H:P,... -> ft.peers
  std::optional<std::string> user;        // --user USER            -> authorization.user
  std::optional<std::string> pass;        // --pass PASSWORD        -> authorization.password
  std::optional<std::string> auth;        // --auth TOKEN           -> authorization.token
  std::optional<std::string> https;       // --https HOST:PORT      -> https
  // --nats-server URL,... -> nats.servers (an external cluster)
  std::optional<std::string> nats_server;
  bool partitioning = false;  // --partitioning -> streaming.partitioning
  // nats-server's TLS flags; any of them turns TLS on, as in nats-server.
  bool tls = false;                     // --tls                  -> tls
  bool tls_verify = false;              // --tlsverify            -> tls.verify
  std::optional<std::string> tls_cert;  // --tlscert FILE         -> tls.cert_file
  std::optional<std::string> tls_key;   // --tlskey FILE          -> tls.key_file
  std::optional<std::string> tls_ca;    // --tlscacert FILE       -> tls.ca_file
};

// Loads `path` (empty: no file, defaults only), applies `overrides`, validates. A missing or
// unreadable file, malformed YAML, an unknown key, a value of the wrong type or out of range
// all give InvalidArgument with a one-line message naming the key (or flag) and the value.
Result<Config> LoadConfig(const std::string& path, const ConfigOverrides& overrides = {});

// The same from YAML text already in memory (tests, and LoadConfig itself).
Result<Config> ParseConfig(std::string_view yaml, const ConfigOverrides& overrides = {});

Result<LogLevel> ParseLogLevel(std::string_view text);
const char* LogLevelName(LogLevel level);

}  // namespace tandem::server
