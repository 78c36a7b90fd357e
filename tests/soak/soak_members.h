// soak_members.h: the two tandem processes of the soak and their supervisor. Each member runs
// `tandem serve -c <config>` inside its network namespace (`ip netns exec` execs tandem, so the
// pid is tandem's own and signals reach it directly), appending stdout and stderr to its log.
// Each runs in a session of its own. Like systemd with Restart=always, the supervisor restarts a
// member that exited or was killed, after a short delay, and records every exit with its status.
//
// Ownership: Members owns the child processes and the supervisor thread; StopAll() (also run
// by the destructor) ends both. Thread safety: every method may be called from any thread;
// the pids are guarded by one mutex, so a signal never reaches a pid that was already reaped.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace tandem::soak {

struct MemberSpec {
  std::string name;
  std::string ns;
  std::string config_path;
  std::string log_path;
};

struct ExitRecord {
  int member = 0;
  int status = 0;  // exit code, or 128 + signal
  int64_t at_us = 0;
};

class Members {
 public:
  Members(std::string tandem_bin, std::vector<MemberSpec> specs, int restart_delay_ms);
  ~Members();
  Members(const Members&) = delete;
  Members& operator=(const Members&) = delete;

  // Starts member m now; false when fork fails or it is already running.
  bool Start(int m);
  // Starts the supervisor thread, which restarts exited members.
  void Supervise();
  // Sends `sig` to member m if it runs; false otherwise.
  bool Signal(int m, int sig);
  bool Running(int m);
  // Stops supervising, sends SIGTERM (SIGCONT first, in case one is stopped), waits up to
  // 10 s, then SIGKILL.
  void StopAll();

  std::vector<ExitRecord> exits() const;
  int starts(int m) const;
  const MemberSpec& spec(int m) const { return specs_[static_cast<size_t>(m)]; }

 private:
  bool StartLocked(int m);
  void ReapLocked(int m, bool block);
  void Loop();

  const std::string tandem_bin_;
  const std::vector<MemberSpec> specs_;
  const int restart_delay_ms_;
  mutable std::mutex mu_;
  std::vector<pid_t> pid_;           // guarded by mu_; -1 when not running
  std::vector<int64_t> restart_at_;  // guarded by mu_; when to restart an exited member
  std::vector<int> starts_;          // guarded by mu_
  std::vector<ExitRecord> exits_;    // guarded by mu_
  std::atomic<bool> supervising_{false};
  std::thread thread_;
};

int64_t NowUs();
void SleepMs(int64_t ms);

}  // namespace tandem::soak
