// stan_fakes.h: in-memory fakes of the streaming layer's two seams for unit tests: a Bus
// that records what is published and lets a test deliver messages to its subscriptions (as
// if published by the connection `sender`, which holds the subscriptions listed in `held`, has
// the user `users[sender]` and the permissions `permissions`),
// and a Store whose commits and reads complete only when the test says so.
//
// Ownership: plain objects owned by the test. Thread safety: one thread (the test's).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "server/bus/bus.h"
#include "store/store.h"

namespace tandem::server::test {

class FakeBus : public Bus {
 public:
  struct Sent {
    std::string subject, reply, payload;
  };
  struct Sub {
    std::string subject;
    Handler handler;
  };

  uint64_t Subscribe(std::string_view subject, std::string_view, Handler handler) override {
    subs[next_sid] = Sub{std::string(subject), std::move(handler)};
    return next_sid++;
  }
  void Unsubscribe(uint64_t sid) override { subs.erase(sid); }
  void Publish(std::string_view subject, std::string_view reply,
               std::string_view payload) override {
    sent.push_back(Sent{std::string(subject), std::string(reply), std::string(payload)});
    // Loop back to our own subscriptions: literal subjects, a trailing ".*" or ".>".
    for (auto& [sid, s] : std::map<uint64_t, Sub>(subs)) {
      bool match = s.subject == subject;
      bool star = s.subject.size() > 2 && s.subject.compare(s.subject.size() - 2, 2, ".*") == 0;
      bool tail = s.subject.size() > 2 && s.subject.compare(s.subject.size() - 2, 2, ".>") == 0;
      if (!match && (star || tail)) {
        std::string prefix = s.subject.substr(0, s.subject.size() - 1);
        match = subject.size() > prefix.size() && subject.substr(0, prefix.size()) == prefix &&
                (tail || subject.find('.', prefix.size()) == std::string_view::npos);
      }
      if (match && subs.count(sid)) {
        s.handler(InboundMsg{subject, reply, {}, payload, sender, permissions});
      }
    }
  }
  std::string NewInbox() override { return "_INBOX.fake" + std::to_string(inbox_counter++); }
  bool SubscribedBy(uint64_t conn, std::string_view subject) override {
    return held.count({conn, std::string(subject)}) > 0;
  }
  bool HasInterest(std::string_view) override { return interest; }
  std::string_view UserOf(uint64_t conn) override {
    auto it = users.find(conn);
    return it == users.end() ? std::string_view() : std::string_view(it->second);
  }

  // The connection every Publish comes from (InboundMsg::sender; 0: in-process), and the
  // (connection, literal subject) subscriptions that SubscribedBy reports.
  uint64_t sender = 0;
  std::set<std::pair<uint64_t, std::string>> held;
  // What HasInterest answers; each connection's user (UserOf); the permissions every Publish
  // carries (InboundMsg::permissions).
  bool interest = true;
  std::map<uint64_t, std::string> users;
  SubjectPermissions* permissions = nullptr;

  std::map<uint64_t, Sub> subs;
  std::vector<Sent> sent;
  uint64_t next_sid = 1;
  uint64_t inbox_counter = 0;
};

class FakeStore : public store::Store {
 public:
  struct Pending {
    store::WriteBatch batch;
    CommitDone applied;  // empty after ApplyOne
    CommitDone done;
  };
  Result<store::Recovered> Recover() override { return store::Recovered{}; }
  void Submit(store::WriteBatch batch, CommitDone done) override {
    submitted.push_back(Pending{std::move(batch), nullptr, std::move(done)});
  }
  void SubmitStaged(store::WriteBatch batch, CommitDone applied, CommitDone done) override {
    submitted.push_back(Pending{std::move(batch), std::move(applied), std::move(done)});
  }
  void ReadMsgs(int64_t, uint64_t, size_t, ReadDone done) override {
    reads.push_back(std::move(done));
  }
  void FindSeqByTime(int64_t, int64_t, SeqDone done) override { finds.push_back(std::move(done)); }
  Status Close() override { return Status::OK(); }
  uint64_t epoch() const override { return 1; }
  const store::StoreIdentity& identity() const override { return identity_; }
  store::StoreIdentity identity_;
  Status health() const override { return error; }

  // Commits the oldest submitted batch with `s`: its applied completion runs, and it waits in
  // `syncing` for SyncOne.
  void ApplyOne(const Status& s = Status::OK()) {
    Pending p = std::move(submitted.front());
    submitted.pop_front();
    if (!s.ok()) error = s;
    if (p.applied) p.applied(s, store::BatchResult{});
    p.applied = nullptr;
    syncing.push_back(std::move(p));
  }
  // Syncs the oldest applied batch with `s`: its durable completion runs.
  void SyncOne(const Status& s = Status::OK()) {
    Pending p = std::move(syncing.front());
    syncing.pop_front();
    if (!s.ok()) error = s;
    p.done(s, store::BatchResult{});
  }
  // Completes the oldest batch with `s`: applies it unless it was, then syncs it.
  void CompleteOne(const Status& s = Status::OK()) {
    if (syncing.empty()) ApplyOne(s);
    SyncOne(s);
  }

  std::deque<Pending> syncing;
  std::deque<Pending> submitted;
  std::vector<ReadDone> reads;
  std::vector<SeqDone> finds;
  Status error;
};

}  // namespace tandem::server::test
