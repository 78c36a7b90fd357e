// sublist.cc: the subscription trie and its match cache (see sublist.h for the model).
#include "server/sublist.h"

#include <algorithm>
#include <array>
#include <cassert>

namespace tandem::server {

namespace {

// Matching walks at most this many tokens without allocating; longer subjects use a vector.
constexpr size_t kStackTokens = 32;

struct QueueGroup {
  std::string name;
  std::vector<SubscriptionPtr> subs;
};

}  // namespace

struct Sublist::Node {
  std::unique_ptr<Level> next;
  std::vector<SubscriptionPtr> psubs;
  std::vector<QueueGroup> qsubs;
  bool empty() const;
};

struct Sublist::Level {
  std::unordered_map<std::string, std::unique_ptr<Node>, StringHash, std::equal_to<>> nodes;
  std::unique_ptr<Node> pwc;  // `*`
  std::unique_ptr<Node> fwc;  // `>`
  bool empty() const { return nodes.empty() && !pwc && !fwc; }
};

bool Sublist::Node::empty() const {
  return psubs.empty() && qsubs.empty() && (!next || next->empty());
}

void TokenizeSubject(std::string_view subject, std::vector<std::string_view>* out) {
  out->clear();
  size_t start = 0;
  for (size_t i = 0; i < subject.size(); ++i) {
    if (subject[i] == '.') {
      out->push_back(subject.substr(start, i - start));
      start = i + 1;
    }
  }
  out->push_back(subject.substr(start));
}

namespace {

// Splits into `stack` when it fits, else into `heap`; returns the token count (0 when any
// token is empty, which no subscription can match).
size_t SplitForMatch(std::string_view subject, std::array<std::string_view, kStackTokens>* stack,
                     std::vector<std::string_view>* heap, const std::string_view** tokens) {
  size_t n = 0;
  size_t start = 0;
  for (size_t i = 0; i <= subject.size(); ++i) {
    if (i < subject.size() && subject[i] != '.') continue;
    if (i == start) return 0;
    std::string_view tok = subject.substr(start, i - start);
    if (n < kStackTokens) {
      (*stack)[n] = tok;
    } else {
      if (heap->empty()) heap->assign(stack->begin(), stack->end());
      heap->push_back(tok);
    }
    ++n;
    start = i + 1;
  }
  *tokens = heap->empty() ? stack->data() : heap->data();
  return n;
}

template <typename NodeT>
void AddNodeToResult(const NodeT& node, SublistResult* r) {
  r->psubs.insert(r->psubs.end(), node.psubs.begin(), node.psubs.end());
  for (const QueueGroup& g : node.qsubs) {
    auto it = std::find_if(r->qsubs.begin(), r->qsubs.end(),
                           [&](const auto& members) { return members.front()->queue == g.name; });
    if (it == r->qsubs.end()) {
      r->qsubs.push_back(g.subs);
    } else {
      it->insert(it->end(), g.subs.begin(), g.subs.end());
    }
  }
}

template <typename LevelT>
void MatchLevel(const LevelT* level, const std::string_view* toks, size_t n, SublistResult* r) {
  using NodeT = typename std::remove_reference_t<decltype(*level->pwc)>;
  const NodeT* node = nullptr;
  const NodeT* pwc = nullptr;
  for (size_t i = 0; i < n; ++i) {
    if (level == nullptr) return;
    if (level->fwc) AddNodeToResult(*level->fwc, r);
    pwc = level->pwc.get();
    if (pwc != nullptr) MatchLevel(pwc->next.get(), toks + i + 1, n - i - 1, r);
    auto it = level->nodes.find(toks[i]);
    node = it == level->nodes.end() ? nullptr : it->second.get();
    level = node ? node->next.get() : nullptr;
  }
  if (node != nullptr) AddNodeToResult(*node, r);
  if (pwc != nullptr) AddNodeToResult(*pwc, r);
}

}  // namespace

Sublist::Sublist(size_t cache_max) : cache_max_(cache_max), root_(std::make_unique<Level>()) {}

Sublist::~Sublist() = default;

bool Sublist::Insert(SubscriptionPtr sub) {
  std::vector<std::string_view> toks;
  TokenizeSubject(sub->subject, &toks);
  for (size_t i = 0; i < toks.size(); ++i) {
    if (toks[i].empty()) return false;
    if (toks[i] == ">" && i + 1 != toks.size()) return false;
  }
  Level* level = root_.get();
  Node* node = nullptr;
  for (std::string_view t : toks) {
    std::unique_ptr<Node>* slot;
    if (t == "*") {
      slot = &level->pwc;
    } else if (t == ">") {
      slot = &level->fwc;
    } else {
      auto it = level->nodes.find(t);
      if (it == level->nodes.end()) it = level->nodes.emplace(std::string(t), nullptr).first;
      slot = &it->second;
    }
    if (!*slot) *slot = std::make_unique<Node>();
    node = slot->get();
    if (!node->next) node->next = std::make_unique<Level>();
    level = node->next.get();
  }
  if (sub->queue.empty()) {
    node->psubs.push_back(std::move(sub));
  } else {
    auto it = std::find_if(node->qsubs.begin(), node->qsubs.end(),
                           [&](const QueueGroup& g) { return g.name == sub->queue; });
    if (it == node->qsubs.end()) {
      node->qsubs.push_back(QueueGroup{sub->queue, {}});
      it = node->qsubs.end() - 1;
    }
    it->subs.push_back(std::move(sub));
  }
  ++count_;
  ++genid_;
  return true;
}

bool Sublist::Remove(const SubscriptionPtr& sub) {
  std::vector<std::string_view> toks;
  TokenizeSubject(sub->subject, &toks);
  // The path walked, so that emptied nodes can be pruned bottom-up.
  struct Step {
    Level* level;
    std::string_view token;
  };
  std::vector<Step> path;
  Level* level = root_.get();
  Node* node = nullptr;
  for (std::string_view t : toks) {
    if (level == nullptr) return false;
    path.push_back(Step{level, t});
    if (t == "*") {
      node = level->pwc.get();
    } else if (t == ">") {
      node = level->fwc.get();
    } else {
      auto it = level->nodes.find(t);
      node = it == level->nodes.end() ? nullptr : it->second.get();
    }
    if (node == nullptr) return false;
    level = node->next.get();
  }
  bool found = false;
  if (sub->queue.empty()) {
    auto it = std::find(node->psubs.begin(), node->psubs.end(), sub);
    if (it != node->psubs.end()) {
      node->psubs.erase(it);
      found = true;
    }
  } else {
    auto g = std::find_if(node->qsubs.begin(), node->qsubs.end(),
                          [&](const QueueGroup& q) { return q.name == sub->queue; });
    if (g != node->qsubs.end()) {
      auto it = std::find(g->subs.begin(), g->subs.end(), sub);
      if (it != g->subs.end()) {
        g->subs.erase(it);
        found = true;
        if (g->subs.empty()) node->qsubs.erase(g);
      }
    }
  }
  if (!found) return false;
  sub->closed = true;
  --count_;
  ++genid_;
  // Prune nodes left empty, deepest first.
  for (size_t i = path.size(); i-- > 0;) {
    Level* l = path[i].level;
    std::string_view t = path[i].token;
    std::unique_ptr<Node>* slot;
    std::unordered_map<std::string, std::unique_ptr<Node>, StringHash, std::equal_to<>>::iterator
        it;
    if (t == "*") {
      slot = &l->pwc;
    } else if (t == ">") {
      slot = &l->fwc;
    } else {
      it = l->nodes.find(t);
      slot = &it->second;
    }
    if (!(*slot)->empty()) break;
    if (t == "*" || t == ">") {
      slot->reset();
    } else {
      l->nodes.erase(it);
    }
  }
  return true;
}

const std::shared_ptr<const SublistResult>& Sublist::Match(std::string_view subject) {
  ++matches_;
  if (cache_max_ > 0 && memo_genid_ == genid_ && subject == memo_subject_) {
    ++cache_hits_;
    return memo_result_;
  }
  std::shared_ptr<const SublistResult> result;
  if (cache_max_ > 0) {
    auto it = cache_.find(subject);
    if (it != cache_.end() && it->second.genid == genid_) {
      ++cache_hits_;
      result = it->second.result;
    }
  }
  if (!result) {
    result = MatchUncached(subject);
    if (cache_max_ > 0) AddToCache(subject, result);
  }
  memo_subject_.assign(subject);
  memo_result_ = std::move(result);
  memo_genid_ = genid_;
  return memo_result_;
}

std::shared_ptr<const SublistResult> Sublist::MatchUncached(std::string_view subject) const {
  auto result = std::make_shared<SublistResult>();
  std::array<std::string_view, kStackTokens> stack;
  std::vector<std::string_view> heap;
  const std::string_view* toks = nullptr;
  size_t n = SplitForMatch(subject, &stack, &heap, &toks);
  if (n > 0) MatchLevel(root_.get(), toks, n, result.get());
  return result;
}

void Sublist::AddToCache(std::string_view subject, std::shared_ptr<const SublistResult> result) {
  auto it = cache_.find(subject);
  if (it != cache_.end()) {
    it->second = CacheEntry{std::move(result), genid_};
    return;
  }
  if (cache_.size() >= cache_max_) {
    // Sweep: stale generations first, then arbitrary entries down to 3/4 of the limit.
    std::erase_if(cache_, [this](const auto& kv) { return kv.second.genid != genid_; });
    const size_t target = cache_max_ - cache_max_ / 4;
    while (cache_.size() >= target && !cache_.empty()) cache_.erase(cache_.begin());
  }
  cache_.emplace(std::string(subject), CacheEntry{std::move(result), genid_});
}

}  // namespace tandem::server
