// fault_control.h: FaultControl, what faultfs's control file (MOUNTPOINT/.faultfs) sets and
// reports: the faults armed for the next writes and syncs, and the counters.
//
// Commands, one per line written to the control file:
//   powerloss      every unsynced write of every file is forgotten (faultfs does the dropping)
//   eio-fsync      the next fsync fails with EIO, and drops that file's unsynced data (what
//                  Linux does to the dirty pages of a failed writeback); like Linux, faultfs
//                  then reports EIO once to every other handle that had the file open too
//   eio-write      the next write fails with EIO
//   enospc-write   every write fails with ENOSPC until `clear`
//   clear          no fault armed
// Reading the control file gives the counters, one `key value` line each (Report()).
//
// Used by faultfs.cc; tests/faultfs/fault_control_test.cc tests the parsing and the one-shot
// and sticky faults. Ownership: plain value. Thread safety: none (faultfs is single-threaded).
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::faultfs {

struct Counters {
  uint64_t writes = 0;       // data writes to files (failed ones included)
  uint64_t write_bytes = 0;  // bytes of the successful ones
  uint64_t syncs = 0;        // fsync/fdatasync calls (failed ones included)
  uint64_t powerlosses = 0;
  uint64_t dropped_bytes = 0;  // unsynced bytes forgotten by power losses and failed syncs
  uint64_t injected = 0;       // operations failed on purpose
};

class FaultControl {
 public:
  enum class Command { kNone, kPowerLoss };

  // Applies every line of `text` (a write to the control file). Returns false with `error` set
  // at the first unknown line; lines before it are applied. `*power_losses` counts the
  // `powerloss` lines, which the caller carries out.
  bool Apply(std::string_view text, int* power_losses, std::string* error);

  // Called before each data write / sync: 0 to go ahead, or the errno to fail it with (the
  // one-shot faults disarm themselves here).
  int BeforeWrite();
  int BeforeSync();

  Counters& counters() { return counters_; }
  // The counters and the armed faults as `key value` lines.
  std::string Report() const;

 private:
  bool eio_fsync_ = false;
  bool eio_write_ = false;
  bool enospc_write_ = false;
  Counters counters_;
};

}  // namespace tandem::faultfs
