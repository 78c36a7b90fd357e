// redelivery.h: AckWait redelivery. The implementation is the redelivery part of Delivery
// (declared in stan_sub.h, defined in redelivery.cc): each subscription has one TimerQueue
// deadline at its earliest pending expiry; when it fires, every pending message whose expiry is
// within kAckWaitSlackMs of now is resent in expiry order with redelivered = true and an
// incremented redeliveryCount, and its expiry moves by AckWait. Redeliveries ignore
// MaxInFlight; a sequence's redeliveryCount lives in memory only (reset on restart).
//
// Plain subscriptions whose client has failed heartbeats are skipped (the deadline moves by
// AckWait). A queue member's redelivery goes to the group's best member, which then owns the
// pending entry. A pending message that the store no longer has (removed by limits) is treated
// as acknowledged.
#pragma once

#include "server/stan/stan_sub.h"
