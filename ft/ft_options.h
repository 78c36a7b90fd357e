// ft_options.h: the settings of the fault-tolerant pair: group, this instance's name, the peers
// whose heartbeats a standby listens to, and the heartbeat timing. Filled by config.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::ft {

struct FtOptions {
  std::string group;                // empty: no FT group (a single active instance)
  std::string name;                 // this instance's name in logs and status; default host:pid
  std::vector<std::string> peers;   // "host:port" client addresses of the pair's members
  uint64_t heartbeat_ms = 100;      // active -> standbys heartbeat interval
  int missed = 3;                   // heartbeats missed before a standby tries the lock
};

}  // namespace tandem::ft
