// store_writer_test.cc: the loop side of group commit: two batches in flight while the next
// fills, continuations after their own batch, early sealing, sticky errors, Drain.
#include "server/stan/store_writer.h"

#include <uv.h>

#include <doctest/doctest.h>

#include "tests/server/stan/stan_fakes.h"

namespace tandem::server {

TEST_SUITE("store_writer") {
  TEST_CASE("store_writer: two batches in flight, the next one fills meanwhile") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    // The writer's prepare handle does not keep a loop alive; a server's listener does.
    uv_timer_t keep_alive;
    uv_timer_init(&loop, &keep_alive);
    uv_timer_start(
        &keep_alive, [](uv_timer_t*) {}, 100000, 0);
    test::FakeStore store;
    {
      StoreWriter w(&loop, &store);
      std::vector<int> ran;
      w.batch().DeleteClient("a");
      w.OnCommit([&](const Status& s, const store::BatchResult&) { ran.push_back(1); });
      uv_run(&loop, UV_RUN_NOWAIT);  // the prepare pass submits
      REQUIRE(store.submitted.size() == 1);
      CHECK(store.submitted.front().batch.size() == 1);

      w.batch().DeleteClient("b");
      w.OnCommit([&](const Status& s, const store::BatchResult&) { ran.push_back(2); });
      uv_run(&loop, UV_RUN_NOWAIT);
      CHECK(store.submitted.size() == 2);  // the second one goes while the first is in flight

      w.batch().DeleteClient("c");
      w.batch().DeleteClient("d");
      w.OnCommit([&](const Status& s, const store::BatchResult&) { ran.push_back(3); });
      uv_run(&loop, UV_RUN_NOWAIT);
      CHECK(store.submitted.size() == 2);  // two in flight: the third one waits and fills
      CHECK_FALSE(w.idle());

      store.CompleteOne();
      CHECK(ran == std::vector<int>{1});
      REQUIRE(store.submitted.size() == 2);  // the completion submitted the waiting one
      CHECK(store.submitted.back().batch.size() == 2);
      store.CompleteOne();
      store.CompleteOne();
      CHECK(ran == std::vector<int>{1, 2, 3});
      CHECK(w.idle());
      CHECK(w.batches_committed() == 3);
      w.Close();
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&keep_alive), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }

  TEST_CASE("store_writer: a failed commit is sticky and reported once") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    test::FakeStore store;
    {
      StoreWriter w(&loop, &store);
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
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }

  TEST_CASE("store_writer: Drain waits for what is queued and in flight") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    test::FakeStore store;
    {
      StoreWriter w(&loop, &store);
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
      REQUIRE(store.submitted.size() == 1);  // submitted without a prepare pass after Close
      store.CompleteOne();
      CHECK(drained == 2);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }

  TEST_CASE("store_writer: the before-submit hook runs once per submission") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    test::FakeStore store;
    {
      StoreWriter w(&loop, &store);
      int hooks = 0;
      w.SetBeforeSubmit([&] {
        if (++hooks <= 3) w.batch().DeleteClient("from-hook");
      });
      w.Flush();
      CHECK(hooks == 1);
      REQUIRE(store.submitted.size() == 1);
      w.Flush();  // room for a second batch: the hook adds to it
      CHECK(hooks == 2);
      REQUIRE(store.submitted.size() == 2);
      w.Flush();  // two in flight: the hook does not run
      CHECK(hooks == 2);
      store.CompleteOne();  // the completion submits again, after the hook
      CHECK(hooks == 3);
      w.Close();
      for (int i = 0; i < 4 && !store.submitted.empty(); ++i) store.CompleteOne();
      CHECK(store.submitted.empty());
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
  TEST_CASE("store_writer: a full batch is closed early and waits its turn, in order") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    test::FakeStore store;
    {
      StoreWriter w(&loop, &store);
      int hooks = 0;
      w.SetBeforeSubmit([&] { ++hooks; });
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
        w.SealIfFull();
      }
      CHECK(hooks == 3);  // the first submission and two seals
      CHECK(store.submitted.size() == 1);  // sealing does not submit by itself
      std::vector<size_t> sizes;           // of each batch submitted after "first", in order
      w.Flush();                           // room for one more: the oldest sealed batch
      REQUIRE(store.submitted.size() == 2);
      sizes.push_back(store.submitted.back().batch.size());
      w.Flush();  // two in flight: nothing moves
      CHECK(store.submitted.size() == 2);
      for (int round = 0; round < 6 && !store.submitted.empty(); ++round) {
        const size_t before = store.submitted.size();
        store.CompleteOne();  // Done submits the next batch at once, if there is one
        if (store.submitted.size() == before) sizes.push_back(store.submitted.back().batch.size());
      }
      CHECK(sizes == std::vector<size_t>{StoreWriter::kSealOps, StoreWriter::kSealOps,
                                         n - 2 * StoreWriter::kSealOps});
      REQUIRE(ran.size() == n);
      for (size_t i = 0; i < n; ++i) REQUIRE(ran[i] == static_cast<int>(i));
      CHECK(w.idle());
      w.Close();
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
}

}  // namespace tandem::server
