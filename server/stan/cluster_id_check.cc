// cluster_id_check.cc: the start-up check that no other streaming server answers for this
// cluster id (see cluster_id_check.h).
#include "server/stan/cluster_id_check.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "server/stan/stan_codec.h"
#include "server/stan/stan_protocol.pb.h"

namespace tandem::server {

std::string ClusterIdCheck::ProbeInboxPrefix(const std::string& cluster_id,
                                             const std::string& group) {
  return group.empty() ? "" : "_STAN.probe." + cluster_id + "." + group + ".";
}

ClusterIdCheck::ClusterIdCheck(uv_loop_t* loop, Bus* bus, Options options)
    : bus_(bus), options_(std::move(options)), timers_(loop), requester_(bus, &timers_) {}

ClusterIdCheck::~ClusterIdCheck() { Stop(); }

void ClusterIdCheck::Stop() {
  if (stopped_) return;
  stopped_ = true;
  requester_.Stop();
  timers_.Close();
  done_ = nullptr;
}

void ClusterIdCheck::Run(std::function<void(const Status&)> done) {
  done_ = std::move(done);
  requester_.Start();
  // The heartbeat inbox only has to be a subject nobody answers on; the random tail of an inbox
  // keeps two probes apart.
  const std::string inbox = bus_->NewInbox();
  const std::string prefix = ProbeInboxPrefix(options_.cluster_id, options_.group);
  pb::ConnectRequest req;
  req.set_clientid(options_.cluster_id);
  req.set_heartbeatinbox(prefix.empty() ? inbox : prefix + inbox.substr(inbox.rfind('.') + 1));
  requester_.Request(options_.discover_prefix + "." + options_.cluster_id, EncodeProto(req),
                     options_.wait_ms, [this](const InboundMsg* reply) { OnAnswer(reply); });
}

void ClusterIdCheck::OnAnswer(const InboundMsg* reply) {
  if (stopped_) return;
  if (reply == nullptr) {
    spdlog::debug("stan: no other streaming server answers for cluster id {}", options_.cluster_id);
    return Finish(Status::OK());
  }
  const Status found = Status::InvalidArgument(fmt::format(
      "discovered another streaming server with cluster ID \"{}\"", options_.cluster_id));
  pb::ConnectResponse resp;
  if (!DecodeProto(reply->payload, &resp)) {
    // Something that is not a streaming server answered: refuse as well, as the reference does.
    return Finish(Status::InvalidArgument(fmt::format(
        "cannot decode the answer of another server for cluster ID \"{}\"", options_.cluster_id)));
  }
  if (resp.closerequests().empty()) return Finish(found);  // an error answer: nothing to close
  // The answer registered our probe as a client there: close it, as the reference does.
  pb::CloseRequest close;
  close.set_clientid(options_.cluster_id);
  requester_.Request(resp.closerequests(), EncodeProto(close), options_.wait_ms,
                     [this, found](const InboundMsg*) {
                       if (!stopped_) Finish(found);
                     });
}

void ClusterIdCheck::Finish(const Status& s) {
  if (auto done = std::move(done_)) done(s);
}

}  // namespace tandem::server
