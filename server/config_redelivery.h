// config_redelivery.h: the bounded-redelivery keys of `limits:` (globally and in each
// `limits.channels` entry): max_deliveries, dead_letter and redelivery_backoff, and the check
// across them that runs once `limits` is read (no dead-letter channel is its own, no loop).
// Kept apart from config.cc so that the limits walk there only dispatches to it.
#pragma once

#include <cstdint>
#include <string>

#include "server/stan/stan_options.h"
#include "store/status.h"

namespace YAML {
class Node;
}

namespace tandem::server {

// `k` (max_deliveries, dead_letter or redelivery_backoff) with value `v` at key path `kp` into
// the matching out parameter.
Status LoadRedeliveryKey(const std::string& k, const YAML::Node& v, const std::string& kp,
                         uint64_t& max_deliveries, std::string& dead_letter,
                         RedeliveryBackoff& backoff);

// Every dead_letter of `l` names a channel other than its own, and dead letters never come back
// in a loop once inheritance is applied (DeadLetterLoop, server/stan/channel.h).
Status CheckDeadLetters(const StanLimits& l);

}  // namespace tandem::server
