// stan_server.cc: the streaming layer's start, recovery, client requests (connect, close,
// ping), the publish path and the commit continuation. Subscription requests are in
// stan_server_subs.cc.
//
// Sections, in order: construction and life cycle; recovery; connect, close, ping; publish;
// channels (creation, inactivity, max_age); commits.
#include "server/stan/stan_server.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "server/bus/subject.h"
#include "server/stan/queue_group.h"
#include "server/stan/stan_codec.h"
#include "server/stan/stan_errors.h"
#include "server/stan/stan_protocol.pb.h"

namespace tandem::server {

// --- construction and life cycle ---------------------------------------------------------------

namespace {

// Partitioning owns the names and wildcards listed under limits.channels.
ChannelOwnership PartitionedChannels(const StanLimits& limits) {
  std::vector<std::string> names;
  for (const auto& [name, entry] : limits.channels) names.push_back(name);
  return ChannelOwnership(std::move(names));
}

}  // namespace

StanServer::StanServer(uv_loop_t* loop, Bus* nc, store::Store* store, store::Recovered recovered,
                       const StanOptions& options)
    : nc_(nc),
      store_(store),
      options_(options),
      recovered_(std::move(recovered)),
      timers_(loop),
      writer_(store),
      requester_(nc, &timers_),
      clients_(options, &timers_, &requester_),
      channels_(options.limits),
      owned_(options.partitioning ? PartitionedChannels(options.limits) : ChannelOwnership()),
      delivery_(nc, store, &writer_, &timers_, &clients_, &channels_),
      guard_(nc, &delivery_) {}

StanServer::~StanServer() {
  if (started_ && !stopped_) Stop();
}

Status StanServer::Start() {
  if (!recovered_.server.cluster_id.empty() &&
      recovered_.server.cluster_id != options_.cluster_id) {
    return Status::InvalidArgument("stan: cluster id \"" + options_.cluster_id +
                                   "\" does not match the stored cluster id \"" +
                                   recovered_.server.cluster_id + "\"");
  }
  started_ = true;
  writer_.SetOnError([this](const Status& s) {
    failed_ = true;
    if (on_fatal_) on_fatal_(s);
  });
  BuildServerRecord();

  for (auto& rec : recovered_.channels) channels_.Restore(rec);
  channels_.set_next_id(recovered_.max_channel_id + 1);
  for (auto& rec : recovered_.clients) clients_.Register(rec);
  next_sub_id_ = recovered_.max_sub_id + 1;
  clients_.SetOnDead([this](const std::string& id) { CloseClient(id); });
  clients_.SetOnReply([this](StanClient* c, uint64_t sender) { guard_.Seen(c, sender); });
  delivery_.SetDeadLetterSink([this](Channel* from, uint64_t seq, std::string_view data) {
    return AppendDeadLetter(from, seq, data);
  });
  requester_.Start();

  auto sub = [this](const std::string& subject, void (StanServer::*fn)(const InboundMsg&)) {
    sids_.push_back(
        nc_->Subscribe(subject, "", [this, fn](const InboundMsg& m) { (this->*fn)(m); }));
  };
  sub(server_.discover, &StanServer::ProcessConnect);
  if (options_.partitioning) {
    // Only the owned channels' publish subjects: the others' publishes go to their partitions.
    for (const std::string& p : owned_.patterns()) {
      sub(server_.pub_prefix + "." + p, &StanServer::ProcessPub);
    }
  } else {
    sub(server_.pub_prefix + ".>", &StanServer::ProcessPub);
  }
  sub(server_.sub_requests, &StanServer::ProcessSub);
  sub(server_.unsub_requests, &StanServer::ProcessUnsub);
  sub(server_.sub_close_requests, &StanServer::ProcessSubClose);
  sub(server_.close_requests, &StanServer::ProcessClose);
  sub(server_.ping_requests, &StanServer::ProcessPing);

  RestoreSubs();
  for (auto& [name, ch] : channels_.all()) ArmInactivity(ch.get());
  ScheduleRecoveredExpiry();
  spdlog::info("stan: serving cluster {} ({} channels, {} clients, {} subscriptions)",
               options_.cluster_id, channels_.size(), clients_.size(), delivery_.count());
  recovered_ = store::Recovered{};
  return Status::OK();
}

void StanServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  delivery_.Stop();
  for (uint64_t sid : sids_) nc_->Unsubscribe(sid);
  sids_.clear();
  for (auto& [name, ch] : channels_.all()) {
    for (auto& [id, sub] : ch->subs()) {
      if (sub->ack_sid != 0) nc_->Unsubscribe(sub->ack_sid);
      sub->ack_sid = 0;
      delivery_.CancelTimers(sub.get());
    }
    timers_.Cancel(&ch->inactivity_timer);
  }
  requester_.Stop();
  clients_.StopAll();
  timers_.Close();
  delivery_.FlushDirty(true);  // a graceful stop records every pending delivery
  SubmitBatch();
  writer_.Close();
}

void StanServer::Drain(std::function<void()> done) {
  SubmitBatch();
  writer_.Drain(std::move(done));
}

void StanServer::SubmitStoreBatch() {
  if (!started_ || stopped_) return;
  SubmitBatch();
}

void StanServer::BuildServerRecord() {
  if (!recovered_.server.cluster_id.empty()) {
    server_ = recovered_.server;  // always answer with the stored subjects (D)
    return;
  }
  const std::string& cid = options_.cluster_id;
  server_.cluster_id = cid;
  server_.pub_prefix = "_STAN.pub." + cid;
  server_.sub_requests = "_STAN.sub." + cid;
  server_.unsub_requests = "_STAN.unsub." + cid;
  server_.close_requests = "_STAN.close." + cid;
  server_.sub_close_requests = "_STAN.subclose." + cid;
  server_.discover = options_.discover_prefix + "." + cid;
  server_.ping_requests = server_.discover + ".pings";
  server_.epoch = recovered_.server.epoch;
  writer_.batch().PutServer(server_);
}

// --- recovery ----------------------------------------------------------------------------------

void StanServer::RestoreSubs() {
  uint64_t now = timers_.now();
  std::vector<StanSub*> orphans;  // active in the store, but their client is gone
  std::vector<StanSub*> active;
  for (auto& rec : recovered_.subs) {
    Channel* ch = channels_.LookupById(rec.channel_id);
    if (ch == nullptr) continue;
    auto owned = std::make_unique<StanSub>(rec, ch);
    StanSub* sub = owned.get();
    for (size_t i = 0; i < rec.pending.size(); ++i) {
      uint32_t deliveries = i < rec.deliveries.size() ? std::max(rec.deliveries[i], 1u) : 1;
      sub->pending[rec.pending[i]] = PendingMsg(now, now, deliveries - 1, true);
    }
    sub->rec.pending.clear();
    sub->rec.deliveries.clear();
    sub->stored_last_sent = rec.last_sent;
    ch->subs()[rec.id] = std::move(owned);
    delivery_.Index(sub);
    if (!rec.queue.empty()) {
      auto& g = ch->queues()[rec.queue];
      if (!g) g = std::make_unique<StanQueueGroup>(rec.queue, rec.is_durable);
      sub->group = g.get();
      g->last_sent = std::max(g->last_sent, rec.last_sent);
      if (rec.is_offline) {
        g->shadow = sub;
        continue;
      }
      g->members.push_back(sub);
    }
    if (rec.is_offline) continue;
    if (clients_.Lookup(rec.client_id) == nullptr) {
      orphans.push_back(sub);
    } else {
      active.push_back(sub);
    }
  }
  for (StanSub* sub : active) {
    clients_.Lookup(sub->rec.client_id)->subs.insert(sub->id());
    Activate(sub);
  }
  for (StanSub* sub : orphans) RemoveSub(sub, false);
  // Pending messages first (redelivered), then whatever is new.
  for (StanSub* sub : active) {
    if (!sub->pending.empty()) delivery_.RedeliverAll(sub);
  }
  for (auto& [name, ch] : channels_.all()) delivery_.SendAvailable(ch.get());
}

// --- connect, close, ping ----------------------------------------------------------------------

void StanServer::ProcessConnect(const InboundMsg& m) {
  std::string reply(m.reply);
  pb::ConnectRequest req;
  if (!DecodeProto(m.payload, &req) || !IsValidLiteralSubject(req.heartbeatinbox())) {
    return ReplyConnectError(reply, errors::kInvalidConnReq);
  }
  if (!options_.own_probe_prefix.empty() &&
      req.heartbeatinbox().rfind(options_.own_probe_prefix, 0) == 0) {
    spdlog::debug("stan: a member of this group checked the cluster id; not answered");
    return;
  }
  if (!ClientRegistry::IsValidClientId(req.clientid())) {
    return ReplyConnectError(reply, errors::kInvalidClientId);
  }
  StanClient* old = clients_.Lookup(req.clientid());
  if (old == nullptr) {
    RegisterClient(req, m.sender);
    return ReplyConnect(reply, req.protocol(), req.pinginterval(), req.pingmaxout());
  }
  if (clients_.checking.count(req.clientid())) {
    return ReplyConnectError(reply, errors::kClientIdRegistered);
  }
  // Is the registered one still alive? Ask its heartbeat inbox and wait 500 ms: a reply means
  // the new connect is refused; silence means the old client is closed and the new one takes
  // its place.
  clients_.checking.insert(req.clientid());
  const uint64_t sender = m.sender;
  requester_.Request(
      old->rec.hb_inbox, "", 500, [this, req, reply, sender](const InboundMsg* answer) {
        clients_.checking.erase(req.clientid());
        if (stopped_) return;
        if (answer != nullptr) return ReplyConnectError(reply, errors::kClientIdRegistered);
        if (clients_.Lookup(req.clientid()) != nullptr) {
          spdlog::info("stan: client {} replaced by a new connection", req.clientid());
          CloseClient(req.clientid());
        }
        RegisterClient(req, sender);
        ReplyConnect(reply, req.protocol(), req.pinginterval(), req.pingmaxout());
      });
}

void StanServer::RegisterClient(const pb::ConnectRequest& req, uint64_t sender) {
  store::ClientRecord rec;
  rec.client_id = req.clientid();
  rec.hb_inbox = req.heartbeatinbox();
  rec.conn_id = req.connid();
  rec.protocol = req.protocol();
  rec.ping_interval = req.pinginterval();
  rec.ping_max_out = req.pingmaxout();
  guard_.Register(clients_.Register(rec), sender);
  writer_.batch().PutClient(rec);
  spdlog::debug("stan: client {} registered", rec.client_id);
}

void StanServer::ReplyConnect(const std::string& reply, int32_t req_protocol, int32_t ping_interval,
                              int32_t ping_max_out) {
  pb::ConnectResponse resp;
  resp.set_pubprefix(server_.pub_prefix);
  resp.set_subrequests(server_.sub_requests);
  resp.set_unsubrequests(server_.unsub_requests);
  resp.set_closerequests(server_.close_requests);
  resp.set_subcloserequests(server_.sub_close_requests);
  resp.set_protocol(1);
  if (req_protocol >= 1) {
    resp.set_pingrequests(server_.ping_requests);
    resp.set_pinginterval(ping_interval);
    resp.set_pingmaxout(ping_max_out);
  }
  if (!reply.empty()) nc_->Publish(reply, "", EncodeProto(resp));
}

void StanServer::ReplyConnectError(const std::string& reply, const std::string& error) {
  pb::ConnectResponse resp;
  resp.set_error(error);
  if (!reply.empty()) nc_->Publish(reply, "", EncodeProto(resp));
}

void StanServer::ProcessClose(const InboundMsg& m) {
  pb::CloseRequest req;
  pb::CloseResponse resp;
  StanClient* c = nullptr;
  if (!DecodeProto(m.payload, &req)) {
    resp.set_error(errors::kInvalidCloseReq);
  } else if ((c = clients_.Lookup(req.clientid())) == nullptr) {
    resp.set_error(errors::kUnknownClient);
  } else if (!guard_.ActsFor(c, nullptr, m.sender)) {
    ++guard_.counts().close;
    spdlog::debug("stan: close of client {} refused: sent by connection {}, not the client's",
                  req.clientid(), m.sender);
    resp.set_error(errors::kNotOwner);
  } else {
    CloseClient(req.clientid());
  }
  if (!m.reply.empty()) nc_->Publish(m.reply, "", EncodeProto(resp));
}

void StanServer::CloseClient(const std::string& client_id) {
  StanClient* c = clients_.Lookup(client_id);
  if (c == nullptr) return;
  std::vector<uint64_t> subs(c->subs.begin(), c->subs.end());
  for (uint64_t id : subs) {
    if (StanSub* sub = delivery_.Find(id)) RemoveSub(sub, false);
  }
  clients_.Unregister(client_id);
  writer_.batch().DeleteClient(client_id);
  spdlog::debug("stan: client {} closed", client_id);
}

void StanServer::ProcessPing(const InboundMsg& m) {
  pb::Ping ping;
  if (m.reply.empty() || !DecodeProto(m.payload, &ping) || ping.connid().empty()) return;
  StanClient* c = clients_.LookupByConnId(ping.connid());
  if (c == nullptr) {
    pb::PingResponse resp;
    resp.set_error(errors::kClientReplaced);
    nc_->Publish(m.reply, "", EncodeProto(resp));
    return;
  }
  nc_->Publish(m.reply, "", "");
  guard_.Seen(c, m.sender);
  if (c->hb_failures > 0) clients_.CheckNow(c);
}

// --- publish -----------------------------------------------------------------------------------

void StanServer::ProcessPub(const InboundMsg& m) {
  if (failed_) return;  // a commit failed: never acknowledge again
  PubMsgView pm;
  if (!DecodePubMsg(m.payload, &pm)) {
    if (!m.reply.empty()) nc_->Publish(m.reply, "", EncodePubAck("", errors::kInvalidPubReq));
    return;
  }
  auto fail = [&](std::string_view error) {
    if (!m.reply.empty()) nc_->Publish(m.reply, "", EncodePubAck(pm.guid, error));
  };
  // A known channel's name was checked when it was created; only a miss needs the check.
  Channel* ch = channels_.Lookup(pm.subject);
  if (pm.guid.empty() || (ch == nullptr && !ChannelRegistry::IsValidName(pm.subject))) {
    return fail(errors::kInvalidPubReq);
  }
  StanClient* c =
      pm.conn_id.empty() ? clients_.Lookup(pm.client_id) : clients_.LookupByConnId(pm.conn_id);
  if (c == nullptr) return fail(errors::kInvalidPubReq);
  guard_.Seen(c, m.sender);  // one compare unless the client's connection changed
  // Channel permissions: the user's publish rules, the channel name taken as a subject. No
  // check at all (and no allocation) for a connection without permissions.
  if (m.permissions != nullptr && !m.permissions->MayPublish(pm.subject)) {
    ++stats_.denied_publishes;
    spdlog::warn("stan: publish to channel \"{}\" refused: not allowed for user \"{}\"", pm.subject,
                 nc_->UserOf(m.sender));
    return fail(std::string(errors::kPubPermPrefix) + "\"" + std::string(pm.subject) + "\"");
  }
  if (ch == nullptr || ch->deleting) {
    std::string error;
    ch = LookupOrCreateChannel(pm.subject, &error);
    if (ch == nullptr) return fail(error);
  }

  int64_t ts = 0;
  uint64_t seq = ch->Append(delivery_.NowNs(), &ts);
  std::string data;
  AppendMsgProto(&data, seq, pm.subject, pm.reply, pm.data, ts);
  writer_.batch().AppendMsg(ch->id(), seq, ts, data);  // copied into the batch's buffer
  ch->CacheMsg(seq, ts, std::move(data));
  ScheduleExpiry(ch, ts);
  ch->last_activity_ms = timers_.now();
  batch_channels_[ch->id()] = seq;
  stats_.in_msgs++;
  stats_.in_bytes += pm.data.size();
  if (!m.reply.empty()) {
    size_t before = acks_.bytes.size();
    acks_.bytes.append(m.reply);
    AppendPubAck(&acks_.bytes, pm.guid, "");
    acks_.sizes.emplace_back(static_cast<uint32_t>(m.reply.size()),
                             static_cast<uint32_t>(acks_.bytes.size() - before - m.reply.size()));
  }
  if (writer_.full()) {  // between messages: this one's ops and PubAck stay together
    PrepareBatch();
    writer_.Seal();
  }
}

// --- channels ----------------------------------------------------------------------------------

Channel* StanServer::LookupOrCreateChannel(std::string_view name, std::string* error) {
  if (Channel* ch = channels_.Lookup(name)) {
    if (ch->deleting) {
      *error = errors::kChannelBeingDeleted;
      return nullptr;
    }
    return ch;
  }
  *error = channels_.CheckCreate(name);
  if (error->empty() && !Owns(name))
    *error = errors::kUnknownChannel;  // publishes and subscribes are filtered before
  if (!error->empty()) return nullptr;
  Channel* ch = channels_.Create(name);
  writer_.batch().CreateChannel(ch->record());
  ch->last_activity_ms = timers_.now();
  ArmInactivity(ch);
  spdlog::debug("stan: channel {} created", ch->name());
  return ch;
}

void StanServer::ArmInactivity(Channel* ch) {
  int64_t mi = ch->limits().max_inactivity_ns;
  if (mi <= 0 || stopped_ || ch->deleting || ch->active_subs() > 0) return;
  if (timers_.pending(ch->inactivity_timer)) return;
  uint64_t due = timers_.now() + static_cast<uint64_t>(mi / 1000000);
  int64_t id = ch->id();
  ch->inactivity_timer = timers_.AddAt(due, [this, id] { CheckInactive(id); });
}

void StanServer::CheckInactive(int64_t channel_id) {
  Channel* ch = channels_.LookupById(channel_id);
  if (ch == nullptr || ch->deleting) return;
  ch->inactivity_timer = 0;
  if (ch->active_subs() > 0) return;  // re-armed when the last one leaves
  uint64_t mi_ms = static_cast<uint64_t>(ch->limits().max_inactivity_ns / 1000000);
  uint64_t now = timers_.now();
  if (ch->last_activity_ms + mi_ms > now) {
    ch->inactivity_timer = timers_.AddAt(ch->last_activity_ms + mi_ms,
                                         [this, channel_id] { CheckInactive(channel_id); });
    return;
  }
  DeleteChannel(ch);
}

void StanServer::DeleteChannel(Channel* ch) {
  spdlog::info("stan: channel {} inactive, deleting it", ch->name());
  ch->deleting = true;
  timers_.Cancel(&ch->inactivity_timer);
  std::vector<StanSub*> subs;
  for (auto& [id, sub] : ch->subs()) subs.push_back(sub.get());
  for (StanSub* sub : subs) {
    Deactivate(sub);
    delivery_.Unindex(sub);
  }
  ch->subs().clear();
  ch->queues().clear();
  int64_t id = ch->id();
  writer_.batch().DeleteChannel(id);
  batch_channels_.erase(id);
  writer_.OnCommit([this, id](const Status& s, const store::BatchResult&) {
    if (!s.ok()) return;
    if (Channel* c = channels_.LookupById(id)) channels_.Remove(c);
  });
}

// --- commits -----------------------------------------------------------------------------------

void StanServer::SubmitBatch() {
  writer_.SubmitSealed();
  if (!writer_.room_for_current()) return;
  PrepareBatch();
  writer_.Flush();
}

void StanServer::PrepareBatch() {
  delivery_.FlushDirty();
  if (writer_.batch().empty()) return;
  // Once applied the next batch goes to the store (before this one's deliveries take loop
  // time); subscribers get the messages then or after the sync (StanOptions::deliver_on_commit),
  // publishers their PubAcks only after the sync. A batch whose sync nobody waits for (no
  // PubAck and, with delivery on sync, no message either: positions, acks, subscriptions)
  // registers nothing for it, so that the store may let it share the next batch's fdatasync
  // (StoreWriter, "unwaited").
  if (!options_.deliver_on_commit && !batch_channels_.empty()) {
    writer_.OnApplied([this](const Status& s, const store::BatchResult&) {
      if (s.ok()) SubmitBatch();
    });
    writer_.OnCommit([this, chans = std::move(batch_channels_), acks = std::move(acks_)](
                         const Status& s, const store::BatchResult& r) {
      BatchApplied(s, r, chans);
      BatchDurable(s, acks);
    });
  } else {
    writer_.OnApplied(
        [this, chans = std::move(batch_channels_)](const Status& s, const store::BatchResult& r) {
          if (s.ok()) SubmitBatch();
          BatchApplied(s, r, chans);
        });
    if (!acks_.sizes.empty()) {
      writer_.OnCommit([this, acks = std::move(acks_)](const Status& s, const store::BatchResult&) {
        BatchDurable(s, acks);
      });
    }
  }
  acks_ = PendingAcks{};
  batch_channels_.clear();
}

void StanServer::BatchApplied(const Status& s, const store::BatchResult& r,
                              const std::unordered_map<int64_t, uint64_t>& chans) {
  if (!s.ok()) {
    failed_ = true;  // no delivery, no PubAck for anything in this batch or later
    return;
  }
  for (auto& stats : r.channels) {
    if (Channel* ch = channels_.LookupById(stats.channel_id)) ch->ApplyStats(stats);
  }
  for (auto& [id, seq] : chans) {
    Channel* ch = channels_.LookupById(id);
    if (ch == nullptr) continue;
    ch->Committed(seq);
    if (!stopped_) delivery_.SendAvailable(ch);
  }
}

void StanServer::BatchDurable(const Status& s, const PendingAcks& acks) {
  if (!s.ok()) {
    failed_ = true;  // a failed sync: what was delivered is never acknowledged to its publisher
    return;
  }
  std::string_view bytes = acks.bytes;
  size_t off = 0;
  for (auto [reply, payload] : acks.sizes) {
    nc_->Publish(bytes.substr(off, reply), "", bytes.substr(off + reply, payload));
    off += reply + payload;
  }
}

}  // namespace tandem::server
