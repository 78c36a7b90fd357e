// overlay.cc: Overlay, the unsynced writes of one faultfs file (see overlay.h).
#include "tests/faultfs/overlay.h"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace tandem::faultfs {

Overlay::Overlay(uint64_t backing_size)
    : backing_size_(backing_size), size_(backing_size), clean_limit_(backing_size) {}

void Overlay::Write(uint64_t off, const char* data, size_t n) {
  if (n == 0) return;
  const uint64_t end = off + n;
  size_ = std::max(size_, end);
  // The ranges that overlap or touch [off, end): from the last one starting at or before off
  // (if it reaches off) through the last one starting at or before end.
  auto first = ranges_.upper_bound(off);
  if (first != ranges_.begin()) {
    auto prev = std::prev(first);
    if (prev->first + prev->second.size() >= off) first = prev;
  }
  auto last = ranges_.upper_bound(end);  // one past the last affected range
  if (first == last) {
    ranges_.emplace(off, std::string(data, n));
    return;
  }
  // One affected range that starts at or before off: overwrite or extend it in place, so that
  // appends (a log growing) cost no copy of what is there.
  if (std::next(first) == last && first->first <= off) {
    std::string& bytes = first->second;
    const size_t at = off - first->first;
    if (bytes.size() < at + n) bytes.resize(at + n);
    std::memcpy(bytes.data() + at, data, n);
    return;
  }
  const uint64_t start = std::min(off, first->first);
  auto before_last = std::prev(last);
  const uint64_t stop = std::max(end, before_last->first + before_last->second.size());
  std::string merged(stop - start, '\0');
  for (auto it = first; it != last; ++it) {
    std::memcpy(merged.data() + (it->first - start), it->second.data(), it->second.size());
  }
  std::memcpy(merged.data() + (off - start), data, n);
  ranges_.erase(first, last);
  ranges_.emplace(start, std::move(merged));
}

void Overlay::Truncate(uint64_t size) {
  if (size < size_) {
    // Ranges at or beyond the cut go, the one across it is shortened.
    auto it = ranges_.lower_bound(size);
    if (it != ranges_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second.size() > size) prev->second.resize(size - prev->first);
    }
    ranges_.erase(it, ranges_.end());
    clean_limit_ = std::min(clean_limit_, size);
  }
  size_ = size;
}

ssize_t Overlay::Read(uint64_t off, size_t n, char* out, const BackingRead& backing) const {
  if (off >= size_) return 0;
  n = static_cast<size_t>(std::min<uint64_t>(n, size_ - off));
  const uint64_t end = off + n;
  // Walk [off, end) in pieces: a dirty range, or the clean gap up to the next range.
  auto next = ranges_.upper_bound(off);
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.size() > off) next = prev;
  }
  uint64_t pos = off;
  while (pos < end) {
    char* dst = out + (pos - off);
    if (next != ranges_.end() && next->first <= pos) {
      const uint64_t range_end = next->first + next->second.size();
      const uint64_t piece = std::min(end, range_end) - pos;
      std::memcpy(dst, next->second.data() + (pos - next->first), piece);
      pos += piece;
      ++next;
      continue;
    }
    const uint64_t gap_end = next == ranges_.end() ? end : std::min(end, next->first);
    // Backing bytes below the clean limit; zeros above it (or past the backing file's end).
    const uint64_t clean_end = std::clamp(clean_limit_, pos, gap_end);
    uint64_t got = 0;
    while (pos + got < clean_end) {
      ssize_t r = backing(pos + got, clean_end - pos - got, dst + got);
      if (r < 0) return -1;
      if (r == 0) break;
      got += static_cast<uint64_t>(r);
    }
    std::memset(dst + got, 0, gap_end - pos - got);
    pos = gap_end;
  }
  return static_cast<ssize_t>(n);
}

uint64_t Overlay::dirty_bytes() const {
  uint64_t total = 0;
  for (const auto& [off, bytes] : ranges_) total += bytes.size();
  return total;
}

void Overlay::MarkFlushed() {
  ranges_.clear();
  backing_size_ = clean_limit_ = size_;
}

uint64_t Overlay::Drop() {
  const uint64_t dropped = dirty_bytes();
  ranges_.clear();
  size_ = clean_limit_ = backing_size_;
  return dropped;
}

}  // namespace tandem::faultfs
