// store_files.h: what the store health tests share: a store written by the real binary (N
// messages on one channel, payloads that can be found in the file), byte-level file surgery
// (read, write, flip, truncate, locate a payload), bounded polls of /healthz and /metrics, and
// checks on a process log (the error lines, repeated lines).
//
// Ownership: plain functions over paths; GoodStore owns its TempDir. Thread safety: test thread.
#pragma once

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "server/monitor/status_command.h"
#include "tests/integration/stan/stan_fixture.h"

#include <sys/stat.h>

namespace tandem::test {

// The payload of message `i` (1-based) of a test store: unique, fixed size, easy to find.
inline std::string PayloadOf(int i) {
  char head[32];
  std::snprintf(head, sizeof(head), "payload-%05d-", i);
  std::string p(head);
  p.resize(128, 'x');
  return p;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// A store directory holding `msgs` messages on channel "orders", written by the real binary
// (sync normal, so writing it is quick) and closed with SIGTERM, so it has no WAL.
class GoodStore {
 public:
  explicit GoodStore(int msgs) {
    StanServerProc srv;
    REQUIRE(srv.Start("store: {sync: normal}\n"));
    {
      StanConn sc;
      REQUIRE(sc.Connect(srv.url(), "writer") == NATS_OK);
      for (int i = 1; i <= msgs; ++i) REQUIRE(sc.Publish("orders", PayloadOf(i)) == NATS_OK);
      sc.Close();
    }
    REQUIRE(srv.Term() == 0);
    bytes_ = ReadBytes(srv.dir() + "/data/store.db");
    REQUIRE(bytes_.size() > 4096);
    REQUIRE(::access((srv.dir() + "/data/store.db-wal").c_str(), F_OK) != 0);
  }
  const std::string& bytes() const { return bytes_; }
  // Writes the store into <dir>/data/store.db (creating <dir>/data).
  void CopyTo(const std::string& dir, const std::string& bytes) const {
    ::mkdir((dir + "/data").c_str(), 0755);
    WriteBytes(dir + "/data/store.db", bytes);
  }

 private:
  std::string bytes_;
};

inline std::optional<server::HttpReply> TryGet(int port, const std::string& path) {
  Result<server::HttpReply> r = server::HttpGet("127.0.0.1", port, path, 2000);
  if (!r.ok()) return std::nullopt;
  return std::move(r).value();
}

// Lines of a log at level error or critical (the pattern is "<time> <level> <message>").
inline std::vector<std::string> ErrorLines(const std::string& log) {
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(" error ") != std::string::npos || line.find(" critical ") != std::string::npos)
      out.push_back(line);
  }
  return out;
}

// The most times one log message (the line without its time stamp) occurs.
inline int MaxRepeat(const std::string& log) {
  std::map<std::string, int> seen;
  int most = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    size_t sp = line.find(' ');
    std::string msg = sp == std::string::npos ? line : line.substr(sp + 1);
    most = std::max(most, ++seen[msg]);
  }
  return most;
}

inline size_t CountOf(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

}  // namespace tandem::test
