// dashboard_test.cc: the embedded dashboard: the served bytes are the source files of
// server/monitor/dashboard/ (every one of them, nothing else), and the headers of an answer
// (type, Content-Security-Policy, caching, 304 on a matching ETag, 404 for an unknown file).
#include "server/monitor/dashboard.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include "server/monitor/dashboard_assets.h"

namespace tandem::server {
namespace {

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST_SUITE("dashboard") {

TEST_CASE("every dashboard source file is embedded byte for byte, and nothing else") {
  std::filesystem::path dir = std::filesystem::path(TANDEM_SOURCE_DIR) / "server/monitor/dashboard";
  std::set<std::string> sources;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string ext = e.path().extension().string();
    if (ext != ".html" && ext != ".css" && ext != ".js") continue;
    std::string name = e.path().filename().string();
    sources.insert(name);
    std::optional<std::string_view> served = DashboardFile(name);
    REQUIRE_MESSAGE(served.has_value(), name << " is not embedded");
    CHECK_MESSAGE(*served == ReadFile(e.path()), name << " differs from its source");
  }
  CHECK(sources.count("index.html") == 1);
  CHECK(sources.count("dashboard.js") == 1);
  CHECK(sources.count("dashboard.css") == 1);
  CHECK(kDashboardFileCount == sources.size());
  CHECK_FALSE(DashboardFile("embed.cmake").has_value());
  CHECK_FALSE(DashboardFile("").has_value());
}

TEST_CASE("answers carry their type, a strict CSP and a validator") {
  HttpRequest req;
  HttpResponse html = DashboardResponse(req, "index.html");
  CHECK(html.status == 200);
  CHECK(html.content_type == "text/html; charset=utf-8");
  CHECK(html.body == *DashboardFile("index.html"));
  CHECK(Header(html, "Content-Security-Policy").rfind("default-src 'self'", 0) == 0);
  CHECK(Header(html, "X-Content-Type-Options") == "nosniff");
  CHECK(Header(html, "Cache-Control") == "no-cache");
  CHECK(DashboardResponse(req, "dashboard.js").content_type == "text/javascript; charset=utf-8");
  CHECK(DashboardResponse(req, "dashboard.css").content_type == "text/css; charset=utf-8");

  std::string etag = Header(html, "ETag");
  REQUIRE(etag.size() > 2);
  CHECK(etag != Header(DashboardResponse(req, "dashboard.js"), "ETag"));
  req.headers["if-none-match"] = etag;
  HttpResponse again = DashboardResponse(req, "index.html");
  CHECK(again.status == 304);
  CHECK(again.body.empty());
  req.headers["if-none-match"] = "\"0\"";
  CHECK(DashboardResponse(req, "index.html").status == 200);

  CHECK(DashboardResponse(req, "secret.txt").status == 404);
}

}  // TEST_SUITE

}  // namespace
}  // namespace tandem::server
