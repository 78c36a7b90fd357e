// delivery_read_damage.cc: what the delivery engine does when stored messages cannot be read (a
// damaged page, a row that fails its checksum, an I/O error): it says so once and stops there,
// never skipping the messages and never retrying in a loop.
//
// Rule: an acknowledged message is never lost without a word. Skipping the unreadable range
// would hand subscribers the later messages as if nothing were missing, so every subscription of
// the channel stops before the range instead (its position and pending messages stay as they
// are); publishing, other channels and the rest of the server go on. The damage is reported
// once per channel: one error line with the channel, the range and the remedy, the counter
// tandem_store_read_errors_total{channel}, and /healthz answers 503 with the reason (monitor
// adapter). The remedy is the operator's: restore the store from a backup and restart. The
// range is the read that failed (up to Delivery::kReadChunk messages); the damage is inside it.
#include <spdlog/spdlog.h>

#include "server/stan/delivery.h"

namespace tandem::server {

void Delivery::ReadFailed(Channel* ch, uint64_t from, uint64_t to, const Status& s) {
  if (stopped_ || s.IsShutdownInProgress()) return;  // the store closed under a late read
  ++ch->read_errors;
  if (ch->read_damage) return;  // said once; the counter keeps the rest
  ch->read_damage = Channel::ReadDamage{from, to, s.ToString()};
  channels_->NoteReadDamage();
  spdlog::error(
      "stan: channel {}: stored messages {}..{} cannot be read ({}); its subscriptions stop "
      "before seq {} rather than skip them; restore the store from a backup and restart",
      ch->name(), from, to, s.ToString(), from);
}

bool Delivery::Damaged(const Channel* ch, uint64_t seq) {
  return ch->read_damage && seq >= ch->read_damage->from && seq <= ch->read_damage->to;
}

}  // namespace tandem::server
