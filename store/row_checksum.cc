// row_checksum.cc: the row checksum of the message tables (see row_checksum.h). zlib's crc32 is
// used rather than a hand-written CRC: it is table-driven and fast, and zlib is on every system.
#include "store/row_checksum.h"

#include <zlib.h>

#include <fmt/format.h>

namespace tandem::store {
namespace {

void PutLe64(unsigned char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}

}  // namespace

uint32_t RowChecksum(uint64_t seq, int64_t timestamp_ns, std::string_view data) {
  unsigned char head[16];
  PutLe64(head, seq);
  PutLe64(head + 8, static_cast<uint64_t>(timestamp_ns));
  uLong crc = crc32(0L, head, sizeof(head));
  // crc32 takes a uInt length: feed large data in pieces.
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  size_t left = data.size();
  while (left > 0) {
    const uInt n = left > (1u << 30) ? (1u << 30) : static_cast<uInt>(left);
    crc = crc32(crc, p, n);
    p += n;
    left -= n;
  }
  return static_cast<uint32_t>(crc);
}

Status VerifyRowChecksum(std::string_view table, uint64_t seq, int64_t timestamp_ns,
                         std::string_view data, int64_t stored) {
  const uint32_t computed = RowChecksum(seq, timestamp_ns, data);
  if (static_cast<uint32_t>(stored) == computed && stored >= 0 && stored <= 0xffffffffLL) {
    return Status::OK();
  }
  return Status::Corruption(
      fmt::format("{} seq {}", table, seq),
      fmt::format("the row does not match its checksum (stored {:08x}, computed {:08x}): the "
                  "message was damaged on disk",
                  static_cast<uint64_t>(stored) & 0xffffffffu, computed));
}

}  // namespace tandem::store
