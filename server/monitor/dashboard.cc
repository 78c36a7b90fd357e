// dashboard.cc: serves the embedded dashboard files with their headers (see dashboard.h).
#include "server/monitor/dashboard.h"

#include <string>

#include <fmt/format.h>

#include "server/monitor/dashboard_assets.h"

namespace tandem::server {

namespace {

std::string ContentType(std::string_view name) {
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  return "application/octet-stream";
}

// A strong validator: FNV-1a 64 of the bytes, quoted. The bytes change only with the binary.
std::string ETag(std::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("\"{:016x}\"", h);
}

}  // namespace

std::optional<std::string_view> DashboardFile(std::string_view name) {
  for (size_t i = 0; i < kDashboardFileCount; ++i) {
    if (name == kDashboardFiles[i].name) {
      return std::string_view(reinterpret_cast<const char*>(kDashboardFiles[i].data),
                              kDashboardFiles[i].size);
    }
  }
  return std::nullopt;
}

HttpResponse DashboardResponse(const HttpRequest& req, std::string_view name) {
  std::optional<std::string_view> bytes = DashboardFile(name);
  if (!bytes) return HttpResponse::Text(404, "404 page not found\n");
  std::string etag = ETag(*bytes);
  HttpResponse r;
  auto it = req.headers.find("if-none-match");
  if (it != req.headers.end() && it->second == etag) {
    r.status = 304;
  } else {
    r.body.assign(bytes->data(), bytes->size());
  }
  r.content_type = ContentType(name);
  r.headers.emplace_back("Content-Security-Policy", kDashboardCsp);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("ETag", etag);
  return r;
}

void RegisterDashboard(HttpServer* http) {
  for (const char* name : {"dashboard.css", "dashboard.js"}) {
    std::string file = name;
    http->Handle("/" + file,
                 [file](const HttpRequest& req) { return DashboardResponse(req, file); });
  }
  http->Handle("/", [](const HttpRequest& req) { return DashboardResponse(req, "index.html"); });
}

}  // namespace tandem::server
