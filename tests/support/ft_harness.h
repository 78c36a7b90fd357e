// ft_harness.h: what the fault-tolerance integration tests share: members of a group started
// from a YAML config on one store, waits for their role, the usual pair (active "a", standby
// "b" on one port), and a verifying streaming load (numbered messages published asynchronously;
// a durable subscriber and a durable queue group of two members, all with manual acks) that
// tells which acknowledged messages were lost, with bounded waits for it to make progress.
//
// Ownership: FtMember owns its TandemProcess; FtPair owns its TempDir and both members;
// StanLoad owns its libnats connections and its publisher thread (Stop() joins it). Thread safety: StanLoad's counters are guarded by its
// mutex (libnats calls back on its own threads); everything else on the test's main thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

struct __stanConnection;
struct __stanSubscription;

namespace tandem::test {

// Log lines that tell a member's role (written by ft/failover.cc).
inline constexpr const char* kActiveLine = "role activating -> active";
inline constexpr const char* kStandbyLine = "standing by";

struct FtMemberOptions {
  std::string name;
  std::string listen;               // "127.0.0.1:port"
  std::vector<std::string> peers;   // "127.0.0.1:port"
  std::string store_dir;            // absolute
  std::string cluster_id = "ft-test";
  std::string group = "g";
  int heartbeat_ms = 50;
  int missed = 3;
  std::vector<std::string> extra_args;  // appended to `serve -c <config>`
  std::string ft_yaml;     // more lines of the `ft:` section ("  user: pair\n")
  std::string extra_yaml;  // more top-level sections ("authorization: {token: t}\n")
};

// One member: writes <dir>/<name>.yaml and runs `tandem serve -c` it, logging to <dir>/<name>.log.
class FtMember {
 public:
  FtMember(const std::string& dir, FtMemberOptions options);
  bool Start();
  bool WaitActive(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  bool WaitStandby(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  bool IsActive() const;  // its log says it became active
  TandemProcess& process() { return *process_; }
  const std::string& name() const { return options_.name; }

 private:
  FtMemberOptions options_;
  std::string config_path_;
  std::string dir_;
  std::unique_ptr<TandemProcess> process_;
  size_t starts_ = 0;
};

// Options of member `name` listening on 127.0.0.1:`port`, with the store in <dir>/store; its
// peers are `peers`, or its own address when none are given.
FtMemberOptions MemberOptions(const TempDir& dir, const std::string& name, int port,
                              std::vector<std::string> peers = {});

inline FtMemberOptions WithYaml(FtMemberOptions o, const std::string& extra_yaml) {
  o.extra_yaml = extra_yaml;
  return o;
}

// Members "a" and "b" of one group on one store in a temporary directory, both on the same free
// port (only the active binds it). Usable as a doctest fixture.
struct FtPair {
  // `extra_yaml`: more top-level sections of both members' configuration.
  explicit FtPair(const std::string& extra_yaml = "")
      : a(dir.path(), WithYaml(MemberOptions(dir, "a", port), extra_yaml)),
        b(dir.path(), WithYaml(MemberOptions(dir, "b", port), extra_yaml)) {}

  TempDir dir;
  int port = FreePort();
  FtMember a;
  FtMember b;

  // Starts a and waits until it is active, then b until it stands by; false at the first step
  // that fails.
  bool StartActiveThenStandby() {
    return a.Start() && a.WaitActive() && b.Start() && b.WaitStandby();
  }
};

// Counts for one message number.
struct MsgTrace {
  uint8_t ack = 0;        // 0 pending, 1 acknowledged, 2 error or timeout
  uint16_t durable = 0;   // deliveries to the durable subscriber
  uint16_t queue = 0;     // deliveries to the queue group
};

struct LoadReport {
  uint64_t published = 0, acked = 0, lost = 0, duplicates = 0, unacked = 0;
  std::string first_lost;  // a few lost numbers, for the failure message
};

// TLS for a StanLoad's connections: trust `ca`, expect "localhost", present cert/key when
// given. Empty ca: plain TCP.
struct StanLoadTls {
  std::string ca, cert, key;
};

class StanLoad {
 public:
  // `url` like "nats://127.0.0.1:4222", or several separated by commas; `rate` messages per
  // second. Credentials go in the URL ("nats://user:pw@127.0.0.1:4222").
  StanLoad(std::string url, std::string cluster_id, std::string channel, int rate,
           StanLoadTls tls = {});
  ~StanLoad();
  StanLoad(const StanLoad&) = delete;
  StanLoad& operator=(const StanLoad&) = delete;

  // Connects the three clients, subscribes, starts publishing. False with `error` set.
  bool Start(std::string* error);
  // Stops publishing (joins the thread).
  void StopPublishing();
  // Waits (bounded) for every ack to resolve and every acknowledged message to be delivered
  // to both the durable and the queue group, then reports.
  LoadReport Settle(std::chrono::milliseconds timeout = std::chrono::milliseconds(20000));
  // Acks received so far (any outcome); a takeover shows as this growing again.
  uint64_t acked() const { return acked_.load(); }
  uint64_t delivered() const { return delivered_.load(); }
  // Wall time of the latest successful ack, on the steady clock.
  int64_t last_ack_us() const { return last_ack_us_.load(); }
  // Call just before a fault: from then on, first_ack_after_fault_us() is the time of the first
  // successful ack of a message published after this call (so acknowledged by whoever serves
  // after the fault, never a PubAck of the old active still in transit); 0 until there is one.
  void MarkFault();
  int64_t first_ack_after_fault_us() const { return first_after_fault_us_.load(); }

  // libnats callbacks (public for the C trampolines).
  void OnAck(size_t n, bool ok);
  void OnDelivery(size_t n, bool durable);

 private:
  void Publish();
  bool Complete();

  const std::string url_, cluster_id_, channel_;
  const int rate_;
  const StanLoadTls tls_;
  __stanConnection* pub_ = nullptr;
  __stanConnection* sub_conn_ = nullptr;
  __stanConnection* q_conn_ = nullptr;
  __stanSubscription* durable_ = nullptr;
  __stanSubscription* q1_ = nullptr;
  __stanSubscription* q2_ = nullptr;
  std::thread publisher_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> acked_{0};
  std::atomic<uint64_t> delivered_{0};
  std::atomic<int64_t> last_ack_us_{0};
  std::atomic<uint64_t> fault_floor_{UINT64_MAX};  // first message number after MarkFault
  std::atomic<int64_t> first_after_fault_us_{0};
  mutable std::mutex mu_;
  std::vector<MsgTrace> trace_;  // guarded by mu_, by message number
};

int64_t SteadyNowUs();

// Waits (at most `timeout`) until `load` has acknowledged `more` messages beyond what it had.
bool AcksGrow(const StanLoad& load, uint64_t more, std::chrono::milliseconds timeout);
// Waits (at most `timeout`) until `load` has had `more` deliveries beyond what it had.
bool DeliveriesGrow(const StanLoad& load, uint64_t more, std::chrono::milliseconds timeout);

}  // namespace tandem::test
