// stan_server_subs.cc: the subscription requests of the streaming layer: subscribe (with the
// five start positions, durables, queue groups, durable queue groups), unsubscribe and
// subscription close (which keeps durables offline where unsubscribe deletes them), and acks
// arriving on a subscription's ack inbox.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "server/bus/subject.h"
#include "server/stan/queue_group.h"
#include "server/stan/stan_codec.h"
#include "server/stan/stan_errors.h"
#include "server/stan/stan_protocol.pb.h"
#include "server/stan/stan_server.h"

namespace tandem::server {

void StanServer::SubReply(const std::string& reply, const std::string& ack_inbox,
                          const std::string& error) {
  if (reply.empty()) return;
  pb::SubscriptionResponse resp;
  if (!ack_inbox.empty()) resp.set_ackinbox(ack_inbox);
  if (!error.empty()) resp.set_error(error);
  nc_->Publish(reply, "", EncodeProto(resp));
}

namespace {

// The request's own mistakes, in the order they are checked; nullptr when there is none.
const char* CheckSubRequest(const pb::SubscriptionRequest& req) {
  if (req.clientid().empty()) return errors::kMissingClientId;
  if (req.ackwaitinsecs() <= 0) return errors::kInvalidAckWait;
  if (req.maxinflight() <= 0) return errors::kInvalidMaxInflight;
  int start = static_cast<int>(req.startposition());
  if (start < 0 || start > 4) return errors::kInvalidStart;
  if (!ChannelRegistry::IsValidName(req.subject())) return errors::kInvalidSubject;
  return nullptr;
}

// True when the channel may have one more subscription (max_subs, 0 = unlimited).
bool HasRoomForSub(Channel* ch) {
  return ch->limits().max_subs == 0 || ch->subs().size() < ch->limits().max_subs;
}

}  // namespace

void StanServer::ProcessSub(const InboundMsg& m) {
  std::string reply(m.reply);
  pb::SubscriptionRequest req;
  // An inbox that is not a literal subject could not be delivered to: undecodable as well.
  if (!DecodeProto(m.payload, &req) || !IsValidLiteralSubject(req.inbox())) {
    return SubReply(reply, "", errors::kInvalidSubReq);
  }
  if (const char* bad = CheckSubRequest(req)) return SubReply(reply, "", bad);
  // Partitioning: another partition may own the channel; if none does, the client times out.
  if (!Owns(req.subject())) return;
  StanClient* client = clients_.Lookup(req.clientid());
  if (client == nullptr) return SubReply(reply, "", errors::kUnknownClient);
  // Channel permissions: the user's subscribe rules, the channel name taken as a subject.
  if (m.permissions != nullptr && !m.permissions->MaySubscribe(req.subject())) {
    ++stats_.denied_subscriptions;
    spdlog::warn("stan: subscription to channel \"{}\" refused: not allowed for user \"{}\"",
                 req.subject(), nc_->UserOf(m.sender));
    return SubReply(reply, "", errors::kSubPermPrefix + ("\"" + req.subject() + "\""));
  }
  std::string error;
  Channel* ch = LookupOrCreateChannel(req.subject(), &error);
  if (ch == nullptr) return SubReply(reply, "", error);
  const bool queue = !req.qgroup().empty();
  if (queue && req.durablename().find(':') != std::string::npos) {
    return SubReply(reply, "", errors::kInvalidDurableName);
  }

  SubPlacement p;
  const char* refused = nullptr;
  if (queue) {
    refused = JoinQueueGroup(ch, req, &p);
  } else if (!req.durablename().empty()) {
    refused = PlaceDurable(ch, req, &p);
  } else if (!HasRoomForSub(ch)) {
    refused = errors::kTooManySubs;
  } else {
    p.sub = NewSub(ch, req, "", StartPosition(ch, req, &p.deferred, &p.start_ts));
  }
  if (refused != nullptr) return SubReply(reply, "", refused);
  client->subs.insert(p.sub->id());
  StartSub(p, reply);
}

const char* StanServer::JoinQueueGroup(Channel* ch, const pb::SubscriptionRequest& req,
                                       SubPlacement* p) {
  const std::string& durable = req.durablename();
  std::string qname = durable.empty() ? req.qgroup() : durable + ":" + req.qgroup();
  auto& slot = ch->queues()[qname];
  if (slot && slot->shadow != nullptr) {
    // The next member of a durable queue group takes over its offline record.
    p->sub = slot->shadow;
    slot->shadow = nullptr;
    ResumeSub(p->sub, req);
    p->resumed = true;
  } else if (slot && !slot->members.empty()) {
    if (!HasRoomForSub(ch)) return errors::kTooManySubs;
    p->sub = NewSub(ch, req, qname, slot->last_sent);  // start position ignored
  } else {
    if (!HasRoomForSub(ch)) {
      if (!slot) ch->queues().erase(qname);
      return errors::kTooManySubs;
    }
    if (!slot) slot = std::make_unique<StanQueueGroup>(qname, !durable.empty());
    uint64_t last_sent = StartPosition(ch, req, &p->deferred, &p->start_ts);
    slot->last_sent = last_sent;
    p->sub = NewSub(ch, req, qname, last_sent);
  }
  p->sub->group = slot.get();
  slot->members.push_back(p->sub);
  return nullptr;
}

const char* StanServer::PlaceDurable(Channel* ch, const pb::SubscriptionRequest& req,
                                     SubPlacement* p) {
  const std::string& durable = req.durablename();
  StanSub* existing = nullptr;
  for (auto& [id, s] : ch->subs()) {
    if (s->group == nullptr && s->rec.is_durable && s->rec.durable_name == durable &&
        s->rec.client_id == req.clientid()) {
      existing = s.get();
      break;
    }
  }
  if (existing != nullptr && !existing->offline()) {
    if (!options_.replace_durable) return errors::kDuplicateDurable;
    RemoveSub(existing, false);  // closed: goes offline, then resumes below
  }
  if (existing != nullptr) {
    p->sub = existing;
    ResumeSub(existing, req);
    p->resumed = true;
    return nullptr;
  }
  if (!HasRoomForSub(ch)) return errors::kTooManySubs;
  p->sub = NewSub(ch, req, "", StartPosition(ch, req, &p->deferred, &p->start_ts));
  return nullptr;
}

void StanServer::StartSub(const SubPlacement& p, const std::string& reply) {
  StanSub* sub = p.sub;
  Activate(sub);  // subscribes the ack inbox before the reply
  if (p.deferred) ++sub->hold_new;
  SubReply(reply, sub->rec.ack_inbox, "");
  sub->deliverable = true;
  if (p.deferred) ResolveTimeStart(sub, p.start_ts);
  if (p.resumed && (!sub->pending.empty() || sub->backlog)) {
    delivery_.RedeliverAll(sub);  // within MaxInflight; an unfinished backlog goes on
  } else if (sub->group != nullptr) {
    delivery_.SendGroup(sub->group);
  } else {
    delivery_.SendSub(sub);
  }
}

StanSub* StanServer::NewSub(Channel* ch, const pb::SubscriptionRequest& req,
                            const std::string& queue, uint64_t last_sent) {
  store::SubRecord rec;
  rec.id = next_sub_id_++;
  rec.channel_id = ch->id();
  rec.client_id = req.clientid();
  rec.queue = queue;
  rec.inbox = req.inbox();
  rec.ack_inbox = nc_->NewInbox();
  rec.durable_name = req.durablename();
  rec.max_in_flight = req.maxinflight();
  rec.ack_wait_s = req.ackwaitinsecs();
  rec.last_sent = last_sent;
  rec.is_durable = !req.durablename().empty();
  auto owned = std::make_unique<StanSub>(rec, ch);
  StanSub* sub = owned.get();
  sub->stored_last_sent = rec.last_sent;
  ch->subs()[rec.id] = std::move(owned);
  delivery_.Index(sub);
  writer_.batch().PutSub(rec);
  return sub;
}

void StanServer::ResumeSub(StanSub* sub, const pb::SubscriptionRequest& req) {
  delivery_.FlushSub(sub, true);
  sub->rec.client_id = req.clientid();
  sub->rec.inbox = req.inbox();
  sub->rec.ack_inbox = nc_->NewInbox();  // a new one each time a durable resumes
  sub->rec.max_in_flight = req.maxinflight();
  sub->rec.ack_wait_s = req.ackwaitinsecs();
  sub->rec.is_offline = false;
  if (sub->group != nullptr) sub->rec.last_sent = sub->group->last_sent;
  sub->stored_last_sent = sub->rec.last_sent;
  delivery_.Index(sub);  // new incarnation: callbacks of the previous one are ignored
  writer_.batch().PutSub(sub->rec);
}

void StanServer::Activate(StanSub* sub) {
  uint64_t id = sub->id(), gen = sub->gen;
  sub->ack_conn = 0;  // a resumed durable may belong to another connection now
  sub->ack_sid = nc_->Subscribe(sub->rec.ack_inbox, "",
                                [this, id, gen](const InboundMsg& m) { ProcessAck(id, gen, m); });
  sub->deliverable = true;
  timers_.Cancel(&sub->channel->inactivity_timer);
}

void StanServer::Deactivate(StanSub* sub) {
  if (sub->ack_sid != 0) nc_->Unsubscribe(sub->ack_sid);
  sub->ack_sid = 0;
  sub->deliverable = false;
  delivery_.CancelTimers(sub);
  if (StanClient* c = clients_.Lookup(sub->rec.client_id)) c->subs.erase(sub->id());
}

uint64_t StanServer::StartPosition(Channel* ch, const pb::SubscriptionRequest& req, bool* deferred,
                                   int64_t* ts_ns) {
  uint64_t first = ch->first_seq(), last = ch->last_seq();
  switch (req.startposition()) {
    case pb::LastReceived:
      return last >= first ? last - 1 : last;
    case pb::TimeDeltaStart: {
      if (last < first) return last;  // empty: from the next one
      int64_t target = delivery_.NowNs() - req.starttimedelta();
      const auto& cache = ch->cache();
      // Answer from the cache when it holds the oldest message or one older than the target.
      if (!cache.empty() && (cache.front().seq <= first || cache.front().timestamp_ns < target)) {
        auto it =
            std::lower_bound(cache.begin(), cache.end(), target,
                             [](const CachedMsg& m, int64_t t) { return m.timestamp_ns < t; });
        return it == cache.end() ? last : it->seq - 1;
      }
      *deferred = true;
      *ts_ns = target;
      return last;
    }
    case pb::SequenceStart: {
      uint64_t s = req.startsequence();
      if (s < first) return first - 1;
      if (s > last) return last;
      return s - 1;
    }
    case pb::First:
      return first - 1;
    case pb::NewOnly:
    default:
      return last;
  }
}

void StanServer::ResolveTimeStart(StanSub* sub, int64_t ts_ns) {
  uint64_t id = sub->id(), gen = sub->gen;
  store_->FindSeqByTime(sub->channel->id(), ts_ns, [this, id, gen](Result<uint64_t> r) {
    StanSub* s = delivery_.Find(id, gen);
    if (s == nullptr) return;
    if (!r.ok()) {
      spdlog::error("stan: start time lookup: {}", r.status().ToString());
    } else if (r.value() > 0) {
      uint64_t last_sent = std::min(r.value() - 1, s->rec.last_sent);
      s->rec.last_sent = last_sent;
      delivery_.MarkDirty(s);
      if (s->group != nullptr) s->group->last_sent = last_sent;
    }
    if (s->hold_new > 0) --s->hold_new;
    if (s->group != nullptr) {
      delivery_.SendGroup(s->group);
    } else {
      delivery_.SendSub(s);
    }
  });
}

void StanServer::ProcessUnsubOrClose(const InboundMsg& m, bool is_close) {
  std::string reply(m.reply);
  pb::UnsubscribeRequest req;
  if (!DecodeProto(m.payload, &req)) return SubReply(reply, "", errors::kInvalidUnsubReq);
  if (!Owns(req.subject())) return;  // the owning partition answers
  Channel* ch = channels_.Lookup(req.subject());
  if (ch == nullptr) return SubReply(reply, "", errors::kUnknownChannel);
  StanSub* sub = nullptr;
  for (auto& [id, s] : ch->subs()) {
    if (!s->offline() && s->rec.ack_inbox == req.inbox()) sub = s.get();
  }
  if (sub == nullptr) {
    // A client whose subscribe request timed out never got the ack inbox: it names the
    // subscription by its delivery inbox instead.
    for (auto& [id, s] : ch->subs()) {
      if (!s->offline() && s->rec.inbox == req.inbox()) sub = s.get();
    }
  }
  if (sub == nullptr) return SubReply(reply, "", errors::kInvalidSub);
  if (sub->rec.client_id != req.clientid()) return SubReply(reply, "", errors::kUnknownClient);
  if (!guard_.ActsFor(clients_.Lookup(sub->rec.client_id), sub, m.sender)) {
    ++(is_close ? guard_.counts().subclose : guard_.counts().unsubscribe);
    spdlog::debug("stan: {} of a subscription of client {} refused: sent by connection {}",
                  is_close ? "close" : "unsubscribe", req.clientid(), m.sender);
    return SubReply(reply, "", errors::kNotOwner);
  }
  RemoveSub(sub, !is_close);
  SubReply(reply, "", "");
}

void StanServer::RemoveSub(StanSub* sub, bool unsubscribe) {
  Channel* ch = sub->channel;
  Deactivate(sub);
  if (StanQueueGroup* g = sub->group) {
    bool empty = delivery_.RemoveMember(g, sub);
    if (empty && g->durable && !unsubscribe) {
      // The last member of a durable queue group: the group stays as an offline shadow.
      delivery_.FlushSub(sub, true);
      sub->rec.is_offline = true;
      sub->rec.last_sent = g->last_sent;
      sub->stored_last_sent = g->last_sent;
      g->shadow = sub;
      writer_.batch().PutSub(sub->rec);
    } else {
      DeleteSubRecord(sub);
      if (empty) {
        std::string name = g->name;  // not a reference into the node being erased
        ch->queues().erase(name);
      }
    }
  } else if (sub->rec.is_durable && !unsubscribe) {
    delivery_.FlushSub(sub, true);
    sub->rec.is_offline = true;
    sub->stored_last_sent = sub->rec.last_sent;
    writer_.batch().PutSub(sub->rec);
  } else {
    DeleteSubRecord(sub);
  }
  if (ch->active_subs() == 0) {
    ch->last_activity_ms = timers_.now();
    ArmInactivity(ch);
  }
}

void StanServer::DeleteSubRecord(StanSub* sub) {
  Channel* ch = sub->channel;
  uint64_t id = sub->id();
  delivery_.Unindex(sub);
  writer_.batch().DeleteSub(id);
  ch->subs().erase(id);  // destroys sub
}

void StanServer::ProcessAck(uint64_t sub_id, uint64_t gen, const InboundMsg& m) {
  AckView ack;
  if (!DecodeAck(m.payload, &ack)) return;
  StanSub* sub = delivery_.Find(sub_id, gen);
  if (sub == nullptr || sub->channel->name() != ack.subject) return;
  if (m.sender != 0 && m.sender != sub->ack_conn &&
      !guard_.MayAck(sub, clients_.Lookup(sub->rec.client_id), m.sender)) {
    ++guard_.counts().ack;  // acks get no reply: dropped, counted
    return;
  }
  delivery_.OnAck(sub, ack.sequence);
}

}  // namespace tandem::server
