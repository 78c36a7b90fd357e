// outbound_queue.h: the bytes a client connection has queued for its socket, kept in chunks of
// kChunkSize bytes.
//
// Why chunks and not one growing string: a string doubles its capacity while a burst is queued,
// copies everything at each doubling, and the burst's peak stays with the allocator after the
// bytes are written (a 1 -> 100 fan-out left most of a 270 MiB peak in the heap). Here each
// chunk is handed back as soon as its last byte is written: a connection holds at most its
// queued bytes plus one partly filled chunk, and an idle one holds nothing. A few released
// chunks (kMaxFreeChunks per thread) are kept for the next burst instead of going back to the
// allocator at once.
//
// Writing: Peek fills uv_buf_t entries from the front without copying. Those bytes stay valid
// and in place until Consume drops them, whatever is appended meanwhile (appends only write
// past them or into new chunks), so a pending uv_write may point into the queue.
//
// Thread safety: one thread per queue; the free list is per thread.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstring>
#include <deque>
#include <string_view>

namespace tandem::server {

class OutboundQueue {
 public:
  static constexpr size_t kChunkSize = 64 * 1024;
  static constexpr size_t kMaxFreeChunks = 32;  // per thread: 2 MiB kept for the next burst

  OutboundQueue() = default;
  ~OutboundQueue() { Clear(); }
  OutboundQueue(const OutboundQueue&) = delete;
  OutboundQueue& operator=(const OutboundQueue&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Chunks held (for tests and monitoring of the rule above).
  size_t chunks() const { return chunks_.size(); }

  void Append(std::string_view bytes) {
    if (bytes.size() <= kChunkSize - tail_used_) {  // the common case: fits in the tail chunk
      std::memcpy(tail_ + tail_used_, bytes.data(), bytes.size());
      tail_used_ += bytes.size();
      size_ += bytes.size();
      return;
    }
    AppendSlow(bytes);
  }
  void Append(char c) { Append(std::string_view(&c, 1)); }

  // Fills up to `max` entries with the queued bytes from the front; returns how many it filled.
  size_t Peek(uv_buf_t* bufs, size_t max) const;
  // Drops the first `n` bytes (REQUIRES: n <= size()); chunks emptied by it are released.
  void Consume(size_t n);
  // Drops everything.
  void Clear() { Consume(size_); }

  // Chunks on this thread's free list.
  static size_t FreeChunks();

 private:
  void AppendSlow(std::string_view bytes);
  void AddChunk();

  std::deque<char*> chunks_;
  size_t head_ = 0;  // offset of the first queued byte in chunks_.front()
  // The last chunk and how much of it is used; tail_used_ == kChunkSize without a chunk, so
  // that the inline Append falls through to AppendSlow.
  char* tail_ = nullptr;
  size_t tail_used_ = kChunkSize;
  size_t size_ = 0;
};

}  // namespace tandem::server
