// stan_server_expiry.cc: max_age on the loop: which channel's oldest message expires when
// (an ExpirySchedule, expiry_schedule.h) and the one TimerQueue deadline for the earliest of
// them. A channel costs work only when a message of it may have expired: an idle second costs
// nothing per channel, and a channel whose oldest message is an hour from expiry is not visited
// for an hour.
//
// Rules: an accepted message schedules its channel at its timestamp + max_age unless it is
// due earlier. When a channel comes due and its oldest message (Channel::oldest_timestamp_ns,
// from the store's counters) has not expired, it is scheduled at that message's expiry; else
// (expired, or not known after a restart) an ExpireMsgs goes into the current batch and the
// channel is looked at again a recheck period later, by which time the commit has told the
// oldest message left. A channel without messages leaves the schedule until its next message.
#include <algorithm>
#include <optional>

#include "server/stan/stan_server.h"

namespace tandem::server {
namespace {

// How soon a channel is looked at again after its ExpireMsgs was submitted: half its max_age,
// within [50 ms, 1 s] (the period of the old once-a-second tick).
int64_t RecheckNs(int64_t max_age_ns) {
  return std::clamp<int64_t>(max_age_ns / 2, 50'000'000, 1'000'000'000);
}

// The longest the one deadline is set ahead, so that a step of the wall clock (message
// timestamps are wall-clock time, the TimerQueue is not) is corrected within it.
constexpr int64_t kMaxArmNs = 60'000'000'000;

}  // namespace

void StanServer::ScheduleExpiry(Channel* ch, int64_t timestamp_ns) {
  const int64_t max_age = ch->limits().store.max_age_ns;
  if (max_age <= 0) return;
  expiry_.Advance(ch->id(), timestamp_ns + max_age);
  ArmExpiry();
}

void StanServer::ArmExpiry() {
  if (stopped_) return;
  std::optional<int64_t> next = expiry_.earliest();
  if (!next) return;  // an armed deadline finds nothing due and is not set again
  if (expire_timer_ != 0 && expire_armed_ns_ <= *next) return;
  timers_.Cancel(&expire_timer_);
  const int64_t ahead = std::clamp<int64_t>(*next - delivery_.NowNs(), 0, kMaxArmNs);
  expire_armed_ns_ = *next;
  expire_timer_ = timers_.AddAfter(static_cast<uint64_t>((ahead + 999'999) / 1'000'000), [this] {
    expire_timer_ = 0;
    ExpireDue();
  });
}

void StanServer::ExpireDue() {
  if (stopped_) return;
  const int64_t now = delivery_.NowNs();
  for (int64_t id : expiry_.TakeDue(now)) {
    Channel* ch = channels_.LookupById(id);
    if (ch == nullptr || ch->deleting || ch->msgs() == 0) continue;  // its next message adds it
    const int64_t max_age = ch->limits().store.max_age_ns;
    const int64_t oldest = ch->oldest_timestamp_ns();
    if (oldest > 0 && oldest + max_age > now) {
      expiry_.Set(id, oldest + max_age);
      continue;
    }
    writer_.batch().ExpireMsgs(id, now - max_age);
    expiry_.Set(id, now + RecheckNs(max_age));
  }
  ArmExpiry();
}

void StanServer::ScheduleRecoveredExpiry() {
  const int64_t now = delivery_.NowNs();
  for (auto& [name, ch] : channels_.all()) {
    if (ch->limits().store.max_age_ns > 0 && ch->msgs() > 0 && !ch->deleting) {
      expiry_.Set(ch->id(), now);  // the oldest message's timestamp is not known yet
    }
  }
  ArmExpiry();
}

}  // namespace tandem::server
