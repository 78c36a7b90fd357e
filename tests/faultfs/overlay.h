// overlay.h: Overlay, the unsynced state of one file in faultfs: the writes and truncates made
// since the file was last synced, kept in memory over the unchanged backing file.
//
// Model. The backing file holds what a power loss keeps. On top of it the overlay records dirty
// byte ranges (non-overlapping, adjacent ones merged), the file's current size, and the
// "clean limit": the lowest size a truncate cut the file to since the last sync; backing bytes
// at or above it are no longer part of the file. A read of [off, off+n) returns, byte by byte,
// the dirty bytes where a range covers it, else the backing bytes below the clean limit, else
// zeros (a hole made by truncate-then-extend), and stops at the current size.
//
// Flush (the file was synced): the caller cuts the backing file to clean_limit(), writes every
// range of ranges(), sets its size to size(), syncs it and calls MarkFlushed(). Drop (a power
// loss, or a failed sync): Drop() forgets everything unsynced and returns how many dirty bytes
// that was.
//
// Used by faultfs.cc (per backing inode) and by tests/faultfs/overlay_test.cc. It does no I/O:
// backing reads go through a callback, so the logic is tested without a file system.
//
// Ownership: plain value, owns its dirty bytes. Thread safety: none (faultfs is single-threaded).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace tandem::faultfs {

class Overlay {
 public:
  // Reads up to `n` bytes of the backing file at `off` into `out`; returns how many it read
  // (short at the backing file's end), or -1 with errno set.
  using BackingRead = std::function<ssize_t(uint64_t off, size_t n, char* out)>;

  // A file whose backing file holds `backing_size` bytes and nothing unsynced.
  explicit Overlay(uint64_t backing_size = 0);

  void Write(uint64_t off, const char* data, size_t n);
  void Truncate(uint64_t size);
  // Fills `out` with the file's bytes at [off, off+n) as described above; returns how many
  // (short at the current size), or -1 with errno set by `backing`.
  ssize_t Read(uint64_t off, size_t n, char* out, const BackingRead& backing) const;

  uint64_t size() const { return size_; }
  uint64_t clean_limit() const { return clean_limit_; }
  const std::map<uint64_t, std::string>& ranges() const { return ranges_; }
  // True when a flush would change the backing file.
  bool dirty() const {
    return !ranges_.empty() || size_ != backing_size_ || clean_limit_ != backing_size_;
  }
  uint64_t dirty_bytes() const;

  // The backing file now holds size() bytes with every range in it.
  void MarkFlushed();
  // Forgets every unsynced write and truncate; returns the dirty bytes forgotten.
  uint64_t Drop();

 private:
  uint64_t backing_size_;
  uint64_t size_;
  uint64_t clean_limit_;
  std::map<uint64_t, std::string> ranges_;  // offset -> bytes; never overlapping or touching
};

}  // namespace tandem::faultfs
