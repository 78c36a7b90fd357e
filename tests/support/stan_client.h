// stan_client.h: connecting and subscribing libnats streaming clients the way the fault
// tests, the drill-like programs and the soak need them: a list of server addresses, unlimited
// reconnects with a short fixed wait, a first connect that is retried while a member takes over,
// and durable subscriptions with manual acks and a short AckWait.
//
// Header-only so that programs that link libnats alone (tests/soak) can use it as well as the
// test support library. Ownership: the caller owns what these return (stanConnection_Destroy,
// stanSubscription_Destroy). Thread safety: plain functions.
#pragma once

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#ifndef NATS_HAS_STREAMING
#define NATS_HAS_STREAMING 1  // Debian's libnats is built with the STAN API
#endif
#include <nats/nats.h>

namespace tandem::test {

struct StanConnectOptions {
  int reconnect_wait_ms = 50;
  int pub_ack_wait_ms = 5000;
  int max_pubacks_inflight = 0;  // 0: libnats' default
  int ping_interval_s = 1;
  int ping_max_out = 30;
  int connect_attempts = 50;  // first connect, one every connect_retry_ms
  int connect_retry_ms = 50;
  bool only_given_servers = false;  // ignore the servers' connect_urls
  // Write each publish at once: libnats otherwise holds one up to 1 ms, which hides the
  // server's own latency.
  bool send_asap = false;
  // TLS (any of these set): trust `tls_ca`, expect the name "localhost", present
  // `tls_cert`/`tls_key` when given. Credentials go in the URL ("nats://user:pw@host:port").
  std::string tls_ca, tls_cert, tls_key;
  natsConnectionHandler disconnected = nullptr;
  stanConnectionLostHandler lost = nullptr;
  void* closure = nullptr;  // for both handlers
};

// Connects `client_id` to any of `urls` ("nats://h:p", several separated by commas); null with
// `error` set when every attempt failed.
inline stanConnection* ConnectStan(const std::string& urls, const std::string& cluster,
                                   const std::string& client_id, const StanConnectOptions& o,
                                   std::string* error) {
  std::vector<std::string> list;
  for (size_t from = 0; from <= urls.size();) {
    size_t comma = urls.find(',', from);
    if (comma == std::string::npos) comma = urls.size();
    list.push_back(urls.substr(from, comma - from));
    from = comma + 1;
  }
  std::vector<const char*> c;
  for (const auto& u : list) c.push_back(u.c_str());
  natsOptions* nopts = nullptr;
  natsOptions_Create(&nopts);
  natsOptions_SetServers(nopts, c.data(), static_cast<int>(c.size()));
  if (o.only_given_servers) {
    natsOptions_SetNoRandomize(nopts, true);
    natsOptions_SetIgnoreDiscoveredServers(nopts, true);
  }
  natsOptions_SetMaxReconnect(nopts, -1);
  natsOptions_SetReconnectWait(nopts, o.reconnect_wait_ms);
  natsOptions_SetReconnectJitter(nopts, 0, 0);
  natsOptions_SetReconnectBufSize(nopts, 32 * 1024 * 1024);
  if (o.send_asap) natsOptions_SetSendAsap(nopts, true);
  if (o.disconnected) natsOptions_SetDisconnectedCB(nopts, o.disconnected, o.closure);
  if (!o.tls_ca.empty()) {
    natsOptions_SetSecure(nopts, true);
    natsOptions_LoadCATrustedCertificates(nopts, o.tls_ca.c_str());
    natsOptions_SetExpectedHostname(nopts, "localhost");
    if (!o.tls_cert.empty()) {
      natsOptions_LoadCertificatesChain(nopts, o.tls_cert.c_str(), o.tls_key.c_str());
    }
  }
  stanConnOptions* sopts = nullptr;
  stanConnOptions_Create(&sopts);
  stanConnOptions_SetNATSOptions(sopts, nopts);
  stanConnOptions_SetPubAckWait(sopts, o.pub_ack_wait_ms);
  stanConnOptions_SetConnectionWait(sopts, 2000);
  if (o.max_pubacks_inflight > 0) {
    stanConnOptions_SetMaxPubAcksInflight(sopts, o.max_pubacks_inflight, 0.5f);
  }
  stanConnOptions_SetPings(sopts, o.ping_interval_s, o.ping_max_out);
  if (o.lost) stanConnOptions_SetConnectionLostHandler(sopts, o.lost, o.closure);
  stanConnection* sc = nullptr;
  natsStatus s = NATS_ERR;
  for (int i = 0; i < o.connect_attempts && s != NATS_OK; ++i) {
    s = stanConnection_Connect(&sc, cluster.c_str(), client_id.c_str(), sopts);
    if (s != NATS_OK) std::this_thread::sleep_for(std::chrono::milliseconds(o.connect_retry_ms));
  }
  stanConnOptions_Destroy(sopts);
  natsOptions_Destroy(nopts);
  if (s != NATS_OK) {
    *error = "connect " + client_id + ": " + natsStatus_GetText(s);
    return nullptr;
  }
  return sc;
}

// Subscribes to `channel` from its first message: with `durable` set, a durable (of queue group
// `queue` when that is set too) with manual acks, MaxInflight 1024 and a 2 s AckWait, so that a
// redelivery after a takeover comes soon; without, a plain subscriber with automatic acks.
inline stanSubscription* SubscribeStan(stanConnection* sc, const std::string& channel,
                                       const char* queue, const char* durable, stanMsgHandler cb,
                                       void* closure, std::string* error) {
  stanSubOptions* o = nullptr;
  stanSubOptions_Create(&o);
  if (durable) {
    stanSubOptions_SetDurableName(o, durable);
    stanSubOptions_SetManualAckMode(o, true);
    stanSubOptions_SetMaxInflight(o, 1024);
    stanSubOptions_SetAckWait(o, 2000);
  } else {
    stanSubOptions_SetMaxInflight(o, 16384);
  }
  stanSubOptions_DeliverAllAvailable(o);
  stanSubscription* sub = nullptr;
  natsStatus s =
      queue ? stanConnection_QueueSubscribe(&sub, sc, channel.c_str(), queue, cb, closure, o)
            : stanConnection_Subscribe(&sub, sc, channel.c_str(), cb, closure, o);
  stanSubOptions_Destroy(o);
  if (s != NATS_OK) {
    *error = "subscribe to " + channel + ": " + natsStatus_GetText(s);
    return nullptr;
  }
  return sub;
}

}  // namespace tandem::test
