// monitor.cc: the monitoring endpoints and the metrics collectors (see monitor.h).
//
// Sections, in order: helpers (JSON responses, query numbers, process facts),
// construction and routes, the core endpoints (healthz, varz, connz, metrics), the streaming
// endpoints (serverz, storez, clientsz, channelsz, isFTActive), the metrics collectors.
#include "server/monitor/monitor.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "server/monitor/dashboard.h"
#include "server/monitor/store_figures.h"
#include "server/monitor/time_format.h"

#include <sys/resource.h>

namespace tandem::server {

using Json = nlohmann::ordered_json;

namespace {

bool ValidCallbackName(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '$';
  });
}

// A JSON answer: pretty-printed, CORS open, JSONP when callback= names a function.
HttpResponse JsonResponse(const HttpRequest& req, const Json& j, int status = 200) {
  HttpResponse r =
      HttpResponse::Json(status, j.dump(2, ' ', false, Json::error_handler_t::replace));
  std::string callback = req.Param("callback");
  if (ValidCallbackName(callback)) {
    r.content_type = "application/javascript";
    r.body = callback + "(" + r.body + ")";
  }
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  return r;
}

// A plain-text error, like Go's http.Error.
HttpResponse TextError(int status, const std::string& text) {
  HttpResponse r = HttpResponse::Text(status, text + "\n");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

// A query parameter as an integer; anything unparsable counts as 0, like Go's Atoi ignoring
// its error in the reference server.
int64_t IntParam(const HttpRequest& req, const std::string& key) {
  std::string v = req.Param(key);
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size()) return 0;
  return out;
}

struct Page {
  int64_t offset = 0;
  int64_t limit = Monitor::kDefaultListLimit;
};

Page PageParams(const HttpRequest& req) {
  Page p;
  p.offset = std::max<int64_t>(IntParam(req, "offset"), 0);
  p.limit = IntParam(req, "limit");
  if (p.limit <= 0) p.limit = Monitor::kDefaultListLimit;
  return p;
}

// The [begin, end) slice of a list of `total` items for a page.
std::pair<size_t, size_t> Slice(const Page& p, size_t total) {
  size_t begin = std::min<uint64_t>(static_cast<uint64_t>(p.offset), total);
  uint64_t end = static_cast<uint64_t>(p.offset) + static_cast<uint64_t>(p.limit);
  return {begin, static_cast<size_t>(std::min<uint64_t>(end, total))};
}

std::string CompilerName() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "c++";
#endif
}

int OpenFds() {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

int64_t MaxFds() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
  return static_cast<int64_t>(rl.rlim_cur);
}

int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

// Average CPU use since the process started, in percent of one core (what ps reports).
double CpuPercent(int64_t uptime_ns) {
  rusage ru;
  if (uptime_ns <= 0 || getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  double cpu_s =
      ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return static_cast<int64_t>(cpu_s / (uptime_ns / 1e9) * 10000) / 100.0;
}

// Inboxes let whoever reads them act for a client (publish on its ack inbox, subscribe to its
// heartbeat inbox): they are shown only with `inboxes=1`.
bool InboxesParam(const HttpRequest& req) { return IntParam(req, "inboxes") == 1; }

Json SubscriptionJson(const SubscriptionInfo& s, bool inboxes) {
  Json j;
  j["client_id"] = s.client_id;
  if (inboxes) {
    j["inbox"] = s.inbox;
    j["ack_inbox"] = s.ack_inbox;
  }
  if (!s.durable_name.empty()) j["durable_name"] = s.durable_name;
  if (!s.queue_name.empty()) j["queue_name"] = s.queue_name;
  j["is_durable"] = s.is_durable;
  j["is_offline"] = s.is_offline;
  j["max_inflight"] = s.max_inflight;
  j["ack_wait"] = s.ack_wait_s;
  j["last_sent"] = s.last_sent;
  j["pending_count"] = s.pending_count;
  j["is_stalled"] = s.is_stalled;
  return j;
}

Json ChannelJson(const ChannelInfo& c, bool with_subs, bool inboxes) {
  Json j;
  j["name"] = c.name;
  j["msgs"] = c.msgs;
  j["bytes"] = c.bytes;
  j["first_seq"] = c.first_seq;
  j["last_seq"] = c.last_seq;
  j["subs_count"] = c.subs_count;
  j["dead_lettered"] = c.dead_lettered;
  j["max_deliveries_dropped"] = c.max_deliveries_dropped;
  if (with_subs && !c.subs.empty()) {
    Json subs = Json::array();
    for (const auto& s : c.subs) subs.push_back(SubscriptionJson(s, inboxes));
    j["subscriptions"] = std::move(subs);
  }
  return j;
}

Json ClientJson(const ClientInfo& c, bool with_subs, bool inboxes) {
  Json j;
  j["id"] = c.id;
  if (inboxes) j["hb_inbox"] = c.hb_inbox;
  j["subs_count"] = c.subs_count;
  if (with_subs && !c.subs.empty()) {
    std::map<std::string, std::vector<const SubscriptionInfo*>> by_channel;
    for (const auto& s : c.subs) by_channel[s.channel].push_back(&s);
    Json subs = Json::object();
    for (const auto& [channel, list] : by_channel) {
      Json arr = Json::array();
      for (const auto* s : list) arr.push_back(SubscriptionJson(*s, inboxes));
      subs[channel] = std::move(arr);
    }
    j["subscriptions"] = std::move(subs);
  }
  return j;
}

Json LimitsJson(const ChannelLimitsInfo& r) {
  Json j;
  j["max_msgs"] = r.max_msgs;
  j["max_bytes"] = r.max_bytes;
  j["max_age"] = r.max_age_ns;
  j["max_subscriptions"] = r.max_subs;
  j["max_inactivity"] = r.max_inactivity_ns;
  j["max_deliveries"] = r.max_deliveries;
  j["dead_letter"] = r.dead_letter;
  j["redelivery_backoff"] = {
      {"initial", r.backoff_initial_ns}, {"max", r.backoff_max_ns}, {"factor", r.backoff_factor}};
  return j;
}

}  // namespace

const char* ServerStateName(ServerState state) {
  switch (state) {
    case ServerState::kStandalone:
      return "STANDALONE";
    case ServerState::kFtActive:
      return "FT_ACTIVE";
    case ServerState::kFtStandby:
      return "FT_STANDBY";
    case ServerState::kFailed:
      return "FAILED";
    case ServerState::kShutdown:
      return "SHUTDOWN";
  }
  return "UNKNOWN";
}

// ---------------------------------------------------------------------------------------------
// Construction and routes

Monitor::Monitor(MonitorSource* source, MetricsRegistry* metrics, MonitorOptions options)
    : source_(source),
      metrics_(metrics),
      options_(std::move(options)),
      backup_(source_, options_.backup_dir) {
  commits_ = metrics_->GetCounter("tandem_store_commits_total", "Group commits to the store.");
  commit_seconds_ =
      metrics_->GetHistogram("tandem_store_commit_seconds",
                             "Time of one group commit, BEGIN to end of COMMIT.", LatencyBuckets());
  commit_batches_ = metrics_->GetHistogram("tandem_store_commit_batches",
                                           "Write batches per group commit.", SizeBuckets());
  commit_ops_ =
      metrics_->GetHistogram("tandem_store_commit_ops",
                             "Operations (messages, acks, ...) per group commit.", SizeBuckets());
  InstallCollectors();
}

int64_t Monitor::Now() const {
  if (options_.now_ns) return options_.now_ns();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Monitor::RegisterRoutes(HttpServer* http) {
  http_ = http;
  auto route = [this, http](const char* path,
                            HttpResponse (Monitor::*fn)(const HttpRequest&) const) {
    http->Handle(path, [this, fn](const HttpRequest& req) { return (this->*fn)(req); });
  };
  route("/healthz", &Monitor::Healthz);
  route("/varz", &Monitor::Varz);
  route("/connz", &Monitor::Connz);
  route("/metrics", &Monitor::Metrics);
  route("/streaming", &Monitor::StreamingIndex);
  route("/streaming/serverz", &Monitor::Serverz);
  route("/streaming/storez", &Monitor::Storez);
  route("/streaming/clientsz", &Monitor::Clientsz);
  route("/streaming/channelsz", &Monitor::Channelsz);
  route("/streaming/isFTActive", &Monitor::IsFtActive);
  RegisterDashboard(http);
  http->Handle("/backup", [this](const HttpRequest& req) { return backup_.Report(req); });
  http->HandlePost("/backup", [this](const HttpRequest& req) { return backup_.Start(req); });
}

void Monitor::RecordCommit(uint64_t batches, uint64_t ops, int64_t latency_ns) {
  commits_->Inc();
  commit_seconds_->Observe(latency_ns / 1e9);
  commit_batches_->Observe(static_cast<double>(batches));
  commit_ops_->Observe(static_cast<double>(ops));
}

HttpResponse Monitor::NotServing(const RoleInfo& role) const {
  return TextError(
      503, "this instance is not serving (role " + role.role + "); ask the active instance");
}

// ---------------------------------------------------------------------------------------------
// Core endpoints

HttpResponse Monitor::Healthz(const HttpRequest& req) const {
  RoleInfo role = source_->role();
  Json j;
  j["status"] = role.healthy ? "ok" : "unavailable";
  if (!role.healthy) j["error"] = role.health_detail.empty() ? "not healthy" : role.health_detail;
  j["role"] = role.role;
  j["state"] = ServerStateName(role.state);
  return JsonResponse(req, j, role.healthy ? 200 : 503);
}

HttpResponse Monitor::Varz(const HttpRequest& req) const {
  RoleInfo role = source_->role();
  std::optional<CoreCounters> stats = source_->core_stats();
  if (!role.serving || !stats) return NotServing(role);
  IdentityInfo id = source_->identity();
  const CoreSettings& core = options_.core;
  int64_t now = Now();
  Json j;
  j["server_id"] = id.core_server_id;
  j["server_name"] = id.server_name;
  j["version"] = id.version;
  j["proto"] = 1;
  j["go"] = CompilerName();
  j["host"] = core.host;
  j["port"] = id.client_port != 0 ? id.client_port : core.port;
  j["max_connections"] = core.max_connections;
  j["ping_interval"] = core.ping_interval_ns;
  j["ping_max"] = core.max_pings_out;
  j["http_host"] = "";
  j["http_port"] = http_ ? http_->port() : 0;
  j["max_control_line"] = core.max_control_line;
  j["max_payload"] = core.max_payload;
  j["max_pending"] = core.max_pending_bytes;
  j["write_deadline"] = core.write_deadline_ns;
  j["start"] = Rfc3339(id.start_ns);
  j["now"] = Rfc3339(now);
  j["uptime"] = Uptime(now - id.start_ns);
  j["mem"] = ResidentBytes();
  j["cores"] = std::thread::hardware_concurrency();
  j["cpu"] = CpuPercent(now - id.start_ns);
  j["connections"] = stats->connections;
  j["total_connections"] = stats->total_connections;
  j["routes"] = 0;
  j["remotes"] = 0;
  j["leafnodes"] = 0;
  j["in_msgs"] = stats->in_msgs;
  j["out_msgs"] = stats->out_msgs;
  j["in_bytes"] = stats->in_bytes;
  j["out_bytes"] = stats->out_bytes;
  j["slow_consumers"] = stats->slow_consumers;
  j["subscriptions"] = stats->subscriptions;
  return JsonResponse(req, j);
}

HttpResponse Monitor::Connz(const HttpRequest& req) const {
  RoleInfo role = source_->role();
  if (!role.serving) return NotServing(role);
  std::vector<ConnInfo> conns = source_->connections();
  std::sort(conns.begin(), conns.end(),
            [](const ConnInfo& a, const ConnInfo& b) { return a.cid < b.cid; });
  Page page = PageParams(req);
  auto [begin, end] = Slice(page, conns.size());
  // As in nats-server, the user names only when asked for (auth=1 or auth=true).
  const bool auth = IntParam(req, "auth") == 1 || req.Param("auth") == "true";
  int64_t now = Now();
  Json list = Json::array();
  for (size_t i = begin; i < end; ++i) {
    const ConnInfo& c = conns[i];
    Json j;
    j["cid"] = c.cid;
    j["kind"] = "Client";
    j["type"] = "nats";
    j["ip"] = c.ip;
    j["port"] = c.port;
    j["start"] = Rfc3339(c.start_ns);
    j["last_activity"] = Rfc3339(c.last_activity_ns);
    j["uptime"] = Uptime(now - c.start_ns);
    j["idle"] = Uptime(now - c.last_activity_ns);
    j["pending_bytes"] = c.pending_bytes;
    j["in_msgs"] = c.in_msgs;
    j["out_msgs"] = c.out_msgs;
    j["in_bytes"] = c.in_bytes;
    j["out_bytes"] = c.out_bytes;
    j["subscriptions"] = c.subscriptions;
    if (!c.name.empty()) j["name"] = c.name;
    if (!c.lang.empty()) j["lang"] = c.lang;
    if (!c.version.empty()) j["version"] = c.version;
    if (!c.tls_version.empty()) j["tls_version"] = c.tls_version;
    if (!c.tls_cipher.empty()) j["tls_cipher_suite"] = c.tls_cipher;
    if (auth && !c.authorized_user.empty()) j["authorized_user"] = c.authorized_user;
    list.push_back(std::move(j));
  }
  Json j;
  j["server_id"] = source_->identity().core_server_id;
  j["now"] = Rfc3339(now);
  j["num_connections"] = end - begin;
  j["total"] = conns.size();
  j["offset"] = page.offset;
  j["limit"] = page.limit;
  j["connections"] = std::move(list);
  return JsonResponse(req, j);
}

HttpResponse Monitor::Metrics(const HttpRequest&) const {
  HttpResponse r = HttpResponse::Text(200, metrics_->Render());
  r.content_type = MetricsRegistry::kContentType;
  return r;
}

HttpResponse Monitor::StreamingIndex(const HttpRequest&) const {
  HttpResponse r =
      HttpResponse::Text(200,
                         "<html lang=\"en\">\n<head><title>tandem</title></head>\n<body>\n"
                         "<h1>tandem monitoring</h1>\n"
                         "<a href=\"/streaming/serverz\">server</a><br/>\n"
                         "<a href=\"/streaming/storez\">store</a><br/>\n"
                         "<a href=\"/streaming/clientsz\">clients</a><br/>\n"
                         "<a href=\"/streaming/channelsz\">channels</a><br/>\n"
                         "<a href=\"/streaming/isFTActive\">isFTActive</a><br/>\n"
                         "<a href=\"/varz\">varz</a> <a href=\"/connz\">connz</a> "
                         "<a href=\"/healthz\">healthz</a> <a href=\"/metrics\">metrics</a>\n"
                         "</body>\n</html>\n");
  r.content_type = "text/html; charset=utf-8";
  return r;
}

// ---------------------------------------------------------------------------------------------
// Streaming endpoints

HttpResponse Monitor::Serverz(const HttpRequest& req) const {
  IdentityInfo id = source_->identity();
  RoleInfo role = source_->role();
  int64_t now = Now();
  uint64_t clients = 0, subs = 0, channels = 0, total_msgs = 0, total_bytes = 0;
  StreamingStats st;
  if (role.serving) {
    std::vector<ChannelInfo> chans = source_->channels(false);
    channels = chans.size();
    for (const auto& c : chans) {
      total_msgs += c.msgs;
      total_bytes += c.bytes;
    }
    clients = source_->clients(false).size();
    subs = source_->subscription_count();
    st = source_->streaming_stats();
  }
  Json j;
  j["cluster_id"] = id.cluster_id;
  j["server_id"] = id.server_id;
  j["version"] = id.version;
  j["go"] = CompilerName();
  j["state"] = ServerStateName(role.state);
  j["role"] = role.role;
  j["now"] = Rfc3339(now);
  j["start_time"] = Rfc3339(id.start_ns);
  j["uptime"] = Uptime(now - id.start_ns);
  j["clients"] = clients;
  j["subscriptions"] = subs;
  j["channels"] = channels;
  j["total_msgs"] = total_msgs;
  j["total_bytes"] = total_bytes;
  j["in_msgs"] = st.in_msgs;
  j["in_bytes"] = st.in_bytes;
  j["out_msgs"] = st.out_msgs;
  j["out_bytes"] = st.out_bytes;
  j["forged_requests"] = Json{{"ack", st.forged_acks},
                              {"unsubscribe", st.forged_unsubscribes},
                              {"subclose", st.forged_subcloses},
                              {"close", st.forged_closes}};
  j["permission_denials"] =
      Json{{"publish", st.denied_publishes}, {"subscribe", st.denied_subscriptions}};
  if (int fds = OpenFds(); fds > 0) j["open_fds"] = fds;
  if (int64_t max = MaxFds(); max > 0) j["max_fds"] = max;
  j["name"] = role.name;
  j["ft_group"] = role.group;
  j["epoch"] = role.epoch;
  j["takeovers"] = role.takeovers;
  if (role.last_takeover_ns > 0) j["last_takeover"] = Rfc3339(role.last_takeover_ns);
  j["healthy"] = role.healthy;
  Json standbys = Json::array();
  for (const auto& p : role.peers) {
    Json pj;
    pj["name"] = p.name;
    pj["role"] = p.role;
    pj["epoch"] = p.epoch;
    pj["heartbeat_age_ms"] = p.heartbeat_age_ms;
    pj["alive"] = p.alive;
    if (p.role == "standby") {
      standbys.push_back(std::move(pj));
    } else if (!j.contains("active")) {
      j["active"] = std::move(pj);  // on a standby: the active it hears
    }
  }
  j["standbys"] = std::move(standbys);
  if (std::optional<ExternalNatsInfo> ext = source_->external_nats()) {
    j["nats"] = Json{{"url", ext->url},
                     {"connected", ext->connected},
                     {"reconnects", ext->reconnects},
                     {"disconnects", ext->disconnects},
                     {"dropped_publishes", ext->dropped_publishes},
                     {"servers", ext->servers}};
  }
  return JsonResponse(req, j);
}

HttpResponse Monitor::Storez(const HttpRequest& req) const {
  RoleInfo role = source_->role();
  if (!role.serving) return NotServing(role);
  IdentityInfo id = source_->identity();
  const LimitsInfo& g = options_.limits;
  uint64_t total_msgs = 0, total_bytes = 0;
  for (const auto& c : source_->channels(false)) {
    total_msgs += c.msgs;
    total_bytes += c.bytes;
  }
  Json limits;
  limits["max_channels"] = g.max_channels;
  Json global = LimitsJson(g.global);  // named: items() does not keep a temporary alive
  for (auto& [k, v] : global.items()) limits[k] = v;
  if (!g.channels.empty()) {
    Json per = Json::object();
    for (const auto& [pattern, row] : g.channels) per[pattern] = LimitsJson(row);
    limits["channels"] = std::move(per);
  }
  Json j;
  j["cluster_id"] = id.cluster_id;
  j["server_id"] = id.server_id;
  j["now"] = Rfc3339(Now());
  j["type"] = options_.store_type;
  j["limits"] = std::move(limits);
  j["total_msgs"] = total_msgs;
  j["total_bytes"] = total_bytes;
  AddStoreFields(*source_, &j);
  return JsonResponse(req, j);
}

namespace {

// The fields every paged list (clientsz, channelsz) starts with.
Json ListHeader(const IdentityInfo& id, std::string now, const Page& page, size_t count,
                size_t total) {
  Json j;
  j["cluster_id"] = id.cluster_id;
  j["server_id"] = id.server_id;
  j["now"] = std::move(now);
  j["offset"] = page.offset;
  j["limit"] = page.limit;
  j["count"] = count;
  j["total"] = total;
  return j;
}

}  // namespace

HttpResponse Monitor::Clientsz(const HttpRequest& req) const {
  RoleInfo role = source_->role();
  if (!role.serving) return NotServing(role);
  const bool with_subs = IntParam(req, "subs") == 1;
  const bool inboxes = InboxesParam(req);
  std::string single = req.Param("client");
  if (!single.empty()) {
    std::optional<ClientInfo> c = source_->client(single, with_subs);
    if (!c) return TextError(404, "Client " + single + " not found");
    return JsonResponse(req, ClientJson(*c, with_subs, inboxes));
  }
  IdentityInfo id = source_->identity();
  Page page = PageParams(req);
  std::vector<ClientInfo> clients = source_->clients(with_subs);
  std::sort(clients.begin(), clients.end(),
            [](const ClientInfo& a, const ClientInfo& b) { return a.id < b.id; });
  auto [begin, end] = Slice(page, clients.size());
  Json list = Json::array();
  for (size_t i = begin; i < end; ++i) {
    list.push_back(ClientJson(clients[i], with_subs, inboxes));
  }
  Json j = ListHeader(id, Rfc3339(Now()), page, end - begin, clients.size());
  j["clients"] = std::move(list);
  return JsonResponse(req, j);
}

HttpResponse Monitor::Channelsz(const HttpRequest& req) const {
  RoleInfo role = source_->role();
  if (!role.serving) return NotServing(role);
  const bool with_subs = IntParam(req, "subs") == 1;
  const bool inboxes = InboxesParam(req);
  std::string single = req.Param("channel");
  if (!single.empty()) {
    std::optional<ChannelInfo> c = source_->channel(single, with_subs);
    if (!c) return TextError(404, "Channel " + single + " not found");
    return JsonResponse(req, ChannelJson(*c, with_subs, inboxes));
  }
  IdentityInfo id = source_->identity();
  Page page = PageParams(req);
  std::vector<ChannelInfo> channels = source_->channels(with_subs);
  std::sort(channels.begin(), channels.end(),
            [](const ChannelInfo& a, const ChannelInfo& b) { return a.name < b.name; });
  auto [begin, end] = Slice(page, channels.size());
  Json j = ListHeader(id, Rfc3339(Now()), page, end - begin, channels.size());
  if (with_subs) {
    Json list = Json::array();
    for (size_t i = begin; i < end; ++i) {
      list.push_back(ChannelJson(channels[i], true, inboxes));
    }
    if (!list.empty()) j["channels"] = std::move(list);
  } else {
    Json names = Json::array();
    for (size_t i = begin; i < end; ++i) names.push_back(channels[i].name);
    if (!names.empty()) j["names"] = std::move(names);
  }
  return JsonResponse(req, j);
}

HttpResponse Monitor::IsFtActive(const HttpRequest&) const {
  bool active = source_->role().state == ServerState::kFtActive;
  HttpResponse r = HttpResponse::Text(active ? 200 : 204, "");
  return r;
}

// ---------------------------------------------------------------------------------------------
// Metrics collectors

void Monitor::InstallCollectors() {
  metrics_->AddCollector([this] { CollectFt(); });
  metrics_->AddCollector([this] { CollectCore(); });
  metrics_->AddCollector([this] { CollectStreaming(); });
  metrics_->AddCollector([this] { CollectExternal(); });
}

void Monitor::CollectFt() const {
  IdentityInfo id = source_->identity();
  RoleInfo role = source_->role();
  MetricsRegistry& m = *metrics_;
  m.ResetFamily("tandem_info");
  m.GetGauge("tandem_info", "Constant 1, labelled with what this instance is.",
             {{"cluster_id", id.cluster_id},
              {"name", role.name},
              {"server_id", id.server_id},
              {"version", id.version}})
      ->Set(1);
  m.GetGauge("tandem_start_time_seconds", "Unix time the process started.")->Set(id.start_ns / 1e9);
  m.GetGauge("tandem_healthy", "1 when /healthz answers 200.")->Set(role.healthy ? 1 : 0);
  m.GetGauge("tandem_ft_active", "1 when this instance is the active one and serving.")
      ->Set(role.serving ? 1 : 0);
  m.ResetFamily("tandem_ft_role");
  m.GetGauge("tandem_ft_role", "Constant 1, labelled with this instance's role and state.",
             {{"role", role.role}, {"state", ServerStateName(role.state)}})
      ->Set(1);
  m.GetGauge("tandem_ft_epoch", "Fencing epoch: ours when active, the highest heard otherwise.")
      ->Set(static_cast<double>(role.epoch));
  m.GetCounter("tandem_ft_takeovers_total", "Times this process became the active instance.")
      ->Set(role.takeovers);
  size_t standbys = std::count_if(role.peers.begin(), role.peers.end(),
                                  [](const PeerInfo& p) { return p.alive && p.role == "standby"; });
  m.GetGauge("tandem_ft_standbys", "Standbys heard within the missed-heartbeat window.")
      ->Set(static_cast<double>(standbys));
  m.ResetFamily("tandem_ft_peer_heartbeat_age_seconds");
  for (const auto& p : role.peers) {
    m.GetGauge("tandem_ft_peer_heartbeat_age_seconds",
               "Time since the last heartbeat of each peer seen.",
               {{"peer", p.name}, {"role", p.role}})
        ->Set(p.heartbeat_age_ms / 1e3);
  }
}

void Monitor::CollectCore() const {
  std::optional<CoreCounters> s = source_->core_stats();
  MetricsRegistry& m = *metrics_;
  Counter* in_msgs = m.GetCounter("tandem_nats_in_msgs_total", "NATS messages received.");
  Counter* in_bytes = m.GetCounter("tandem_nats_in_bytes_total", "NATS payload bytes received.");
  Counter* out_msgs = m.GetCounter("tandem_nats_out_msgs_total", "NATS messages sent.");
  Counter* out_bytes = m.GetCounter("tandem_nats_out_bytes_total", "NATS payload bytes sent.");
  Gauge* conns = m.GetGauge("tandem_nats_connections", "Open client connections.");
  Counter* total = m.GetCounter("tandem_nats_connections_total", "Client connections accepted.");
  Counter* slow = m.GetCounter("tandem_nats_slow_consumers_total",
                               "Connections closed or flagged as slow consumers.");
  Gauge* subs = m.GetGauge("tandem_nats_subscriptions", "NATS subscriptions.");
  if (!s) return;
  in_msgs->Set(s->in_msgs);
  in_bytes->Set(s->in_bytes);
  out_msgs->Set(s->out_msgs);
  out_bytes->Set(s->out_bytes);
  conns->Set(static_cast<double>(s->connections));
  total->Set(s->total_connections);
  slow->Set(s->slow_consumers);
  subs->Set(static_cast<double>(s->subscriptions));
}

void Monitor::CollectExternal() const {
  std::optional<ExternalNatsInfo> e = source_->external_nats();
  if (!e) return;  // the embedded core: no such families
  MetricsRegistry& m = *metrics_;
  m.GetGauge("tandem_nats_cluster_connected",
             "1 while connected to the external NATS cluster, 0 while reconnecting.")
      ->Set(e->connected ? 1 : 0);
  m.GetCounter("tandem_nats_cluster_reconnects_total", "Reconnects to the external NATS cluster.")
      ->Set(e->reconnects);
  m.GetCounter("tandem_nats_cluster_disconnects_total",
               "Connections to the external NATS cluster lost.")
      ->Set(e->disconnects);
  m.GetCounter("tandem_nats_cluster_dropped_publishes_total",
               "Publishes refused by the client (reconnect buffer full).")
      ->Set(e->dropped_publishes);
  m.GetCounter("tandem_nats_cluster_in_msgs_total", "Messages received from the cluster.")
      ->Set(e->in_msgs);
  m.GetCounter("tandem_nats_cluster_out_msgs_total", "Messages published to the cluster.")
      ->Set(e->out_msgs);
}

void Monitor::CollectStreaming() const {
  MetricsRegistry& m = *metrics_;
  Counter* in_msgs = m.GetCounter("tandem_stan_in_msgs_total", "Streaming messages stored.");
  Counter* in_bytes = m.GetCounter("tandem_stan_in_bytes_total", "Streaming bytes stored.");
  Counter* out_msgs =
      m.GetCounter("tandem_stan_out_msgs_total", "Streaming messages delivered, redeliveries too.");
  Counter* out_bytes = m.GetCounter("tandem_stan_out_bytes_total", "Streaming bytes delivered.");
  Counter* redelivered =
      m.GetCounter("tandem_stan_redeliveries_total", "Messages redelivered after AckWait.");
  constexpr char kForged[] = "tandem_stan_forged_requests_total";
  constexpr char kForgedHelp[] =
      "Acks, unsubscribes and closes refused: not sent by the client's own connection.";
  Counter* forged_ack = m.GetCounter(kForged, kForgedHelp, {{"kind", "ack"}});
  Counter* forged_unsub = m.GetCounter(kForged, kForgedHelp, {{"kind", "unsubscribe"}});
  Counter* forged_subclose = m.GetCounter(kForged, kForgedHelp, {{"kind", "subclose"}});
  Counter* forged_close = m.GetCounter(kForged, kForgedHelp, {{"kind", "close"}});
  constexpr char kDenied[] = "tandem_stan_permission_denials_total";
  constexpr char kDeniedHelp[] =
      "Streaming publishes and subscriptions refused by channel permissions.";
  Counter* denied_pub = m.GetCounter(kDenied, kDeniedHelp, {{"op", "publish"}});
  Counter* denied_sub = m.GetCounter(kDenied, kDeniedHelp, {{"op", "subscribe"}});
  Gauge* clients = m.GetGauge("tandem_stan_clients", "Registered streaming clients.");
  Gauge* channels = m.GetGauge("tandem_stan_channels", "Channels.");
  Gauge* subs =
      m.GetGauge("tandem_stan_subscriptions", "Subscriptions, offline durables included.");
  Gauge* pending = m.GetGauge("tandem_stan_pending_acks", "Delivered messages awaiting an ack.");
  for (const char* family :
       {"tandem_stan_channel_msgs", "tandem_stan_channel_bytes", "tandem_stan_channel_last_seq",
        "tandem_stan_channel_subscriptions", "tandem_stan_channel_pending_acks",
        "tandem_stan_channel_stalled_subscriptions", "tandem_store_read_errors_total",
        "tandem_stan_channel_dead_lettered_total",
        "tandem_stan_channel_max_deliveries_dropped_total"}) {
    m.ResetFamily(family);
  }
  const bool serving = source_->role().serving;
  CollectStoreFamilies(*source_, serving, m);
  if (!serving) return;
  StreamingStats st = source_->streaming_stats();
  in_msgs->Set(st.in_msgs);
  in_bytes->Set(st.in_bytes);
  out_msgs->Set(st.out_msgs);
  out_bytes->Set(st.out_bytes);
  redelivered->Set(st.redeliveries);
  forged_ack->Set(st.forged_acks);
  forged_unsub->Set(st.forged_unsubscribes);
  forged_subclose->Set(st.forged_subcloses);
  forged_close->Set(st.forged_closes);
  denied_pub->Set(st.denied_publishes);
  denied_sub->Set(st.denied_subscriptions);
  clients->Set(static_cast<double>(source_->clients(false).size()));
  subs->Set(static_cast<double>(source_->subscription_count()));
  std::vector<ChannelInfo> chans = source_->channels(true);
  channels->Set(static_cast<double>(chans.size()));
  uint64_t pending_total = 0;
  for (const auto& c : chans) {
    Labels l{{"channel", c.name}};
    uint64_t pend = 0, stalled = 0;
    for (const auto& s : c.subs) {
      pend += s.pending_count;
      stalled += s.is_stalled ? 1 : 0;
    }
    pending_total += pend;
    m.GetGauge("tandem_stan_channel_msgs", "Messages stored per channel.", l)
        ->Set(static_cast<double>(c.msgs));
    m.GetGauge("tandem_stan_channel_bytes", "Bytes stored per channel.", l)
        ->Set(static_cast<double>(c.bytes));
    m.GetGauge("tandem_stan_channel_last_seq", "Last sequence per channel.", l)
        ->Set(static_cast<double>(c.last_seq));
    m.GetGauge("tandem_stan_channel_subscriptions", "Subscriptions per channel.", l)
        ->Set(static_cast<double>(c.subs_count));
    m.GetGauge("tandem_stan_channel_pending_acks", "Unacknowledged deliveries per channel.", l)
        ->Set(static_cast<double>(pend));
    m.GetGauge("tandem_stan_channel_stalled_subscriptions",
               "Subscriptions at MaxInflight per channel.", l)
        ->Set(static_cast<double>(stalled));
    m.GetCounter("tandem_store_read_errors_total",
                 "Failed reads of stored messages per channel (a damaged store).", l)
        ->Set(c.read_errors);
    m.GetCounter("tandem_stan_channel_dead_lettered_total",
                 "Messages that reached max_deliveries and went to the dead-letter channel.", l)
        ->Set(c.dead_lettered);
    m.GetCounter("tandem_stan_channel_max_deliveries_dropped_total",
                 "Messages that reached max_deliveries with no dead-letter channel to go to.", l)
        ->Set(c.max_deliveries_dropped);
  }
  pending->Set(static_cast<double>(pending_total));
}

}  // namespace tandem::server
