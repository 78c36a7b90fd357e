// dashboard_assets.h: the dashboard's files as the binary holds them. The table is generated at
// build time from server/monitor/dashboard/ (dashboard/embed.cmake), so what is served is
// byte for byte what is in the source tree.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace tandem::server {

struct EmbeddedFile {
  const char* name;  // base name: "index.html", "dashboard.js", ...
  const unsigned char* data;
  size_t size;
};

// Defined in the generated dashboard_files.cc.
extern const EmbeddedFile kDashboardFiles[];
extern const size_t kDashboardFileCount;

// The bytes of the embedded file `name`, or nullopt.
std::optional<std::string_view> DashboardFile(std::string_view name);

}  // namespace tandem::server
