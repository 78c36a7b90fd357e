// faultfs_mount.cc: FaultFsMount, faultfs for integration tests (see faultfs_mount.h).
#include "tests/support/faultfs_mount.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>

namespace tandem::test {
namespace {

using Clock = std::chrono::steady_clock;

// Reaps `pid` within `timeout`: its exit status (128+signal if killed), or nullopt.
std::optional<int> WaitPid(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0 || Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Starts `argv` (looked up in PATH) with stdout and stderr appended to `log`; its pid, or -1.
// Everything the child needs is prepared before fork: the test process has other threads
// (libnats), so the child may only make system calls until it execs.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Runs `argv` to its end (see Spawn); its exit status, or nullopt if it did not end within
// `timeout` (it is then killed).
std::optional<int> Run(const std::vector<std::string>& argv, const std::string& log,
                       std::chrono::milliseconds timeout) {
  pid_t pid = Spawn(argv, log);
  if (pid < 0) return std::nullopt;
  std::optional<int> rc = WaitPid(pid, timeout);
  if (!rc) {
    kill(pid, SIGKILL);
    WaitPid(pid, std::chrono::milliseconds(5000));
  }
  return rc;
}

// True while `dir` is a mount point other than its parent's file system (or a dead one).
bool IsMountPoint(const std::string& dir, const std::string& parent) {
  struct stat st {};
  struct stat up {};
  if (stat(dir.c_str(), &st) != 0) return true;  // ENOTCONN: a mount whose program died
  return stat(parent.c_str(), &up) != 0 || st.st_dev != up.st_dev;
}

}  // namespace

FaultFsMount::FaultFsMount() : backing_(dir_.Join("backing")), mountpoint_(dir_.Join("mnt")) {
  mkdir(backing_.c_str(), 0755);
  mkdir(mountpoint_.c_str(), 0755);
}

FaultFsMount::~FaultFsMount() { Unmount(); }

bool FaultFsMount::Mount(std::string* error, std::chrono::milliseconds timeout) {
  const std::string log = dir_.Join("faultfs.log");
  pid_ = Spawn({FAULTFS_BIN, backing_, mountpoint_}, log);
  if (pid_ < 0) {
    *error = "fork failed";
    return false;
  }
  const std::string control = mountpoint_ + "/.faultfs";
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    struct stat st {};
    if (stat(control.c_str(), &st) == 0) return true;
    if (std::optional<int> rc = WaitPid(pid_, std::chrono::milliseconds(0))) {
      pid_ = -1;
      *error = "faultfs exited with status " + std::to_string(*rc) + ": " + Log();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  *error = "faultfs did not mount " + mountpoint_ + " in time: " + Log();
  return false;
}

bool FaultFsMount::Command(std::string_view command) {
  int fd = open((mountpoint_ + "/.faultfs").c_str(), O_WRONLY);
  if (fd < 0) return false;
  std::string line(command);
  line += '\n';
  bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  close(fd);
  return ok;
}

std::map<std::string, uint64_t> FaultFsMount::Counters() const {
  std::map<std::string, uint64_t> out;
  std::istringstream in(dir_.ReadFile("mnt/.faultfs"));
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) out[key] = value;
  return out;
}

bool FaultFsMount::Unmount() {
  if (pid_ < 0) return true;
  const std::string log = dir_.Join("faultfs.log");
  const std::chrono::milliseconds step(5000);
  // A process that still has a file open keeps the mount busy: retry a little, then detach it
  // lazily (faultfs exits once the kernel lets go). Success is judged by the mount table.
  bool unmounted = false;
  for (int i = 0; i < 20 && !unmounted; ++i) {
    Run({"fusermount3", "-u", mountpoint_}, log, step);
    unmounted = !IsMountPoint(mountpoint_, dir_.path());
    if (!unmounted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!unmounted) Run({"fusermount3", "-u", "-z", mountpoint_}, log, step);
  std::optional<int> rc = WaitPid(pid_, std::chrono::milliseconds(3000));
  bool stopped = rc == 0;
  if (!rc) {
    // Unmounted here, but a copy of the mount in another mount namespace (a process that
    // unshared its namespace while the mount existed) keeps the FUSE connection open, so
    // faultfs still waits for requests: tell it to stop (it then exits with a status of its own).
    kill(pid_, SIGTERM);
    rc = WaitPid(pid_, std::chrono::milliseconds(10000));
    stopped = rc.has_value() && *rc < 128;
  }
  if (!rc) {
    kill(pid_, SIGKILL);
    rc = WaitPid(pid_, std::chrono::milliseconds(5000));
    Run({"fusermount3", "-u", "-z", mountpoint_}, log, step);
  }
  pid_ = -1;
  if (!stopped) {
    std::ofstream(log, std::ios::app) << "faultfs_mount: faultfs exited with status "
                                      << (rc ? std::to_string(*rc) : "unknown") << "\n";
  }
  return unmounted && stopped;
}

}  // namespace tandem::test
