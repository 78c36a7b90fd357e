// channel.cc: channel counters and cache, and the channel registry with limits resolution.
#include "server/stan/channel.h"

#include <algorithm>
#include <cctype>

#include "server/bus/subject.h"
#include "server/stan/queue_group.h"
#include "server/stan/stan_errors.h"
#include "server/stan/stan_sub.h"

namespace tandem::server {
namespace {

std::vector<std::string_view> Tokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, dot - start));
    start = dot + 1;
  }
}

bool IsWildcard(std::string_view pattern) {
  for (auto t : Tokens(pattern))
    if (t == "*" || t == ">") return true;
  return false;
}

// Wider patterns first: fewer tokens, then '>' before '*' at the same length, then fewer
// wildcard tokens.
bool Wider(std::string_view a, std::string_view b) {
  auto ta = Tokens(a), tb = Tokens(b);
  bool fa = ta.back() == ">", fb = tb.back() == ">";
  if (ta.size() != tb.size()) return ta.size() < tb.size();
  if (fa != fb) return fa;
  auto wild = [](const std::vector<std::string_view>& t) {
    return std::count_if(t.begin(), t.end(),
                         [](std::string_view x) { return x == "*" || x == ">"; });
  };
  return wild(ta) > wild(tb);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void Inherit(ResolvedLimits* r, const LimitsEntry& e) {
  if (e.max_msgs) r->store.max_msgs = *e.max_msgs;
  if (e.max_bytes) r->store.max_bytes = *e.max_bytes;
  if (e.max_age_ns) r->store.max_age_ns = *e.max_age_ns;
  if (e.max_subs) r->max_subs = *e.max_subs;
  if (e.max_inactivity_ns) r->max_inactivity_ns = *e.max_inactivity_ns;
  if (e.max_deliveries) r->max_deliveries = *e.max_deliveries;
  if (e.dead_letter) r->dead_letter = *e.dead_letter;
  if (e.redelivery_backoff) r->redelivery_backoff = *e.redelivery_backoff;
}

}  // namespace

ResolvedLimits ResolveChannelLimits(const StanLimits& limits, std::string_view name) {
  ResolvedLimits r;
  r.store.max_msgs = limits.max_msgs;
  r.store.max_bytes = limits.max_bytes;
  r.store.max_age_ns = limits.max_age_ns;
  r.max_subs = limits.max_subs;
  r.max_inactivity_ns = limits.max_inactivity_ns;
  r.max_deliveries = limits.max_deliveries;
  r.dead_letter = limits.dead_letter;
  r.redelivery_backoff = limits.redelivery_backoff;
  std::vector<std::string_view> wild;
  const LimitsEntry* literal = nullptr;
  for (auto& [pattern, entry] : limits.channels) {
    if (pattern == name) {
      literal = &entry;
    } else if (IsWildcard(pattern) && SubjectMatches(pattern, name)) {
      wild.push_back(pattern);
    }
  }
  std::sort(wild.begin(), wild.end(), Wider);
  for (auto p : wild) Inherit(&r, limits.channels.find(std::string(p))->second);
  if (literal) Inherit(&r, *literal);
  return r;
}

std::string DeadLetterLoop(const StanLimits& limits, std::string_view start) {
  std::vector<std::string> chain{std::string(start)};
  while (true) {
    ResolvedLimits r = ResolveChannelLimits(limits, chain.back());
    if (r.max_deliveries == 0 || r.dead_letter.empty()) return "";
    bool seen = std::find(chain.begin(), chain.end(), r.dead_letter) != chain.end();
    chain.push_back(r.dead_letter);
    if (seen) break;
  }
  std::string out;
  for (const auto& c : chain) out += (out.empty() ? "" : " -> ") + c;
  return out;
}

// --- Channel -----------------------------------------------------------------------------------

Channel::Channel(const store::ChannelRecord& rec, const ResolvedLimits& limits)
    : rec_(rec), limits_(limits), committed_seq_(rec.last_seq) {}

Channel::~Channel() = default;

uint64_t Channel::Append(int64_t now_ns, int64_t* timestamp_ns) {
  *timestamp_ns = std::max(now_ns, rec_.last_timestamp_ns);
  rec_.last_timestamp_ns = *timestamp_ns;
  return ++rec_.last_seq;
}

void Channel::CacheMsg(uint64_t seq, int64_t timestamp_ns, std::string data) {
  // The cache stays contiguous: a gap (should not happen) restarts it.
  if (!cache_.empty() && cache_.back().seq + 1 != seq) {
    cache_.clear();
    cache_bytes_ = 0;
  }
  if (rec_.msgs == 0) oldest_ns_ = timestamp_ns;
  ++rec_.msgs;
  rec_.bytes += data.size();
  cache_bytes_ += data.size();
  cache_.push_back(CachedMsg{seq, timestamp_ns, std::move(data)});
  TrimCache();
}

void Channel::Committed(uint64_t seq) {
  if (seq > committed_seq_) committed_seq_ = seq;
}

void Channel::ApplyStats(const store::ChannelStats& stats) {
  // The store's counters are authoritative for what it trimmed; messages accepted since the
  // batch was submitted are not in them, so keep them counted.
  uint64_t extra_msgs = 0, extra_bytes = 0;
  int64_t oldest_extra = 0;
  for (auto it = cache_.rbegin(); it != cache_.rend() && it->seq > stats.last_seq; ++it) {
    ++extra_msgs;
    extra_bytes += it->data.size();
    oldest_extra = it->timestamp_ns;
  }
  oldest_ns_ = stats.msgs > 0 ? stats.first_timestamp_ns : oldest_extra;
  if (stats.first_seq > rec_.first_seq) rec_.first_seq = stats.first_seq;
  rec_.msgs = stats.msgs + extra_msgs;
  rec_.bytes = stats.bytes + extra_bytes;
  TrimCache();
}

const CachedMsg* Channel::Lookup(uint64_t seq) const {
  if (cache_.empty() || seq > committed_seq_ || seq < cache_.front().seq || seq < rec_.first_seq)
    return nullptr;
  size_t idx = seq - cache_.front().seq;
  if (idx >= cache_.size()) return nullptr;
  return &cache_[idx];
}

size_t Channel::active_subs() const {
  size_t n = 0;
  for (auto& [id, sub] : subs_)
    if (!sub->offline()) ++n;
  return n;
}

void Channel::TrimCache() {
  while (!cache_.empty() && (cache_.front().seq < rec_.first_seq ||
                             ((cache_.size() > ChannelRegistry::kCacheMaxMsgs ||
                               cache_bytes_ > ChannelRegistry::kCacheMaxBytes) &&
                              cache_.front().seq <= committed_seq_))) {
    cache_bytes_ -= cache_.front().data.size();
    cache_.pop_front();
  }
}

// --- ChannelRegistry ---------------------------------------------------------------------------

ChannelRegistry::ChannelRegistry(const StanLimits& limits) : limits_(limits) {}
ChannelRegistry::~ChannelRegistry() = default;

bool ChannelRegistry::IsValidName(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.back() == '.') return false;
  if (name.find("..") != std::string_view::npos) return false;
  return name.find_first_of("/*>") == std::string_view::npos;
}

ResolvedLimits ChannelRegistry::Resolve(std::string_view name) const {
  return ResolveChannelLimits(limits_, name);
}

Channel* ChannelRegistry::Lookup(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second.get();
}

Channel* ChannelRegistry::LookupById(int64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

std::string ChannelRegistry::CheckCreate(std::string_view name) const {
  auto it = by_lower_.find(Lower(name));
  if (it != by_lower_.end()) {
    return "rejecting channel \"" + std::string(name) + "\" because channel \"" + it->second +
           "\" alreay exists (different cases not allowed)";
  }
  if (limits_.max_channels > 0 && by_name_.size() >= limits_.max_channels)
    return errors::kTooManyChannels;
  return "";
}

Channel* ChannelRegistry::Create(std::string_view name) {
  store::ChannelRecord rec;
  rec.id = next_id_++;
  rec.name = std::string(name);
  rec.first_seq = 1;
  rec.last_seq = 0;
  rec.limits = Resolve(name).store;
  return Restore(rec);
}

Channel* ChannelRegistry::Restore(const store::ChannelRecord& rec) {
  ResolvedLimits limits = Resolve(rec.name);
  limits.store = rec.limits;  // a channel keeps the limits it was created with
  auto ch = std::make_unique<Channel>(rec, limits);
  Channel* raw = ch.get();
  by_id_[rec.id] = raw;
  by_lower_[Lower(rec.name)] = rec.name;
  by_name_[rec.name] = std::move(ch);
  if (rec.id >= next_id_) next_id_ = rec.id + 1;
  return raw;
}

void ChannelRegistry::Remove(Channel* ch) {
  by_id_.erase(ch->id());
  by_lower_.erase(Lower(ch->name()));
  by_name_.erase(ch->name());
}

}  // namespace tandem::server
