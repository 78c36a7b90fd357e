// config_backup.h: the `backup:` section, `{dir: DIR}`: where the monitoring port's /backup
// (and so `tandem backup`) may write copies of the store. Off unless set. DIR is an absolute
// path to an existing directory; a request names only a file inside it. Kept apart from
// config.cc so that the top-level walk there only dispatches to it.
#pragma once

#include <string>

#include "server/monitor/http_options.h"
#include "store/status.h"

namespace YAML {
class Node;
}

namespace tandem::server {

// `backup` with value `v` at key path `kp` into `http.backup_dir`.
Status LoadBackup(const YAML::Node& v, const std::string& kp, HttpOptions& http);

// backup.dir is set only with a monitoring port (http or https) to ask for a backup on.
Status CheckBackup(const HttpOptions& http);

}  // namespace tandem::server
