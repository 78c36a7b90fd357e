// status_command.h: `tandem status`, one screen about a running pair for an operator.
//
// For each monitoring address it GETs /streaming/serverz (HTTP/1.1, or HTTPS for an
// `https://HOST:PORT` address, every step bounded by the timeout: status_http.h), and from the
// instance that reports itself active it also reads /streaming/channelsz?subs=1 and
// /streaming/clientsz. It prints each instance's state, role, epoch, uptime and standbys, then the
// active's channels (messages, bytes, sequences, subscriptions, pending) and clients. The exit
// status is 0 when an active instance was found and 1 otherwise, so scripts can test it.
//
// Called by main.cc; reaches the network only through HttpGet. No uv loop, no threads.
// Ownership: plain values. Thread safety: none needed (the CLI's main thread).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/monitor/status_http.h"
#include "store/status.h"

namespace tandem::server {

struct StatusOptions {
  // Each instance: "HOST:PORT", "http://HOST:PORT" or "https://HOST:PORT".
  std::vector<std::string> http = {"127.0.0.1:8222"};
  int timeout_ms = 2000;  // per instance and request
  std::string cacert;     // --cacert: the CA of https:// servers; empty: the system's CAs
};

// What one instance answered.
struct InstanceReport {
  std::string address;
  std::string error;         // empty when serverz answered with valid JSON
  nlohmann::json serverz;    // object when reachable
  nlohmann::json channelsz;  // filled for the active only
  nlohmann::json clientsz;   // filled for the active only
};

// True when the report is of an instance that serves (FT_ACTIVE or STANDALONE).
bool IsActive(const InstanceReport& report);

// Asks every instance (serverz first, channels and clients from the active).
std::vector<InstanceReport> CollectStatus(const StatusOptions& options);

// The screen printed by `tandem status`.
std::string FormatStatus(const std::vector<InstanceReport>& reports);

// Collects, prints to `out`, returns the exit status (0: an active was found, 1: none).
int RunStatus(const StatusOptions& options, std::FILE* out);

}  // namespace tandem::server
