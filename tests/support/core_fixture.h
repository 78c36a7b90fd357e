// core_fixture.h: what the NATS core integration tests share: a running tandem on a free
// loopback port (optionally with a `nats:` YAML section), RAII owners for libnats objects, and
// the usual first steps: a server with one client (a doctest fixture), connecting several
// clients, a synchronous subscription that the server already knows of.
//
// Ownership: CoreServer owns its TandemProcess (killed in its destructor); CoreClientFixture owns
// its server and connection; the Nats* holders destroy their libnats object. Thread safety: one
// thread per object.
#pragma once

#include <chrono>
#include <initializer_list>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nats/nats.h>

#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wire_client.h"

namespace tandem::test {

class CoreServer {
 public:
  // Starts `tandem serve` on 127.0.0.1:<free port>; `nats_yaml` holds lines of the `nats:`
  // section ("  ping_interval: 100ms\n"), empty for the defaults.
  bool Start(const std::string& nats_yaml = "") {
    port_ = FreePort();
    std::vector<std::string> args{"serve", "--listen", "127.0.0.1:" + std::to_string(port_),
                                  "--store", "data"};
    if (!nats_yaml.empty()) {
      args.push_back("--config");
      args.push_back(dir_.WriteFile("core.yaml", "nats:\n" + nats_yaml));
    }
    return proc_.Start(args) && proc_.WaitForPort(port_);
  }
  int port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  TandemProcess& process() { return proc_; }

 private:
  TempDir dir_;
  TandemProcess proc_{dir_.path(), "tandem.log"};
  int port_ = 0;
};

struct NatsConn {
  natsConnection* nc = nullptr;
  NatsConn() = default;
  NatsConn(const NatsConn&) = delete;
  NatsConn& operator=(const NatsConn&) = delete;
  ~NatsConn() {
    if (nc != nullptr) natsConnection_Destroy(nc);
  }
  natsStatus Connect(const std::string& url, bool no_echo = false, bool send_asap = false) {
    natsOptions* o = nullptr;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK) s = natsOptions_SetURL(o, url.c_str());
    if (s == NATS_OK) s = natsOptions_SetNoEcho(o, no_echo);
    if (s == NATS_OK) s = natsOptions_SetSendAsap(o, send_asap);
    if (s == NATS_OK) s = natsOptions_SetTimeout(o, 5000);
    if (s == NATS_OK) s = natsConnection_Connect(&nc, o);
    natsOptions_Destroy(o);
    return s;
  }
  operator natsConnection*() const { return nc; }  // NOLINT: implicit by design
};

struct NatsSub {
  natsSubscription* sub = nullptr;
  NatsSub() = default;
  NatsSub(const NatsSub&) = delete;
  NatsSub& operator=(const NatsSub&) = delete;
  ~NatsSub() {
    if (sub != nullptr) natsSubscription_Destroy(sub);
  }
  operator natsSubscription*() const { return sub; }  // NOLINT: implicit by design
};

// Subscribes `sub` to `subject` on `nc` (synchronous, for NextMsg) and flushes, so that the
// server has the subscription before anything is published.
inline natsStatus SubscribeSyncFlushed(NatsSub& sub, natsConnection* nc, const char* subject) {
  natsStatus s = natsConnection_SubscribeSync(&sub.sub, nc, subject);
  return s == NATS_OK ? natsConnection_Flush(nc) : s;
}

// A server and one libnats connection `c` to it, as a doctest fixture.
struct CoreClientFixture {
  CoreServer srv;
  NatsConn c;

  // Starts the server with the default config and connects `c` to it.
  void StartAndConnect() {
    REQUIRE(srv.Start());
    REQUIRE(c.Connect(srv.url()) == NATS_OK);
  }
};

// Connects each of `conns` to `srv` with the default options; the first error, or NATS_OK.
inline natsStatus ConnectAll(const CoreServer& srv, std::initializer_list<NatsConn*> conns) {
  for (NatsConn* c : conns) {
    natsStatus s = c->Connect(srv.url());
    if (s != NATS_OK) return s;
  }
  return NATS_OK;
}

// Handshakes each of `clients` with `srv` (WireClient::Handshake defaults); false at the first
// that fails.
inline bool HandshakeAll(const CoreServer& srv, std::initializer_list<WireClient*> clients) {
  for (WireClient* c : clients) {
    if (!c->Handshake(srv.port())) return false;
  }
  return true;
}

struct NatsMsg {
  natsMsg* msg = nullptr;
  NatsMsg() = default;
  NatsMsg(const NatsMsg&) = delete;
  NatsMsg& operator=(const NatsMsg&) = delete;
  ~NatsMsg() { Reset(); }
  void Reset() {
    if (msg != nullptr) natsMsg_Destroy(msg);
    msg = nullptr;
  }
  natsMsg** out() {
    Reset();
    return &msg;
  }
  std::string data() const {
    return std::string(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
  }
  operator natsMsg*() const { return msg; }  // NOLINT: implicit by design
};

}  // namespace tandem::test
