// row_checksum.h: the checksum every stored message row carries (messages.crc, since schema 3).
//
// SQLite checks the structure of its pages, not the bytes of a row: a bit that flips inside a
// message's data on disk reads back without an error. So each row stores a CRC-32C over its
// seq, timestamp and data, written with the append and verified on every read; a mismatch is
// Corruption and the message is never handed out. Rows of stores older than schema 3 have a
// NULL crc and are read unverified.
//
// Ownership: none. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "store/status.h"

namespace tandem::store {

// CRC-32C of the seq and the timestamp (8 bytes each, little-endian) followed by the data.
uint32_t RowChecksum(uint64_t seq, int64_t timestamp_ns, std::string_view data);

// OK when `stored` (the row's crc column) matches the row; Corruption naming `where` (the
// channel) and the seq when it does not.
Status VerifyRowChecksum(std::string_view where, uint64_t seq, int64_t timestamp_ns,
                         std::string_view data, int64_t stored);

// CRC-32C (Castagnoli) of `data`, with the CPU's crc32 instruction when it has one.
uint32_t Crc32c(std::string_view data);
// The same, always with the portable table (tests compare the two).
uint32_t Crc32cPortable(std::string_view data);

}  // namespace tandem::store
