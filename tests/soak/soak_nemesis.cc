// soak_nemesis.cc: fault injection (see soak_nemesis.h).
#include "tests/soak/soak_nemesis.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "tests/soak/soak_load.h"
#include "tests/soak/soak_members.h"
#include "tests/soak/soak_network.h"
#include "tests/soak/soak_roles.h"

#include <sys/stat.h>
#include <sys/wait.h>

namespace tandem::soak {

const char* FaultName(Fault kind) {
  switch (kind) {
    case Fault::kKill:
      return "kill";
    case Fault::kStop:
      return "stop";
    case Fault::kTerm:
      return "term";
    case Fault::kPartition:
      return "partition";
    case Fault::kDisk:
      return "disk";
  }
  return "?";
}

// ---- FaultFs -----------------------------------------------------------------------------------

FaultFs::FaultFs(std::string bin, std::string backing, std::string mount)
    : bin_(std::move(bin)), backing_(std::move(backing)), mount_(std::move(mount)) {}

FaultFs::~FaultFs() {
  if (mounted_) {
    Control("clear");
    std::system(("umount -l '" + mount_ + "' >/dev/null 2>&1").c_str());
  }
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 500 && waitpid(pid_, nullptr, WNOHANG) == 0; ++i) SleepMs(10);
  if (waitpid(pid_, nullptr, WNOHANG) == 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool FaultFs::Mount(std::string* error) {
  mkdir(backing_.c_str(), 0755);
  mkdir(mount_.c_str(), 0755);
  pid_ = fork();
  if (pid_ == 0) {
    setsid();  // like the members: the soak's job control must not reach the file system
    int fd = open((backing_ + ".log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execl(bin_.c_str(), bin_.c_str(), backing_.c_str(), mount_.c_str(), nullptr);
    _exit(127);
  }
  std::string control = mount_ + "/.faultfs";
  for (int i = 0; i < 1000; ++i) {
    if (access(control.c_str(), W_OK) == 0) return mounted_ = true;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      // A FUSE program may daemonize: its first process exits 0 and the mount stays.
      pid_ = -1;
      if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) break;
    }
    SleepMs(10);
  }
  if (access(control.c_str(), W_OK) == 0) return mounted_ = true;
  *error = "faultfs: " + control + " did not appear within 10 s (" + bin_ + " " + backing_ + " " +
           mount_ + "; its log is " + backing_ + ".log)";
  return false;
}

bool FaultFs::Control(const std::string& command) {
  int fd = open((mount_ + "/.faultfs").c_str(), O_WRONLY);
  if (fd < 0) return false;
  std::string line = command + "\n";
  bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  close(fd);
  return ok;
}

// ---- Nemesis -----------------------------------------------------------------------------------

Nemesis::Nemesis(Members& members, SoakNetwork& net, RoleMonitor& roles, SoakLoad& load,
                 FaultFs* disk, uint64_t seed)
    : members_(members), net_(net), roles_(roles), load_(load), disk_(disk), rng_(seed) {}

int Nemesis::RandomMs(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

Fault Nemesis::Next() {
  if (round_.empty()) {
    for (Fault f : kAllFaults) {
      if (f != Fault::kDisk || disk_ != nullptr) round_.push_back(f);
    }
    std::shuffle(round_.begin(), round_.end(), rng_);
  }
  Fault f = round_.back();
  round_.pop_back();
  return f;
}

bool Nemesis::WaitResumed(FaultResult& r, int timeout_ms) {
  int64_t deadline = NowUs() + int64_t{timeout_ms} * 1000;
  while (load_.Resumed() == 0 && NowUs() < deadline) SleepMs(1);
  int64_t resumed = load_.Resumed();
  load_.Disarm();
  r.resumed = resumed != 0;
  if (r.resumed) r.resume_ms = static_cast<double>(resumed - r.at_us) / 1000.0;
  return r.resumed;
}

FaultResult Nemesis::Inject(Fault kind, int target) {
  FaultResult r;
  r.kind = kind;
  r.target = target;
  r.epoch_before = roles_.Latest(target).epoch;
  // Bounds: a takeover or a resumed active answers within a few hundred ms; 20 s is a hang.
  constexpr int kResumeBoundMs = 20000;
  switch (kind) {
    case Fault::kKill:
    case Fault::kTerm:
      load_.Arm(true);  // the publisher must move to the other member
      r.at_us = NowUs();
      members_.Signal(target, kind == Fault::kKill ? SIGKILL : SIGTERM);
      WaitResumed(r, kResumeBoundMs);
      break;
    case Fault::kStop:
      r.hold_ms = RandomMs(200, 3000);
      r.at_us = NowUs();
      members_.Signal(target, SIGSTOP);
      SleepMs(r.hold_ms);
      load_.Arm(false);  // armed late: only PubAcks sent after SIGCONT count
      members_.Signal(target, SIGCONT);
      WaitResumed(r, kResumeBoundMs);
      break;
    case Fault::kPartition:
      r.hold_ms = RandomMs(500, 5000);
      r.at_us = NowUs();
      load_.Arm(false);
      net_.SetPeerLink(false);
      SleepMs(r.hold_ms);
      net_.SetPeerLink(true);
      WaitResumed(r, kResumeBoundMs);
      break;
    case Fault::kDisk: {
      r.detail = RandomMs(0, 1) == 0 ? "eio-fsync" : "enospc-write";
      int hold_max = RandomMs(200, 3000);
      load_.Arm(true);
      r.at_us = NowUs();
      disk_->Control(r.detail);
      // The error stays until the active gave up (or hold_max passed): a standby opening the
      // store during it would fail the same way, which is not what this fault is about.
      while (members_.Running(target) && NowUs() < r.at_us + int64_t{hold_max} * 1000) {
        SleepMs(1);
      }
      bool failed = !members_.Running(target);
      disk_->Control("clear");
      r.hold_ms = static_cast<int>((NowUs() - r.at_us) / 1000);
      if (!failed) {
        r.detail += " (the active did not fail)";
        load_.Arm(false);
      }
      WaitResumed(r, kResumeBoundMs);
      break;
    }
  }
  // The epoch the active reports now (bounded: the next health wait catches a missing one).
  int64_t deadline = NowUs() + 5'000'000;
  while (NowUs() < deadline) {
    int active = roles_.Active(300);
    if (active >= 0 && roles_.Latest(active).recv_us > r.at_us) {
      r.epoch_after = roles_.Latest(active).epoch;
      break;
    }
    SleepMs(10);
  }
  return r;
}

}  // namespace tandem::soak
