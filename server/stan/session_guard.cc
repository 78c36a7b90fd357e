// session_guard.cc: the owner check of acks, unsubscribes and closes (see session_guard.h).
#include "server/stan/session_guard.h"

namespace tandem::server {

bool SessionGuard::HoldsClientInbox(StanClient* c, uint64_t sender) {
  if (bus_->SubscribedBy(sender, c->rec.hb_inbox)) return true;
  for (uint64_t id : c->subs) {
    const StanSub* s = delivery_->Find(id);
    if (s != nullptr && bus_->SubscribedBy(sender, s->rec.inbox)) return true;
  }
  return false;
}

void SessionGuard::SetOwner(StanClient* c, uint64_t sender) {
  c->owner_conn = sender;
  c->owner_user = bus_->UserOf(sender);
}

bool SessionGuard::SameUser(const StanClient* c, uint64_t sender) {
  if (c->owner_user.empty()) return false;
  return bus_->UserOf(sender) == c->owner_user;
}

void SessionGuard::Seen(StanClient* c, uint64_t sender) {
  if (c == nullptr || sender == 0 || sender == c->owner_conn) return;
  if (bus_->SubscribedBy(sender, c->rec.hb_inbox)) SetOwner(c, sender);
}

bool SessionGuard::ActsFor(StanClient* c, const StanSub* sub, uint64_t sender) {
  if (sender == 0) return true;
  if (c == nullptr) return sub != nullptr && bus_->SubscribedBy(sender, sub->rec.inbox);
  if (sender == c->owner_conn) return true;
  if ((sub != nullptr && bus_->SubscribedBy(sender, sub->rec.inbox)) ||
      HoldsClientInbox(c, sender) || SameUser(c, sender)) {
    SetOwner(c, sender);
    return true;
  }
  // The orphan rule (see the header): a close, the owner unknown since a restart or takeover,
  // and nobody listening on the heartbeat inbox.
  return sub == nullptr && c->owner_conn == 0 && !bus_->HasInterest(c->rec.hb_inbox);
}

bool SessionGuard::MayAck(StanSub* sub, StanClient* c, uint64_t sender) {
  if (sender == 0 || sender == sub->ack_conn) return true;
  if (!ActsFor(c, sub, sender)) return false;
  sub->ack_conn = sender;
  return true;
}

}  // namespace tandem::server
