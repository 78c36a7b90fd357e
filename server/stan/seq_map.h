// seq_map.h: SeqMap<V>, an ordered map from message sequence numbers to V, shaped for the
// pending (sent, unacked) set of a streaming subscription.
//
// Deliveries are added in ascending order and acked mostly in the same order, so the entries
// live in one std::deque sorted by seq: adding at the back and removing from the front are O(1)
// with no allocation per entry (std::map allocated and rebalanced a node per delivery, which
// showed up as the largest single cost of a 1 pub + 1 sub load). Lookup is a binary search.
// An entry removed from the middle leaves a dead slot that iteration skips; dead slots at either
// end are dropped at once and the deque is compacted when they outnumber the live entries, so
// memory stays proportional to the live count even when one old message is never acked. The
// deque itself is allocated at the first insert and given back by clear(): an empty map holds
// no heap block (see slots_).
// A slot is the (seq, V) pair plus its live flag, which a V with a spare bit keeps itself
// (KeepsSeqMapLiveBit below; PendingMsg does): 24 bytes per pending delivery instead of 40.
// Inserting below the back (a queue group handing a message to another member) is O(n), rare.
// Lookups are O(1) in the common case: keys are distinct integers in ascending order, so the
// slot of `seq` is never further than seq - front from the front, and exactly there while the
// slots in between hold consecutive sequences (a plain subscription's deliveries); otherwise a
// binary search over that prefix.
//
// The interface is the subset of std::map the delivery code uses: find/end/erase(iterator),
// count, lower_bound, operator[], size/empty, and in-order iteration yielding (seq, V&) pairs.
// Unlike std::map, any erase or insert may invalidate iterators and references to other entries
// (a compaction or an insert below the back moves them): do not hold one across such a call.
// A SeqMap moves but does not copy.
//
// Thread safety: none (loop thread only, like its owner).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <type_traits>
#include <utility>

namespace tandem::server {

// A V with a spare bit keeps the slot's live flag itself (pending_msg.h): a slot is then
// sizeof(pair<const uint64_t, V>), where a separate bool would add a padded word.
template <typename V>
concept KeepsSeqMapLiveBit = requires(V v, const V cv) {
  { cv.seq_map_live() } -> std::same_as<bool>;
  v.set_seq_map_live(true);
};

template <typename V, bool kInValue = KeepsSeqMapLiveBit<V>>
struct SeqMapSlot {
  SeqMapSlot(uint64_t seq, V v) : entry(seq, std::move(v)) {}
  bool live() const { return live_; }
  void set_live(bool live) { live_ = live; }
  std::pair<const uint64_t, V> entry;
  bool live_ = true;
};
template <typename V>
struct SeqMapSlot<V, true> {
  SeqMapSlot(uint64_t seq, V v) : entry(seq, std::move(v)) { set_live(true); }
  bool live() const { return entry.second.seq_map_live(); }
  void set_live(bool live) { entry.second.set_seq_map_live(live); }
  std::pair<const uint64_t, V> entry;
};

template <typename V>
class SeqMap {
  using Slot = SeqMapSlot<V>;
  using Slots = std::deque<Slot>;

 public:
  using value_type = std::pair<const uint64_t, V>;

  template <bool kConst>
  class Iter {
    using SlotIt =
        std::conditional_t<kConst, typename Slots::const_iterator, typename Slots::iterator>;

   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = SeqMap::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = std::conditional_t<kConst, const value_type&, value_type&>;
    using pointer = std::conditional_t<kConst, const value_type*, value_type*>;

    Iter() = default;
    Iter(SlotIt it, SlotIt end) : it_(it), end_(end) { SkipDead(); }
    reference operator*() const { return it_->entry; }
    pointer operator->() const { return &it_->entry; }
    Iter& operator++() {
      ++it_;
      SkipDead();
      return *this;
    }
    Iter operator++(int) {
      Iter old = *this;
      ++*this;
      return old;
    }
    bool operator==(const Iter& o) const { return it_ == o.it_; }
    bool operator!=(const Iter& o) const { return it_ != o.it_; }

   private:
    friend class SeqMap;
    void SkipDead() {
      while (it_ != end_ && !it_->live()) ++it_;
    }
    SlotIt it_{};
    SlotIt end_{};
  };
  using iterator = Iter<false>;
  using const_iterator = Iter<true>;

  size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }

  iterator begin() { return iterator(held().begin(), held().end()); }
  iterator end() { return iterator(held().end(), held().end()); }
  const_iterator begin() const { return const_iterator(held().begin(), held().end()); }
  const_iterator end() const { return const_iterator(held().end(), held().end()); }

  iterator find(uint64_t seq) {
    auto it = Position(seq);
    if (it == held().end() || it->entry.first != seq || !it->live()) return end();
    return iterator(it, held().end());
  }
  // The first entry whose seq is not below `seq` (O(1) like find in the common case).
  iterator lower_bound(uint64_t seq) { return iterator(Position(seq), held().end()); }
  size_t count(uint64_t seq) const {
    auto it = Position(seq);
    return it != held().end() && it->entry.first == seq && it->live() ? 1 : 0;
  }

  // The entry for seq, default-constructed when absent.
  V& operator[](uint64_t seq) {
    if (held().empty() || held().back().entry.first < seq) {  // the common case: a new delivery
      Slots& slots = Grow();
      slots.emplace_back(seq, V{});
      ++live_;
      return slots.back().entry.second;
    }
    auto it = Position(seq);
    if (it != held().end() && it->entry.first == seq) {
      if (!it->live()) {
        it->entry.second = V{};
        it->set_live(true);
        ++live_;
      }
      return it->entry.second;
    }
    // Below the back and absent: rebuild with the new entry in place (keys are const, so the
    // deque cannot shift entries by assignment). Rare, and O(n) like any sorted insert.
    const size_t placed = Rebuild(static_cast<size_t>(it - held().begin()), seq);
    ++live_;
    return held()[placed].entry.second;
  }

  void erase(iterator pos) {
    pos.it_->set_live(false);
    --live_;
    while (!held().empty() && !held().front().live()) held().pop_front();
    while (!held().empty() && !held().back().live()) held().pop_back();
    if (held().size() > 64 && held().size() > 2 * live_) Compact();
  }
  size_t erase(uint64_t seq) {
    iterator it = find(seq);
    if (it == end()) return 0;
    erase(it);
    return 1;
  }
  void clear() {
    slots_.reset();  // gives the block back
    live_ = 0;
  }

  // Slots held, live or dead, and whether the deque is allocated (for tests of the memory
  // bound).
  size_t slot_count() const { return held().size(); }
  bool allocated() const { return slots_ != nullptr; }

 private:
  // The first slot whose key is not below `seq` (see the top: O(1) when the keys up to it
  // are consecutive).
  typename Slots::iterator Position(uint64_t seq) { return held().begin() + Index(seq); }
  typename Slots::const_iterator Position(uint64_t seq) const {
    return held().begin() + Index(seq);
  }
  size_t Index(uint64_t seq) const {
    if (held().empty() || seq <= held().front().entry.first) return 0;
    // Keys are distinct and ascending: the key at index i is at least front + i, so nothing
    // past index `d` can be below `seq`.
    const uint64_t d = seq - held().front().entry.first;
    if (d < held().size() && held()[d].entry.first == seq) return static_cast<size_t>(d);
    const size_t bound = static_cast<size_t>(std::min<uint64_t>(d, held().size()));
    auto it = std::lower_bound(held().begin(), held().begin() + bound, seq,
                               [](const Slot& s, uint64_t v) { return s.entry.first < v; });
    return static_cast<size_t>(it - held().begin());
  }
  // Copies the live slots into a fresh deque, inserting a new entry for `seq` before the slot
  // at `insert_at` when that is a valid index of the old deque (or its size). Returns the new
  // entry's index in the rebuilt deque.
  size_t Rebuild(size_t insert_at, uint64_t seq) {
    Slots kept;
    size_t placed = SIZE_MAX;
    for (size_t i = 0; i <= held().size(); ++i) {
      if (i == insert_at) {
        placed = kept.size();
        kept.emplace_back(seq, V{});
      }
      if (i == held().size()) break;
      Slot& s = held()[i];
      if (s.live()) kept.emplace_back(s.entry.first, std::move(s.entry.second));
    }
    Grow().swap(kept);
    return placed;
  }
  void Compact() { Rebuild(SIZE_MAX, 0); }

  // The slots, allocated at the first insert: in libstdc++ a std::deque holds a heap block
  // (about 600 bytes) from its construction on, and the server holds one SeqMap per
  // subscription (10,000 recovered durables paid 6 MB for empty ones). Until then reads see
  // one shared empty deque, which nothing ever inserts into (every insert goes through Grow).
  Slots& held() { return slots_ ? *slots_ : Empty(); }
  const Slots& held() const { return slots_ ? *slots_ : Empty(); }
  Slots& Grow() {
    if (!slots_) slots_ = std::make_unique<Slots>();
    return *slots_;
  }
  static Slots& Empty() {
    static Slots empty;
    return empty;
  }

  std::unique_ptr<Slots> slots_;
  size_t live_ = 0;
};

}  // namespace tandem::server
