// stan_server_dead_letter.cc: dead letters. A message that reached its channel's
// max_deliveries on a subscription (delivery_redelivery.cc) is appended to the channel's
// dead_letter channel, made on first use like any channel, in the batch that also removes it
// from the subscription's pending set, so one transaction records both.
//
// The dead letter is a new message of the dead-letter channel (its own sequence and timestamp)
// with the same data; its MsgProto subject is the original channel and its reply is the
// original sequence in decimal, so that an operator reading the dead-letter channel knows where
// each message came from (the original reply subject, which streaming publishers rarely set,
// is not kept).
#include <string>

#include <spdlog/spdlog.h>

#include "server/stan/stan_codec.h"
#include "server/stan/stan_protocol.pb.h"
#include "server/stan/stan_server.h"

namespace tandem::server {

bool StanServer::AppendDeadLetter(Channel* from, uint64_t seq, std::string_view stored) {
  const std::string& target = from->limits().dead_letter;
  if (target.empty() || target == from->name() || failed_) return false;
  pb::MsgProto original;
  std::string error;
  Channel* dl = nullptr;
  if (!DecodeProto(stored, &original)) {
    error = "its stored bytes do not decode";
  } else {
    dl = LookupOrCreateChannel(target, &error);
  }
  if (dl == nullptr) {
    if (dead_letter_warned_.insert(from->id()).second) {
      spdlog::warn(
          "stan: channel {}: message {} reached max_deliveries but cannot go to "
          "dead-letter channel {}: {}; dropped (logged once per channel)",
          from->name(), seq, target, error);
    }
    return false;
  }
  int64_t ts = 0;
  const uint64_t dl_seq = dl->Append(delivery_.NowNs(), &ts);
  std::string bytes;
  AppendMsgProto(&bytes, dl_seq, from->name(), std::to_string(seq), original.data(), ts);
  writer_.batch().AppendMsg(dl->id(), dl_seq, ts, bytes);
  dl->CacheMsg(dl_seq, ts, std::move(bytes));
  ScheduleExpiry(dl, ts);
  dl->last_activity_ms = timers_.now();
  batch_channels_[dl->id()] = dl_seq;
  return true;
}

}  // namespace tandem::server
