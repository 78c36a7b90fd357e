// tandem_process.h: runs the real tandem binary in integration tests.
//
// TandemProcess starts TANDEM_BIN (set by CMake) with fork/exec in a working directory (its
// own TempDir unless one is given, so `./tandem-data` lands there), with stdin from /dev/null
// and stdout+stderr appended to a log file in that directory. Every wait is bounded by a
// timeout and polls; none of them sleeps longer than a few milliseconds at a time. The
// destructor kills the process with SIGKILL and reaps it, so a failing test never leaks one.
//
// FreePort() and LineClient are the two other things a test needs to talk to the process: a
// port nobody listens on (bind 127.0.0.1:0, read it, close), and a raw TCP connection that
// sends text and reads CRLF-terminated lines, for wire-level checks.
//
// Ownership: a TandemProcess owns its child process (and its TempDir when it made one). It
// borrows a working directory given to its constructor, which must outlive it.
// Thread safety: use each object from one thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/temp_dir.h"

#include <sys/types.h>

namespace tandem::test {

using std::chrono::milliseconds;

// A TCP port on 127.0.0.1 that was free a moment ago, never the same one twice in a process.
int FreePort();

class TandemProcess {
 public:
  // Runs in a fresh TempDir of its own, logging to <dir>/tandem.log.
  TandemProcess();
  // Runs in `work_dir` (several processes may share one, e.g. a pair on one store), logging to
  // <work_dir>/<log_name>.
  TandemProcess(std::string work_dir, std::string log_name);
  ~TandemProcess();
  TandemProcess(const TandemProcess&) = delete;
  TandemProcess& operator=(const TandemProcess&) = delete;

  // Runs `program` instead of the tandem binary (another server of a test, e.g. nats-server:
  // nats_cluster.h). Call before Start.
  void SetProgram(std::string program) { program_ = std::move(program); }
  // Starts `tandem <args...>`. False if a previous start is still running or fork fails (an
  // exec failure shows as exit status 127 and a line in the log).
  bool Start(const std::vector<std::string>& args);

  // Until something accepts a TCP connection on 127.0.0.1:port. False on timeout or if the
  // process exits first.
  bool WaitForPort(int port, milliseconds timeout = milliseconds(10000));
  // Until the log contains `needle`. False on timeout, or if the process has exited and its
  // log does not contain it.
  bool WaitForLog(std::string_view needle, milliseconds timeout = milliseconds(10000));
  // Sends a signal; false if the process is not running.
  bool Signal(int sig);
  // Waits for the process to exit and reaps it: the exit status, or 128+signal for a process
  // killed by a signal; nullopt on timeout (the process keeps running).
  std::optional<int> WaitExit(milliseconds timeout = milliseconds(10000));
  // True while started and not yet reaped (reaps a zombie as a side effect).
  bool Running();

  // Everything the process wrote so far (stdout and stderr interleaved).
  std::string Log() const;
  const std::string& work_dir() const { return work_dir_; }
  const std::string& log_path() const { return log_path_; }
  pid_t pid() const { return pid_; }

  // Convenience: runs `tandem <args...>` to the end and returns its exit status (nullopt if it
  // did not exit in time); the output is then in Log().
  std::optional<int> Run(const std::vector<std::string>& args,
                         milliseconds timeout = milliseconds(10000));

 private:
  bool Reap(bool block);

  std::string program_ = TANDEM_BIN;
  std::unique_ptr<TempDir> own_dir_;  // null when the working directory was given
  std::string work_dir_;
  std::string log_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

// A plain TCP connection to 127.0.0.1:port for wire-level tests: text in, CRLF lines out.
class LineClient {
 public:
  LineClient() = default;
  ~LineClient();
  LineClient(const LineClient&) = delete;
  LineClient& operator=(const LineClient&) = delete;

  // Connects, retrying until `timeout` while the port refuses.
  bool Connect(int port, milliseconds timeout = milliseconds(5000));
  bool Send(std::string_view data);
  // The next line without its "\r\n" (or "\n"); nullopt on timeout or when the peer closed.
  std::optional<std::string> ReadLine(milliseconds timeout = milliseconds(5000));
  // True once the peer closed the connection (reads until EOF or timeout, dropping data).
  bool WaitClosed(milliseconds timeout = milliseconds(5000));
  void Close();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string buf_;
};

}  // namespace tandem::test
