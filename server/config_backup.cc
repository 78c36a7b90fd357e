// config_backup.cc: the `backup:` section (see config_backup.h).
#include "server/config_backup.h"

#include <filesystem>

#include "server/config_yaml.h"

namespace tandem::server {
using namespace config_yaml;
namespace {

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

}  // namespace

Status LoadBackup(const YAML::Node& v, const std::string& kp, HttpOptions& http) {
  return ForEachKey(
      v, kp, {"dir"}, [&](const std::string&, const YAML::Node& d, const std::string& dkp) {
        return Apply(d, dkp, "a directory", [&](std::string_view text) -> Status {
          const std::filesystem::path p{std::string(text)};
          if (!p.is_absolute())
            return Status::InvalidArgument(Quoted(text) + " is not an absolute path");
          std::error_code ec;
          if (!std::filesystem::is_directory(p, ec)) {
            return Status::InvalidArgument(Quoted(text) + " is not an existing directory");
          }
          http.backup_dir = p.lexically_normal().string();
          return Status::OK();
        });
      });
}

Status CheckBackup(const HttpOptions& http) {
  if (!http.backup_dir.empty() && http.host.empty()) {
    return At("backup.dir", "needs http or https: backups are asked for on the monitoring port");
  }
  return Status::OK();
}

}  // namespace tandem::server
