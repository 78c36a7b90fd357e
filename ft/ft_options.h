// ft_options.h: the settings of the fault-tolerant pair: group, this instance's name, the peers
// whose heartbeats a standby listens to, and the heartbeat timing. Filled by config.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::ft {

// What the pair's link presents in CONNECT when the core requires authentication (`ft:` keys
// user, password, token, nkey_seed_file): a user and password, a token, or an nkey seed
// ("SU...", read from the file when the configuration is loaded) that signs the INFO nonce.
// Secrets: never logged.
struct FtCredentials {
  std::string user, password, token, nkey_seed;
  bool empty() const { return user.empty() && token.empty() && nkey_seed.empty(); }
};

struct FtOptions {
  std::string group;               // empty: no FT group (a single active instance)
  std::string name;                // this instance's name in logs and status; default host:pid
  std::vector<std::string> peers;  // "host:port" client addresses of the pair's members
  uint64_t heartbeat_ms = 100;     // active -> standbys heartbeat interval
  int missed = 3;                  // heartbeats missed before a standby tries the lock
  FtCredentials credentials;       // for the peers' client ports
  std::string nkey_seed_file;      // where credentials.nkey_seed came from (for messages)
};

}  // namespace tandem::ft
