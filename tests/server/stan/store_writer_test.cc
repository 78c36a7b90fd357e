// store_writer_test.cc: the loop side of group commit: two batches in flight (submitted, not
// yet applied) while the next fills, any number waiting for their sync, applied and durable
// continuations after their own batch, early sealing, sticky errors, Drain, and no call into
// the owner but its continuations (the owner completes and flushes each batch).
#include "server/stan/store_writer.h"

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/server/stan/stan_fakes.h"

namespace tandem::server {

TEST_SUITE("store_writer") {
  TEST_CASE("store_writer: two batches in flight, the next one fills meanwhile") {
    test::FakeStore store;
    StoreWriter w(&store);
    std::vector<int> ran;
    w.batch().DeleteClient("a");
    w.OnCommit([&](const Status& s, const store::BatchResult&) { ran.push_back(1); });
    CHECK(w.room_for_current());
    w.Flush();  // the owner's pass submits
    REQUIRE(store.submitted.size() == 1);
    CHECK(store.submitted.front().batch.size() == 1);

    w.batch().DeleteClient("b");
    w.OnCommit([&](const Status& s, const store::BatchResult&) { ran.push_back(2); });
    w.Flush();
    CHECK(store.submitted.size() == 2);  // the second one goes while the first is in flight

    w.batch().DeleteClient("c");
    w.batch().DeleteClient("d");
    w.OnCommit([&](const Status& s, const store::BatchResult&) { ran.push_back(3); });
    CHECK_FALSE(w.room_for_current());
    w.Flush();
    CHECK(store.submitted.size() == 2);  // two in flight: the third one waits and fills
    CHECK_FALSE(w.idle());

    store.CompleteOne();
    CHECK(ran == std::vector<int>{1});
    // The batch being filled is the owner's to complete: the completion leaves it alone.
    CHECK(store.submitted.size() == 1);
    CHECK(w.room_for_current());
    w.Flush();
    REQUIRE(store.submitted.size() == 2);
    CHECK(store.submitted.back().batch.size() == 2);
    store.CompleteOne();
    store.CompleteOne();
    CHECK(ran == std::vector<int>{1, 2, 3});
    CHECK(w.idle());
    CHECK(w.batches_committed() == 3);
    w.Close();
  }

  TEST_CASE("store_writer: a batch waiting for its sync does not hold the next one back") {
    // In flight means submitted and not yet applied: once a batch has committed, the next one
    // goes to the store and joins the next sync instead of waiting for the earlier syncs.
    test::FakeStore store;
    StoreWriter w(&store);
    std::vector<std::string> events;
    for (int i = 1; i <= 4; ++i) {
      w.batch().DeleteClient("c" + std::to_string(i));
      w.OnApplied([&events, i](const Status& s, const store::BatchResult&) {
        events.push_back("applied " + std::to_string(i));
      });
      w.OnCommit([&events, i](const Status& s, const store::BatchResult&) {
        events.push_back("durable " + std::to_string(i));
      });
      w.Flush();
      if (i == 2) {
        CHECK_FALSE(w.room_for_current());
        store.ApplyOne();  // batch 1 committed, its sync still to come
        store.ApplyOne();  // batch 2 as well
        CHECK(w.room_for_current());
      }
    }
    // Batches 3 and 4 are with the store although 1 and 2 are not durable yet.
    CHECK(store.submitted.size() == 2);
    CHECK(store.syncing.size() == 2);
    CHECK_FALSE(w.room_for_current());
    CHECK(events == std::vector<std::string>{"applied 1", "applied 2"});
    store.ApplyOne();
    store.SyncOne();
    CHECK(events == std::vector<std::string>{"applied 1", "applied 2", "applied 3", "durable 1"});
    CHECK_FALSE(w.idle());
    store.ApplyOne();
    while (!store.syncing.empty()) store.SyncOne();
    CHECK(events == std::vector<std::string>{"applied 1", "applied 2", "applied 3", "durable 1",
                                             "applied 4", "durable 2", "durable 3", "durable 4"});
    CHECK(w.idle());
    CHECK(w.batches_committed() == 4);
    w.Close();
  }

  TEST_CASE("store_writer: a batch without durable continuations is submitted unwaited") {
    // Nobody waits for its sync (positions, acks): the store may let it share the next one.
    // Monitoring times it to its commit, since its sync may be held back on purpose.
    test::FakeStore store;
    StoreWriter w(&store);
    std::vector<size_t> observed;
    w.SetCommitObserver([&](size_t ops, int64_t) { observed.push_back(ops); });
    w.batch().DeleteClient("a");
    w.OnApplied([](const Status&, const store::BatchResult&) {});
    w.Flush();
    w.batch().DeleteClient("b");
    w.batch().DeleteClient("c");
    w.OnCommit([](const Status&, const store::BatchResult&) {});
    w.Flush();
    REQUIRE(store.submitted.size() == 2);
    CHECK(store.submitted[0].batch.unwaited());
    CHECK_FALSE(store.submitted[1].batch.unwaited());
    store.ApplyOne();
    CHECK(observed == std::vector<size_t>{1});  // the unwaited one, at its commit
    store.ApplyOne();
    CHECK(observed == std::vector<size_t>{1});  // the waited one only once durable
    store.SyncOne();
    store.SyncOne();
    CHECK(observed == std::vector<size_t>{1, 2});
    CHECK(w.idle());
    CHECK(w.batches_committed() == 2);
    w.Close();
  }

  TEST_CASE("store_writer: a failed sync reaches the durable continuations only") {
    test::FakeStore store;
    StoreWriter w(&store);
    int errors = 0;
    std::vector<std::string> events;
    w.SetOnError([&](const Status&) { ++errors; });
    w.batch().DeleteClient("a");
    w.OnApplied([&](const Status& s, const store::BatchResult&) {
      events.push_back(s.ok() ? "applied ok" : "applied failed");
    });
    w.OnCommit([&](const Status& s, const store::BatchResult&) {
      events.push_back(s.ok() ? "durable ok" : "durable failed");
    });
    w.Flush();
    store.ApplyOne();
    CHECK(errors == 0);
    store.SyncOne(Status::IOError("wal", "fdatasync"));
    CHECK(events == std::vector<std::string>{"applied ok", "durable failed"});
    CHECK(errors == 1);
    CHECK(w.error().IsIOError());
    w.Close();
  }

  TEST_CASE("store_writer: a failed commit is sticky and reported once") {
    test::FakeStore store;
    {
      StoreWriter w(&store);
      int errors = 0;
      std::vector<bool> oks;
      w.SetOnError([&](const Status&) { ++errors; });
      w.batch().DeleteClient("a");
      w.OnCommit([&](const Status& s, const store::BatchResult&) { oks.push_back(s.ok()); });
      w.Flush();
      store.CompleteOne(Status::IOError("disk", "full"));
      CHECK(errors == 1);
      CHECK(w.error().IsIOError());
      // Later batches are not submitted; their continuations learn the error.
      w.batch().DeleteClient("b");
      w.OnCommit([&](const Status& s, const store::BatchResult&) { oks.push_back(s.ok()); });
      w.Flush();
      CHECK(store.submitted.empty());
      CHECK(oks == std::vector<bool>{false, false});
      CHECK(errors == 1);
      w.Close();
    }
  }

  TEST_CASE("store_writer: Drain waits for what is queued and in flight") {
    test::FakeStore store;
    {
      StoreWriter w(&store);
      int drained = 0;
      w.Drain([&] { ++drained; });
      CHECK(drained == 1);  // idle: at once
      w.batch().DeleteClient("a");
      w.Flush();
      w.batch().DeleteClient("b");
      w.Close();
      w.Drain([&] { ++drained; });
      CHECK(drained == 1);
      store.CompleteOne();
      CHECK(drained == 1);
      REQUIRE(store.submitted.size() == 1);  // after Close the writer submits by itself
      store.CompleteOne();
      CHECK(drained == 2);
    }
  }

  TEST_CASE("store_writer: a continuation may submit the next batch at once, in order") {
    // How the streaming layer uses it: its continuation of each batch completes and flushes the
    // batch being filled before anything else, so the store does not wait for the loop.
    test::FakeStore store;
    StoreWriter w(&store);
    std::vector<std::string> events;
    w.batch().DeleteClient("a");
    w.OnCommit([&](const Status& s, const store::BatchResult&) {
      events.push_back("a committed");
      w.batch().DeleteClient("from-continuation");
      w.Flush();
      events.push_back(std::to_string(store.submitted.size()) + " in flight");
    });
    w.Flush();
    w.batch().DeleteClient("b");  // fills while "a" is in flight
    store.CompleteOne();
    CHECK(events == std::vector<std::string>{"a committed", "1 in flight"});
    REQUIRE(store.submitted.size() == 1);
    CHECK(store.submitted.front().batch.size() == 2);  // "b" and what the continuation added
    store.CompleteOne();
    CHECK(w.idle());
    w.Close();
  }

  TEST_CASE("store_writer: a full batch is closed early and waits its turn, in order") {
    test::FakeStore store;
    {
      StoreWriter w(&store);
      std::vector<int> ran;
      // One op in flight, then 2.5 seals' worth of ops with a continuation after each op.
      w.batch().DeleteClient("first");
      w.Flush();
      REQUIRE(store.submitted.size() == 1);
      const size_t n = StoreWriter::kSealOps * 5 / 2;
      for (size_t i = 0; i < n; ++i) {
        w.batch().DeleteClient("c");
        const int id = static_cast<int>(i);
        w.OnCommit([&ran, id](const Status&, const store::BatchResult&) { ran.push_back(id); });
        if (w.full()) w.Seal();
      }
      CHECK_FALSE(w.full());
      CHECK(store.submitted.size() == 1);  // sealing does not submit by itself
      CHECK_FALSE(w.room_for_current());   // sealed batches go first
      std::vector<size_t> sizes;           // of each batch submitted after "first", in order
      w.Flush();                           // room for one more: the oldest sealed batch
      REQUIRE(store.submitted.size() == 2);
      sizes.push_back(store.submitted.back().batch.size());
      w.Flush();  // two in flight: nothing moves
      CHECK(store.submitted.size() == 2);
      for (int round = 0; round < 6 && !store.submitted.empty(); ++round) {
        const size_t before = store.submitted.size();
        store.CompleteOne();  // Done submits the next sealed batch at once
        w.Flush();            // then the owner's pass: the batch being filled
        if (store.submitted.size() == before) sizes.push_back(store.submitted.back().batch.size());
      }
      CHECK(sizes == std::vector<size_t>{StoreWriter::kSealOps, StoreWriter::kSealOps,
                                         n - 2 * StoreWriter::kSealOps});
      REQUIRE(ran.size() == n);
      for (size_t i = 0; i < n; ++i) REQUIRE(ran[i] == static_cast<int>(i));
      CHECK(w.idle());
      w.Close();
    }
  }
}

}  // namespace tandem::server
