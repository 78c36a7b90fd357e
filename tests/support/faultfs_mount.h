// faultfs_mount.h: runs the faultfs program (tests/faultfs/faultfs.cc) for an integration test:
// a fresh backing directory mounted on a fresh mount point, commands to its control file
// (`powerloss`, `eio-fsync`, `eio-write`, `enospc-write`, `clear`), its counters, and the
// unmount (`fusermount3 -u`, lazily if something still holds the mount) with the program
// reaped, in the destructor too. Every wait is bounded.
//
// Ownership: a FaultFsMount owns its TempDir (backing/, mnt/, faultfs.log) and the faultfs
// process. Thread safety: use it from one thread; Command() may race with a server's I/O, which
// faultfs serializes.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "tests/support/temp_dir.h"

#include <sys/types.h>

namespace tandem::test {

class FaultFsMount {
 public:
  FaultFsMount();
  ~FaultFsMount();
  FaultFsMount(const FaultFsMount&) = delete;
  FaultFsMount& operator=(const FaultFsMount&) = delete;

  // Starts faultfs and waits until the mount answers (its control file exists). False with
  // `error` set (the program's output included) if it exits or the wait times out.
  bool Mount(std::string* error,
             std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  // Writes `command` and a newline to the control file; false if faultfs refused it.
  bool Command(std::string_view command);
  // The control file's `key value` lines; empty if it cannot be read.
  std::map<std::string, uint64_t> Counters() const;
  // Unmounts and reaps faultfs; true when the mount is gone and faultfs exited by itself (or,
  // when a copy of the mount in another namespace kept it waiting, on SIGTERM). Idempotent.
  bool Unmount();

  const std::string& mountpoint() const { return mountpoint_; }
  const std::string& backing() const { return backing_; }
  std::string Log() const { return dir_.ReadFile("faultfs.log"); }

 private:
  TempDir dir_;
  std::string backing_;
  std::string mountpoint_;
  pid_t pid_ = -1;
};

}  // namespace tandem::test
