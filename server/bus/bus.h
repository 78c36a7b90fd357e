// bus.h: the seam between the layers that speak NATS as clients (the streaming layer, the
// pair's heartbeats) and whichever NATS carries their messages. Today the one implementation
// is the embedded core's in-process client (server/nats/internal_client.h); a client of an
// external NATS cluster is meant to be a second one, added beside it without touching its users.
//
// The contract every implementation keeps:
//   - Subscribe/Unsubscribe/Publish have the meaning of SUB/UNSUB/PUB on one NATS connection:
//     same subject grammar (server/bus/subject.h), same queue-group rule (one member of a queue
//     group gets each message), and a connection sees its own publishes (echo on).
//   - Handlers run on the loop thread. A handler may subscribe, unsubscribe (itself included)
//     and publish. The views in InboundMsg are valid only during the call.
//   - Publish never blocks and never fails to the caller: a message that cannot be sent is the
//     implementation's to buffer or drop, as on a NATS connection.
//   - HasInterest is a hint for skipping work nobody would receive; an implementation that cannot
//     know (a client of a remote cluster) answers true.
// Request/reply is built on these primitives by Requester (server/bus/requester.h), the same
// for every implementation.
//
// Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace tandem::server {

// A message as a subscription's handler sees it. `headers` is empty for a plain PUB.
struct InboundMsg {
  std::string_view subject;
  std::string_view reply;
  std::string_view headers;
  std::string_view payload;
};

class Bus {
 public:
  using Handler = std::function<void(const InboundMsg&)>;

  // Subscribes like SUB <subject> [queue] <sid>; returns the sid (> 0), or 0 if the subject is
  // invalid. The handler runs on the loop thread for every matching message.
  virtual uint64_t Subscribe(std::string_view subject, std::string_view queue, Handler handler) = 0;
  virtual void Unsubscribe(uint64_t sid) = 0;
  // Publishes like PUB. The embedded core routes before Publish returns.
  virtual void Publish(std::string_view subject, std::string_view reply,
                       std::string_view payload) = 0;
  // A fresh, unique inbox subject ("_INBOX.<22 chars>") for request/reply.
  virtual std::string NewInbox() = 0;
  // False only when no client outside this process can receive a Publish to the literal
  // `subject` (the embedded core: one cached sublist lookup over network connections).
  // Implementations that cannot know keep the default.
  virtual bool HasInterest(std::string_view subject) { return true; }

 protected:
  virtual ~Bus() = default;
};

}  // namespace tandem::server
