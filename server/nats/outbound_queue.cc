// outbound_queue.cc: chunked outbound bytes (see outbound_queue.h) and the per-thread free list
// of chunks.
#include "server/nats/outbound_queue.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <vector>

namespace tandem::server {

namespace {

// Released chunks kept for the next burst; freed for good when the thread ends.
struct FreeList {
  std::vector<char*> chunks;
  ~FreeList() {
    for (char* c : chunks) std::free(c);
  }
};
thread_local FreeList free_list;

char* TakeChunk() {
  if (!free_list.chunks.empty()) {
    char* c = free_list.chunks.back();
    free_list.chunks.pop_back();
    return c;
  }
  char* c = static_cast<char*>(std::malloc(OutboundQueue::kChunkSize));
  if (c == nullptr) throw std::bad_alloc();
  return c;
}

void GiveChunk(char* c) {
  if (free_list.chunks.size() < OutboundQueue::kMaxFreeChunks) {
    free_list.chunks.push_back(c);
  } else {
    std::free(c);
  }
}

}  // namespace

size_t OutboundQueue::FreeChunks() { return free_list.chunks.size(); }

void OutboundQueue::AddChunk() {
  tail_ = TakeChunk();
  chunks_.push_back(tail_);
  tail_used_ = 0;
}

void OutboundQueue::AppendSlow(std::string_view bytes) {
  while (!bytes.empty()) {
    if (tail_used_ == kChunkSize) AddChunk();
    const size_t n = std::min(bytes.size(), kChunkSize - tail_used_);
    std::memcpy(tail_ + tail_used_, bytes.data(), n);
    tail_used_ += n;
    size_ += n;
    bytes.remove_prefix(n);
  }
}

size_t OutboundQueue::Peek(uv_buf_t* bufs, size_t max) const {
  size_t filled = 0;
  size_t offset = head_;
  for (size_t i = 0; i < chunks_.size() && filled < max; ++i) {
    const size_t end = i + 1 == chunks_.size() ? tail_used_ : kChunkSize;
    if (end > offset) bufs[filled++] = uv_buf_init(chunks_[i] + offset, end - offset);
    offset = 0;
  }
  return filled;
}

void OutboundQueue::Consume(size_t n) {
  size_ -= n;
  while (!chunks_.empty()) {
    const size_t end = chunks_.size() == 1 ? tail_used_ : kChunkSize;
    if (head_ + n < end) {
      head_ += n;
      return;
    }
    // This chunk is written out (or, the last one, emptied): release it.
    n -= end - head_;
    head_ = 0;
    GiveChunk(chunks_.front());
    chunks_.pop_front();
  }
  tail_ = nullptr;
  tail_used_ = kChunkSize;
}

}  // namespace tandem::server
