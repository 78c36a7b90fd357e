// main.cc: the tandem command line. Parses the subcommand and its flags (CLI11), loads the
// configuration and runs the process (App). Exit status: 0 after a clean stop or a command
// that succeeded, 1 when the server could not start or failed, 2 for a bad command line or a
// bad configuration (one line on stderr naming the flag or key and the value).
//
// Subcommands: serve, status, backup, version. A new subcommand adds its own block in main() and
// its own Run* function.
#include <malloc.h>

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "server/app.h"
#include "server/config.h"
#include "server/monitor/backup_command.h"
#include "server/monitor/status_command.h"

namespace {

constexpr int kExitUsage = 2;

struct ServeFlags {
  std::string config_path;
  tandem::server::ConfigOverrides overrides;
  bool test_skip_lock = false;  // hidden, test-only: see StoreOptions::TEST_skip_lock
};

// Adds a string flag whose value lands in `out` only when it is given.
void AddOverride(CLI::App* cmd, const std::string& name, std::optional<std::string>& out,
                 const std::string& help, const std::string& type) {
  cmd->add_option_function<std::string>(
         name, [&out](const std::string& v) { out = v; }, help)
      ->type_name(type);
}

void AddServe(CLI::App& app, ServeFlags& f) {
  CLI::App* serve = app.add_subcommand("serve",
                                       "Run the broker (defaults: listen 0.0.0.0:4222, "
                                       "cluster id test-cluster, store ./tandem-data)");
  serve->add_option("-c,--config", f.config_path, "YAML configuration file; flags override it")
      ->type_name("FILE");
  auto& o = f.overrides;
  AddOverride(serve, "--listen", o.listen, "Client address (YAML: listen)", "HOST:PORT");
  AddOverride(serve, "--http", o.http, "Monitoring HTTP address, off unless set (YAML: http)",
              "HOST:PORT");
  AddOverride(serve, "--store", o.store_dir, "Store directory, holds store.db (YAML: store.dir)",
              "DIR");
  AddOverride(serve, "--cluster-id", o.cluster_id, "Streaming cluster id (YAML: cluster_id)", "ID");
  AddOverride(serve, "--log-level", o.log_level,
              "trace, debug, info, warn or error (YAML: log_level)", "LEVEL");
  AddOverride(serve, "--log-format", o.log_format,
              "text (one line per event) or json (one object per line) (YAML: log_format)",
              "FORMAT");
  AddOverride(serve, "--sync", o.sync, "Store sync mode: full or normal (YAML: store.sync)",
              "MODE");
  AddOverride(serve, "--ft-group", o.ft_group, "Fault-tolerance group name (YAML: ft.group)",
              "NAME");
  AddOverride(serve, "--ft-name", o.ft_name, "This instance's name in the group (YAML: ft.name)",
              "NAME");
  AddOverride(serve, "--ft-peers", o.ft_peers,
              "Client addresses of the group's members (YAML: ft.peers)", "HOST:PORT,...");
  AddOverride(serve, "--nats-server", o.nats_server,
              "Be a client of this external NATS cluster instead of listening (YAML: "
              "nats.servers)",
              "URL,...");
  serve->add_flag("--partitioning", o.partitioning,
                  "Own only the channels under limits.channels, as one partition of the "
                  "external cluster (YAML: streaming.partitioning)");
  AddOverride(serve, "--user", o.user, "User required in CONNECT (YAML: authorization.user)",
              "USER");
  AddOverride(serve, "--pass", o.pass,
              "Password required with --user (YAML: authorization.password)", "PASSWORD");
  AddOverride(serve, "--auth", o.auth, "Token required in CONNECT (YAML: authorization.token)",
              "TOKEN");
  AddOverride(serve, "--https", o.https,
              "Monitoring HTTPS address, with the tls certificate (YAML: https)", "HOST:PORT");
  serve->add_flag("--tls", o.tls, "Require TLS on the client port (YAML: tls)");
  AddOverride(serve, "--tlscert", o.tls_cert, "Server certificate (YAML: tls.cert_file)", "FILE");
  AddOverride(serve, "--tlskey", o.tls_key, "Server private key (YAML: tls.key_file)", "FILE");
  AddOverride(serve, "--tlscacert", o.tls_ca, "CA of client certificates (YAML: tls.ca_file)",
              "FILE");
  serve->add_flag("--tlsverify", o.tls_verify,
                  "Require TLS and verify client certificates (YAML: tls.verify)");
  // Test-only, left out of --help: two instances may then both hold the store, so that the
  // fencing tests can prove that the epoch and the dual-active detection catch them.
  serve->add_flag("--TEST-skip-lock", f.test_skip_lock)->group("");
}

struct StatusFlags {
  std::vector<std::string> http;  // each may hold a comma-separated list
  std::string config_path;
  int timeout_ms = 2000;
  std::string cacert;
};

void AddStatus(CLI::App& app, StatusFlags& f) {
  CLI::App* status = app.add_subcommand(
      "status",
      "Show role, epoch, standbys, channels and clients of a running pair; exit 0 "
      "when an active instance answers, 1 otherwise");
  status
      ->add_option("--http", f.http,
                   "Monitoring address of an instance, https://HOST:PORT for HTTPS; repeat or "
                   "comma-separate for a pair (default: the config's http or https, else "
                   "127.0.0.1:8222)")
      ->type_name("[https://]HOST:PORT");
  status
      ->add_option("--cacert", f.cacert,
                   "CA certificate (PEM) that https:// servers are verified against (default: "
                   "the system's trusted CAs)")
      ->type_name("FILE")
      ->check(CLI::ExistingFile);
  status->add_option("-c,--config", f.config_path, "Take the monitoring address from this config")
      ->type_name("FILE");
  status->add_option("--timeout", f.timeout_ms, "Per-request timeout in milliseconds")
      ->type_name("MS")
      ->check(CLI::Range(1, 600000));
}

int RunStatus(const StatusFlags& f) {
  tandem::server::StatusOptions options;
  options.timeout_ms = f.timeout_ms;
  options.cacert = f.cacert;
  options.http.clear();
  for (const auto& item : f.http) {
    size_t start = 0;
    while (start <= item.size()) {
      size_t comma = item.find(',', start);
      if (comma == std::string::npos) comma = item.size();
      if (comma > start) options.http.push_back(item.substr(start, comma - start));
      start = comma + 1;
    }
  }
  if (options.http.empty() && !f.config_path.empty()) {
    auto config = tandem::server::LoadConfig(f.config_path);
    if (!config.ok()) {
      std::fprintf(stderr, "tandem: %s\n", config.status().message().c_str());
      return kExitUsage;
    }
    if (config->http.host.empty()) {
      std::fprintf(stderr, "tandem: %s has no http or https address; pass --http HOST:PORT\n",
                   f.config_path.c_str());
      return kExitUsage;
    }
    options.http.push_back((config->http.https ? "https://" : "") +
                           tandem::server::FormatHostPort(config->http.host, config->http.port));
  }
  if (options.http.empty()) options.http.push_back("127.0.0.1:8222");
  return tandem::server::RunStatus(options, stdout);
}

void AddBackup(CLI::App& app, tandem::server::BackupOptions& o) {
  CLI::App* backup = app.add_subcommand(
      "backup",
      "Have the active write a checked copy of its store into NAME inside its backup.dir; "
      "exit 0 once the copy is in place");
  backup->add_option("--http", o.http, "Monitoring address of the active (default 127.0.0.1:8222)")
      ->type_name("HOST:PORT");
  backup->add_option("--to", o.to, "File name of the copy, inside the server's backup.dir")
      ->type_name("NAME")
      ->required();
  backup->add_option("--timeout", o.timeout_ms, "How long to wait for the copy, in milliseconds")
      ->type_name("MS")
      ->check(CLI::Range(1, 86400000));
}

int RunServe(const ServeFlags& f) {
  // One malloc arena for every thread, set before any thread starts. The store thread allocates
  // SQLite's memory and the messages it reads for the loop (freed there); in an arena of its
  // own that memory fragmented, and a saturated fan-out (1 -> 100 subscribers) peaked a third
  // higher. The loop thread makes nearly all allocations, so they rarely wait for each other.
  mallopt(M_ARENA_MAX, 1);
  auto config = tandem::server::LoadConfig(f.config_path, f.overrides);
  if (!config.ok()) {
    std::fprintf(stderr, "tandem: %s\n", config.status().message().c_str());
    return kExitUsage;
  }
  if (f.test_skip_lock) config->store.TEST_skip_lock = true;
  tandem::server::App app(std::move(config).value());
  return app.Run();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(
      "tandem: a NATS and NATS Streaming broker with an active/standby pair over one "
      "SQLite store",
      "tandem");
  app.require_subcommand(1);
  app.set_version_flag("--version", TANDEM_VERSION);

  ServeFlags serve;
  AddServe(app, serve);
  StatusFlags status;
  AddStatus(app, status);
  tandem::server::BackupOptions backup;
  AddBackup(app, backup);
  CLI::App* version = app.add_subcommand("version", "Print the version and exit");

  // CLI11 reports an unknown command as a missing one; name it instead.
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      known = known || sub->check_name(argv[1]);
    }
    if (!known) {
      std::fprintf(stderr, "tandem: unknown command \"%s\" (see tandem --help)\n", argv[1]);
      return kExitUsage;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "tandem: %s (see tandem --help)\n", e.what());
    return kExitUsage;
  }

  if (version->parsed()) {
    std::printf("tandem %s\n", TANDEM_VERSION);
    return 0;
  }
  if (app.got_subcommand("status")) return RunStatus(status);
  if (app.got_subcommand("backup")) return tandem::server::RunBackup(backup, stdout, stderr);
  return RunServe(serve);
}
