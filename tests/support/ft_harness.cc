// ft_harness.cc: group members and the verifying streaming load (see ft_harness.h).
#include "tests/support/ft_harness.h"

#include <fstream>
#include <sstream>

#include "tests/support/stan_client.h"

namespace tandem::test {

int64_t SteadyNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---- FtMember ----------------------------------------------------------------------------------

FtMemberOptions MemberOptions(const TempDir& dir, const std::string& name, int port,
                              std::vector<std::string> peers) {
  FtMemberOptions o;
  o.name = name;
  o.listen = "127.0.0.1:" + std::to_string(port);
  o.peers = peers.empty() ? std::vector<std::string>{o.listen} : std::move(peers);
  o.store_dir = dir.Join("store");
  return o;
}

FtMember::FtMember(const std::string& dir, FtMemberOptions options)
    : options_(std::move(options)), dir_(dir) {
  std::ostringstream y;
  y << "listen: " << options_.listen << "\n"
    << "cluster_id: " << options_.cluster_id << "\n"
    << "log_level: debug\n"
    << "store:\n  dir: " << options_.store_dir << "\n"
    << "ft:\n  group: " << options_.group << "\n  name: " << options_.name << "\n  peers: [";
  for (size_t i = 0; i < options_.peers.size(); ++i) y << (i ? ", " : "") << options_.peers[i];
  y << "]\n  heartbeat: " << options_.heartbeat_ms << "ms\n  missed: " << options_.missed << "\n"
    << options_.ft_yaml << options_.extra_yaml;
  config_path_ = dir_ + "/" + options_.name + ".yaml";
  std::ofstream(config_path_) << y.str();
}

bool FtMember::Start() {
  // A fresh TandemProcess per start, each with its own log, so waits see only this run.
  ++starts_;
  process_ =
      std::make_unique<TandemProcess>(dir_, options_.name + "-" + std::to_string(starts_) + ".log");
  std::vector<std::string> args{"serve", "-c", config_path_};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  return process_->Start(args);
}

bool FtMember::WaitActive(std::chrono::milliseconds timeout) {
  return process_ && process_->WaitForLog(kActiveLine, timeout);
}

bool FtMember::WaitStandby(std::chrono::milliseconds timeout) {
  return process_ && process_->WaitForLog(kStandbyLine, timeout);
}

bool FtMember::IsActive() const {
  return process_ && process_->Log().find(kActiveLine) != std::string::npos;
}

// ---- StanLoad ----------------------------------------------------------------------------------

namespace {

void AckCb(const char*, const char* error, void* closure) {
  auto* ctx = static_cast<std::pair<StanLoad*, size_t>*>(closure);
  ctx->first->OnAck(ctx->second, error == nullptr);
  delete ctx;
}

size_t NumberOf(stanMsg* msg) {
  const char* d = stanMsg_GetData(msg);
  int len = stanMsg_GetDataLength(msg);
  size_t n = 0;
  for (int i = 1; i < len && d[i] >= '0' && d[i] <= '9'; ++i)
    n = n * 10 + static_cast<size_t>(d[i] - '0');
  return n;
}

void DurableCb(stanConnection*, stanSubscription* sub, const char*, stanMsg* msg, void* closure) {
  static_cast<StanLoad*>(closure)->OnDelivery(NumberOf(msg), true);
  stanSubscription_AckMsg(sub, msg);
  stanMsg_Destroy(msg);
}

void QueueCb(stanConnection*, stanSubscription* sub, const char*, stanMsg* msg, void* closure) {
  static_cast<StanLoad*>(closure)->OnDelivery(NumberOf(msg), false);
  stanSubscription_AckMsg(sub, msg);
  stanMsg_Destroy(msg);
}

}  // namespace

StanLoad::StanLoad(std::string url, std::string cluster_id, std::string channel, int rate,
                   StanLoadTls tls)
    : url_(std::move(url)),
      cluster_id_(std::move(cluster_id)),
      channel_(std::move(channel)),
      rate_(rate),
      tls_(std::move(tls)) {}

StanLoad::~StanLoad() {
  StopPublishing();
  for (stanSubscription* s : {durable_, q1_, q2_}) {
    if (s) stanSubscription_Destroy(s);
  }
  for (stanConnection* c : {pub_, sub_conn_, q_conn_}) {
    if (c) stanConnection_Destroy(c);
  }
}

bool StanLoad::Start(std::string* error) {
  StanConnectOptions connect;
  connect.tls_ca = tls_.ca;
  connect.tls_cert = tls_.cert;
  connect.tls_key = tls_.key;
  sub_conn_ = ConnectStan(url_, cluster_id_, "ft-durable", connect, error);
  if (!sub_conn_) return false;
  q_conn_ = ConnectStan(url_, cluster_id_, "ft-queue", connect, error);
  if (!q_conn_) return false;
  pub_ = ConnectStan(url_, cluster_id_, "ft-pub", connect, error);
  if (!pub_) return false;
  durable_ = SubscribeStan(sub_conn_, channel_, nullptr, "dur", DurableCb, this, error);
  if (!durable_) return false;
  q1_ = SubscribeStan(q_conn_, channel_, "qg", "qdur", QueueCb, this, error);
  if (!q1_) return false;
  q2_ = SubscribeStan(q_conn_, channel_, "qg", "qdur", QueueCb, this, error);
  if (!q2_) return false;
  publisher_ = std::thread([this] { Publish(); });
  return true;
}

void StanLoad::Publish() {
  int64_t start = SteadyNowUs();
  uint64_t sent = 0;
  char buf[32];
  while (!stop_) {
    size_t n;
    {
      std::lock_guard<std::mutex> lock(mu_);
      n = trace_.size();
      trace_.push_back(MsgTrace{});
    }
    int len = std::snprintf(buf, sizeof(buf), "n%zu", n);
    auto* ctx = new std::pair<StanLoad*, size_t>(this, n);
    if (stanConnection_PublishAsync(pub_, channel_.c_str(), buf, len, AckCb, ctx) != NATS_OK) {
      delete ctx;
      OnAck(n, false);
    }
    ++sent;
    int64_t due = start + static_cast<int64_t>(sent * 1000000 / static_cast<uint64_t>(rate_));
    int64_t wait = due - SteadyNowUs();
    if (wait > 0) std::this_thread::sleep_for(std::chrono::microseconds(wait));
  }
}

void StanLoad::StopPublishing() {
  stop_ = true;
  if (publisher_.joinable()) publisher_.join();
}

void StanLoad::MarkFault() {
  std::lock_guard<std::mutex> lock(mu_);
  first_after_fault_us_ = 0;
  fault_floor_ = trace_.size();
}

void StanLoad::OnAck(size_t n, bool ok) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (n < trace_.size()) trace_[n].ack = ok ? 1 : 2;
  }
  if (ok) {
    acked_.fetch_add(1);
    int64_t now = SteadyNowUs();
    last_ack_us_ = now;
    int64_t none = 0;
    if (n >= fault_floor_.load()) first_after_fault_us_.compare_exchange_strong(none, now);
  }
}

void StanLoad::OnDelivery(size_t n, bool durable) {
  delivered_.fetch_add(1);
  std::lock_guard<std::mutex> lock(mu_);
  if (n >= trace_.size()) return;
  if (durable) {
    ++trace_[n].durable;
  } else {
    ++trace_[n].queue;
  }
}

bool StanLoad::Complete() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const MsgTrace& t : trace_) {
    if (t.ack == 0) return false;
    if (t.ack == 1 && (t.durable == 0 || t.queue == 0)) return false;
  }
  return true;
}

LoadReport StanLoad::Settle(std::chrono::milliseconds timeout) {
  StopPublishing();
  int64_t deadline = SteadyNowUs() + timeout.count() * 1000;
  while (!Complete() && SteadyNowUs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  LoadReport r;
  std::lock_guard<std::mutex> lock(mu_);
  r.published = trace_.size();
  for (size_t n = 0; n < trace_.size(); ++n) {
    const MsgTrace& t = trace_[n];
    r.duplicates += (t.durable > 1 ? t.durable - 1u : 0u) + (t.queue > 1 ? t.queue - 1u : 0u);
    if (t.ack != 1) {
      ++r.unacked;
      continue;
    }
    ++r.acked;
    if (t.durable == 0 || t.queue == 0) {
      if (r.lost++ < 10) {
        r.first_lost += "n" + std::to_string(n) + "(d" + std::to_string(t.durable) + ",q" +
                        std::to_string(t.queue) + ") ";
      }
    }
  }
  return r;
}

// ---- Waits on a load ---------------------------------------------------------------------------

namespace {

// Until `count()` reaches `target`, polling every 5 ms for at most `timeout`.
template <typename Count>
bool GrowsTo(Count count, uint64_t target, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (count() < target && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return count() >= target;
}

}  // namespace

bool AcksGrow(const StanLoad& load, uint64_t more, std::chrono::milliseconds timeout) {
  return GrowsTo([&] { return load.acked(); }, load.acked() + more, timeout);
}

bool DeliveriesGrow(const StanLoad& load, uint64_t more, std::chrono::milliseconds timeout) {
  return GrowsTo([&] { return load.delivered(); }, load.delivered() + more, timeout);
}

}  // namespace tandem::test
