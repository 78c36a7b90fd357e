// sublist.cc: the subscription trie and its match cache (see sublist.h for the model).
#include "server/nats/sublist.h"

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

struct Sublist::Step {
  Level* level;
  std::string_view token;
};

bool Sublist::Node::empty() const {
  return psubs.empty() && qsubs.empty() && (!next || next->empty());
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

// Containers emptied by removals give their memory back. A vector is shrunk to its size once it
// uses a quarter of its capacity or less; a level's hash table is rehashed to its size once it
// has kSparseTable times more buckets than entries. A shrink costs O(size), and the next one
// comes only after the size fell by as much again, so removals stay amortized O(1); the large
// factor for tables keeps even the first shrink of a huge one (the level of a million subjects)
// short, at the price of holding up to that many empty buckets meanwhile.
constexpr size_t kMinShrink = 64;
constexpr size_t kSparseTable = 64;

template <typename T>
void ShrinkIfSparse(std::vector<T>* v) {
  if (v->capacity() >= kMinShrink && v->size() <= v->capacity() / 4) v->shrink_to_fit();
}

template <typename Map>
void ShrinkIfSparse(Map* m) {
  if (m->bucket_count() >= kMinShrink && m->size() * kSparseTable <= m->bucket_count()) {
    m->rehash(0);
  }
}

// Removes `sub` from `v` in O(1): the last element takes its index. False when `sub` is not at
// the index it records (it is not in `v`).
bool EraseAtIndex(std::vector<SubscriptionPtr>* v, const SubscriptionPtr& sub) {
  const size_t i = sub->sublist_index;
  if (i >= v->size() || (*v)[i] != sub) return false;
  if (i + 1 != v->size()) {
    (*v)[i] = std::move(v->back());
    (*v)[i]->sublist_index = i;
  }
  v->pop_back();
  ShrinkIfSparse(v);
  return true;
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
  std::array<std::string_view, kStackTokens> stack;
  std::vector<std::string_view> heap;
  const std::string_view* toks = nullptr;
  const size_t n = SplitForMatch(sub->subject, &stack, &heap, &toks);
  if (n == 0) return false;  // an empty token
  for (size_t i = 0; i + 1 < n; ++i) {
    if (toks[i] == ">") return false;
  }
  Level* level = root_.get();
  Node* node = nullptr;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) {
      // A level below a node exists only while something is inserted beneath it.
      if (!node->next) node->next = std::make_unique<Level>();
      level = node->next.get();
    }
    std::unique_ptr<Node>* slot;
    if (toks[i] == "*") {
      slot = &level->pwc;
    } else if (toks[i] == ">") {
      slot = &level->fwc;
    } else {
      auto it = level->nodes.find(toks[i]);
      if (it == level->nodes.end()) it = level->nodes.emplace(std::string(toks[i]), nullptr).first;
      slot = &it->second;
    }
    if (!*slot) *slot = std::make_unique<Node>();
    node = slot->get();
  }
  std::vector<SubscriptionPtr>* members = &node->psubs;
  if (!sub->queue.empty()) {
    auto it = std::find_if(node->qsubs.begin(), node->qsubs.end(),
                           [&](const QueueGroup& g) { return g.name == sub->queue; });
    if (it == node->qsubs.end()) {
      node->qsubs.push_back(QueueGroup{sub->queue, {}});
      it = node->qsubs.end() - 1;
    }
    members = &it->subs;
  }
  sub->sublist_index = members->size();
  members->push_back(std::move(sub));
  ++count_;
  ++genid_;
  return true;
}

bool Sublist::Remove(const SubscriptionPtr& sub) {
  std::array<std::string_view, kStackTokens> stack;
  std::vector<std::string_view> heap;
  const std::string_view* toks = nullptr;
  const size_t n = SplitForMatch(sub->subject, &stack, &heap, &toks);
  if (n == 0) return false;
  // The levels walked and their tokens, so that emptied nodes can be pruned bottom-up.
  std::array<Step, kStackTokens> path_stack;
  std::vector<Step> path_heap;
  Step* path = path_stack.data();
  if (n > kStackTokens) {
    path_heap.resize(n);
    path = path_heap.data();
  }
  Level* level = root_.get();
  Node* node = nullptr;
  for (size_t i = 0; i < n; ++i) {
    if (level == nullptr) return false;
    path[i] = Step{level, toks[i]};
    std::unique_ptr<Node>* slot = ChildSlot(level, toks[i]);
    if (slot == nullptr || !*slot) return false;
    node = slot->get();
    level = node->next.get();
  }
  if (!TakeOut(node, sub)) return false;
  sub->closed = true;
  --count_;
  ++genid_;
  Prune(path, n);
  return true;
}

std::unique_ptr<Sublist::Node>* Sublist::ChildSlot(Level* level, std::string_view token) {
  if (token == "*") return &level->pwc;
  if (token == ">") return &level->fwc;
  auto it = level->nodes.find(token);
  return it == level->nodes.end() ? nullptr : &it->second;
}

bool Sublist::TakeOut(Node* node, const SubscriptionPtr& sub) {
  if (sub->queue.empty()) return EraseAtIndex(&node->psubs, sub);
  auto g = std::find_if(node->qsubs.begin(), node->qsubs.end(),
                        [&](const QueueGroup& q) { return q.name == sub->queue; });
  if (g == node->qsubs.end() || !EraseAtIndex(&g->subs, sub)) return false;
  if (g->subs.empty()) {
    // The order of the groups does not matter: the last one takes the emptied one's place.
    if (g + 1 != node->qsubs.end()) *g = std::move(node->qsubs.back());
    node->qsubs.pop_back();
    ShrinkIfSparse(&node->qsubs);
  }
  return true;
}

void Sublist::Prune(const Step* path, size_t n) {
  for (size_t i = n; i-- > 0;) {
    Level* l = path[i].level;
    const std::string_view t = path[i].token;
    std::unique_ptr<Node>* slot = ChildSlot(l, t);
    Node* node = slot->get();
    if (node->next && node->next->empty()) node->next.reset();
    if (!node->empty()) return;
    if (t == "*" || t == ">") {
      slot->reset();
    } else {
      l->nodes.erase(l->nodes.find(t));
      ShrinkIfSparse(&l->nodes);
    }
  }
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
