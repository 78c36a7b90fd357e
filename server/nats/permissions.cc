// permissions.cc: compiled subject permissions and response grants (see permissions.h).
#include "server/nats/permissions.h"

namespace tandem::server {
namespace {
// Grants kept before expired and used-up ones are swept.
constexpr size_t kPruneEvery = 1024;
}  // namespace

PermissionSet::PermissionSet(const Permissions& p) : responses_(p.responses) {
  if (p.publish) {
    if (p.publish->allow) pub_allow_ = Compile(*p.publish->allow);
    if (!p.publish->deny.empty()) pub_deny_ = Compile(p.publish->deny);
  }
  // nats-server: allow_responses without a publish allow list turns the blanket allow off.
  if (responses_ && pub_allow_ == nullptr) pub_allow_ = Compile({});
  if (p.subscribe) {
    if (p.subscribe->allow) sub_allow_ = Compile(*p.subscribe->allow);
    if (!p.subscribe->deny.empty()) sub_deny_ = Compile(p.subscribe->deny);
  }
  restricts_publish_ = pub_allow_ != nullptr || pub_deny_ != nullptr;
  restricts_subscribe_ = sub_allow_ != nullptr || sub_deny_ != nullptr;
}

std::unique_ptr<PermissionSet::List> PermissionSet::Compile(
    const std::vector<std::string>& subjects) {
  auto list = std::make_unique<List>();
  for (const std::string& s : subjects) {
    list->sublist.Insert(std::make_shared<Subscription>(nullptr, s, std::string(), std::string()));
  }
  return list;
}

bool PermissionSet::Decide(List* allow, List* deny, std::string_view subject) {
  if (allow != nullptr && !allow->Matches(subject)) return false;
  return deny == nullptr || !deny->Matches(subject);
}

bool PermissionSet::Cached(Cache& cache, List* allow, List* deny, std::string_view subject) {
  auto it = cache.find(subject);
  if (it != cache.end()) return it->second;
  const bool allowed = Decide(allow, deny, subject);
  if (cache.size() >= kCacheMax) cache.clear();
  cache.emplace(std::string(subject), allowed);
  return allowed;
}

bool PermissionSet::CanPublish(std::string_view subject) {
  if (!restricts_publish_) return true;
  return Cached(pub_cache_, pub_allow_.get(), pub_deny_.get(), subject);
}

bool PermissionSet::CanSubscribe(std::string_view subject) {
  if (!restricts_subscribe_) return true;
  return Cached(sub_cache_, sub_allow_.get(), sub_deny_.get(), subject);
}

bool PermissionSet::DeliveryDenied(std::string_view subject) {
  if (sub_deny_ == nullptr) return false;
  return !Cached(deliver_cache_, nullptr, sub_deny_.get(), subject);
}

void ResponseGrants::Grant(std::string_view reply, uint64_t now_ms, const ResponsePermission& rp) {
  auto it = grants_.find(reply);
  if (it == grants_.end()) {
    grants_.emplace(std::string(reply), Entry{now_ms, 0});
  } else {
    it->second = Entry{now_ms, 0};
  }
  if (++since_prune_ >= kPruneEvery || grants_.size() > kMaxGrants) Prune(now_ms, rp);
}

bool ResponseGrants::Use(std::string_view subject, uint64_t now_ms, const ResponsePermission& rp) {
  auto it = grants_.find(subject);
  if (it == grants_.end()) return false;
  Entry& g = it->second;
  ++g.used;
  const bool spent = rp.max_msgs > 0 && g.used > rp.max_msgs;
  const bool expired = rp.expires_ms > 0 && now_ms - g.at_ms > rp.expires_ms;
  if (spent || expired) {
    grants_.erase(it);
    return false;
  }
  if (rp.max_msgs > 0 && g.used == rp.max_msgs) grants_.erase(it);  // the last one allowed
  return true;
}

void ResponseGrants::Prune(uint64_t now_ms, const ResponsePermission& rp) {
  since_prune_ = 0;
  if (rp.expires_ms > 0) {
    std::erase_if(grants_,
                  [&](const auto& kv) { return now_ms - kv.second.at_ms > rp.expires_ms; });
  }
  if (grants_.size() > kMaxGrants) grants_.clear();
}

}  // namespace tandem::server
