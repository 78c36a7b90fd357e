// soak_nemesis.h: the faults the soak injects into the active, and how long the clients were
// without service after each. Kinds:
//
//   kill       SIGKILL of the active; the standby must take over
//   stop       SIGSTOP of the active for a random 0.2-3 s, then SIGCONT; it keeps its lock, so
//              nobody may take over and the clients carry on with it
//   term       SIGTERM of the active: a clean handover to the standby
//   partition  the peer link between the members down for a random 0.5-5 s; the active keeps
//              its lock and its clients, the standby must not take over
//   disk       a disk error under the store: the active's next commit fails, it stops without
//              acknowledging anything more and the standby takes over once the error clears.
//              Needs the faultfs file system (`faultfs BACKING MOUNT`, controlled by writing
//              `eio-fsync`, `enospc-write` or `clear` to MOUNT/.faultfs); off without it.
//
// Kinds are drawn in seeded random order, each enabled kind once per round, so a short run
// covers all of them and a seed replays the same sequence of kinds and durations.
//
// Ownership: Nemesis borrows everything it acts on; FaultFs owns its file system process and
// unmounts it in its destructor. Thread safety: use from one thread.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <sys/types.h>

namespace tandem::soak {

class Members;
class RoleMonitor;
class SoakLoad;
class SoakNetwork;

enum class Fault { kKill, kStop, kTerm, kPartition, kDisk };
inline constexpr Fault kAllFaults[] = {Fault::kKill, Fault::kStop, Fault::kTerm, Fault::kPartition,
                                       Fault::kDisk};
const char* FaultName(Fault kind);

struct FaultResult {
  Fault kind = Fault::kKill;
  int target = 0;
  int64_t at_us = 0;
  int hold_ms = 0;       // stop and partition: how long; disk: until cleared
  std::string detail;    // disk: which error
  bool resumed = false;  // a PubAck came within the bound
  double resume_ms = 0;  // fault -> first PubAck from the active after it
  uint64_t epoch_before = 0, epoch_after = 0;
};

// The FUSE fault file system: mounted over a backing directory for the run.
class FaultFs {
 public:
  FaultFs(std::string bin, std::string backing, std::string mount);
  ~FaultFs();
  FaultFs(const FaultFs&) = delete;
  FaultFs& operator=(const FaultFs&) = delete;
  // Runs `bin backing mount` and waits (10 s at most) for mount/.faultfs.
  bool Mount(std::string* error);
  // Writes `command` and a newline to the control file, as `echo command > .faultfs` would.
  bool Control(const std::string& command);
  const std::string& mount() const { return mount_; }

 private:
  const std::string bin_, backing_, mount_;
  pid_t pid_ = -1;        // -1 also when the program daemonized after mounting
  bool mounted_ = false;  // the control file appeared: unmount at the end
};

class Nemesis {
 public:
  // `disk` may be null: the disk kind is then off.
  Nemesis(Members& members, SoakNetwork& net, RoleMonitor& roles, SoakLoad& load, FaultFs* disk,
          uint64_t seed);
  Fault Next();
  // Injects `kind` into member `target` (the active) and waits (bounded) for service to resume.
  FaultResult Inject(Fault kind, int target);
  // Milliseconds in [lo, hi] from the seeded generator.
  int RandomMs(int lo, int hi);

 private:
  bool WaitResumed(FaultResult& r, int timeout_ms);

  Members& members_;
  SoakNetwork& net_;
  RoleMonitor& roles_;
  SoakLoad& load_;
  FaultFs* disk_;
  std::mt19937_64 rng_;
  std::vector<Fault> round_;  // kinds left in this round
};

}  // namespace tandem::soak
