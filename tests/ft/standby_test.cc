// Tests for ft/standby: every transition of the standby's state between lock attempts, and that
// every other call is refused without a change. Plain values, no clock.
#include "ft/standby.h"

#include <functional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace tandem::ft {
namespace {

using S = StandbyState;

const std::vector<S> kAll{S::kIdle,    S::kSeeking,      S::kFollowing,     S::kLocking,
                          S::kLockingHeard, S::kLockingRetry, S::kLockingRetryHeard};

// A machine driven into `target` through allowed transitions only.
StandbyMachine In(S target) {
  StandbyMachine m;
  auto go = [&](bool ok) { REQUIRE(ok); };
  switch (target) {
    case S::kIdle: break;
    case S::kSeeking: go(m.Start()); break;
    case S::kFollowing: go(m.Start()); go(m.HearActive()); break;
    case S::kLocking: go(m.Start()); go(m.BeginAttempt()); break;
    case S::kLockingHeard: go(m.Start()); go(m.BeginAttempt()); go(m.HearActive()); break;
    case S::kLockingRetry: go(m.Start()); go(m.BeginAttempt()); go(m.LoseActive()); break;
    case S::kLockingRetryHeard:
      go(m.Start()); go(m.BeginAttempt()); go(m.LoseActive()); go(m.HearActive());
      break;
  }
  REQUIRE(m.state() == target);
  return m;
}

using Transition = std::function<bool(StandbyMachine&)>;

// From every state: `t` leads where `allowed` says, and is refused, changing nothing, from a
// state `allowed` does not list.
void CheckTransition(const char* name, const Transition& t,
                     const std::vector<std::pair<S, S>>& allowed) {
  for (S from : kAll) {
    CAPTURE(name);
    CAPTURE(StandbyStateName(from));
    StandbyMachine m = In(from);
    bool ok = t(m);
    const std::pair<S, S>* rule = nullptr;
    for (const auto& r : allowed) {
      if (r.first == from) rule = &r;
    }
    if (rule == nullptr) {
      CHECK_FALSE(ok);
      CHECK(m.state() == from);  // refused: nothing changed
    } else {
      CHECK(ok);
      CHECK(StandbyStateName(m.state()) == std::string(StandbyStateName(rule->second)));
    }
  }
}

}  // namespace

TEST_SUITE("standby") {

TEST_CASE("standby: Start leaves idle once, as seeking (nothing heard counts as lost)") {
  CheckTransition("Start", [](StandbyMachine& m) { return m.Start(); },
                  {{S::kIdle, S::kSeeking}});
}

TEST_CASE("standby: BeginAttempt only without an attempt in flight") {
  CheckTransition("BeginAttempt", [](StandbyMachine& m) { return m.BeginAttempt(); },
                  {{S::kSeeking, S::kLocking}, {S::kFollowing, S::kLockingHeard}});
}

TEST_CASE("standby: HearActive follows, and keeps an attempt or a due retry going") {
  CheckTransition("HearActive", [](StandbyMachine& m) { return m.HearActive(); },
                  {{S::kSeeking, S::kFollowing},
                   {S::kFollowing, S::kFollowing},
                   {S::kLocking, S::kLockingHeard},
                   {S::kLockingHeard, S::kLockingHeard},
                   {S::kLockingRetry, S::kLockingRetryHeard},
                   {S::kLockingRetryHeard, S::kLockingRetryHeard}});
}

TEST_CASE("standby: LoseActive seeks, or makes the attempt in flight retry on Busy") {
  CheckTransition("LoseActive", [](StandbyMachine& m) { return m.LoseActive(); },
                  {{S::kSeeking, S::kSeeking},
                   {S::kFollowing, S::kSeeking},
                   {S::kLocking, S::kLockingRetry},
                   {S::kLockingHeard, S::kLockingRetry},
                   {S::kLockingRetry, S::kLockingRetry},
                   {S::kLockingRetryHeard, S::kLockingRetry}});
}

TEST_CASE("standby: Answered ends the attempt: following if an active was heard, else seeking") {
  CheckTransition("Answered", [](StandbyMachine& m) { return m.Answered(); },
                  {{S::kLocking, S::kSeeking},
                   {S::kLockingHeard, S::kFollowing},
                   {S::kLockingRetry, S::kSeeking},
                   {S::kLockingRetryHeard, S::kFollowing}});
}

TEST_CASE("standby: Leave ends standing by from anywhere") {
  CheckTransition("Leave", [](StandbyMachine& m) { m.Leave(); return true; },
                  {{S::kIdle, S::kIdle},
                   {S::kSeeking, S::kIdle},
                   {S::kFollowing, S::kIdle},
                   {S::kLocking, S::kIdle},
                   {S::kLockingHeard, S::kIdle},
                   {S::kLockingRetry, S::kIdle},
                   {S::kLockingRetryHeard, S::kIdle}});
}

TEST_CASE("standby: what each state answers") {
  for (S s : kAll) {
    CAPTURE(StandbyStateName(s));
    StandbyMachine m = In(s);
    bool locking = s == S::kLocking || s == S::kLockingHeard || s == S::kLockingRetry ||
                   s == S::kLockingRetryHeard;
    CHECK(m.lock_in_flight() == locking);
    CHECK(m.retry_due() == (s == S::kLockingRetry || s == S::kLockingRetryHeard));
    CHECK(m.active_lost() ==
          (s == S::kIdle || s == S::kSeeking || s == S::kLocking || s == S::kLockingRetry));
  }
}

TEST_CASE("standby: at most one attempt in flight, whatever is heard or lost meanwhile") {
  StandbyMachine m;
  REQUIRE(m.Start());
  REQUIRE(m.BeginAttempt());
  for (int i = 0; i < 3; ++i) {
    CHECK(m.HearActive());
    CHECK_FALSE(m.BeginAttempt());
    CHECK(m.LoseActive());
    CHECK_FALSE(m.BeginAttempt());
  }
  CHECK(m.retry_due());
  CHECK(m.Answered());
  CHECK_FALSE(m.lock_in_flight());
  CHECK(m.BeginAttempt());
}

}  // TEST_SUITE

}  // namespace tandem::ft
