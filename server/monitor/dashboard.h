// dashboard.h: the live dashboard at `/` of the monitoring port: one HTML page with its style
// sheet and script, embedded in the binary (dashboard_assets.h), that polls the JSON endpoints
// and draws the pair, channel rates, subscriptions and the store (dashboard/README.md).
//
// Routes: `/` (index.html), `/dashboard.css`, `/dashboard.js`. Every answer carries
//   Content-Type by extension, Content-Security-Policy "default-src 'self'" (plus no framing,
//   no base or form targets), X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer,
//   Cache-Control: no-cache and an ETag (the file's hash); a matching If-None-Match gets 304.
// Served by a standby too: the page itself says what the standby cannot show.
// Thread safety: loop thread only (the handlers only read constant data).
#pragma once

#include <string_view>

#include "server/monitor/http_server.h"

namespace tandem::server {

inline constexpr char kDashboardCsp[] =
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

// The answer for the embedded file `name` (404 if there is none).
HttpResponse DashboardResponse(const HttpRequest& req, std::string_view name);

// Adds the dashboard's routes to `http`.
void RegisterDashboard(HttpServer* http);

}  // namespace tandem::server
