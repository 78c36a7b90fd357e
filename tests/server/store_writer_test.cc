// store_writer_test.cc: the loop side of group commit: one batch in flight while the next
// fills, continuations after their own batch, sticky errors, Drain.
#include "server/store_writer.h"

#include <uv.h>

#include <doctest/doctest.h>

#include "tests/server/stan_fakes.h"

namespace tandem::server {

TEST_SUITE("store_writer") {
  TEST_CASE("store_writer: one batch in flight, the next one fills meanwhile") {
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
      w.batch().DeleteClient("c");
      w.OnCommit([&](const Status& s, const store::BatchResult&) { ran.push_back(2); });
      uv_run(&loop, UV_RUN_NOWAIT);
      CHECK(store.submitted.size() == 1);  // still in flight: nothing more submitted
      CHECK_FALSE(w.idle());

      store.CompleteOne();
      CHECK(ran == std::vector<int>{1});
      uv_run(&loop, UV_RUN_NOWAIT);
      REQUIRE(store.submitted.size() == 1);
      CHECK(store.submitted.front().batch.size() == 2);
      store.CompleteOne();
      CHECK(ran == std::vector<int>{1, 2});
      CHECK(w.idle());
      CHECK(w.batches_committed() == 2);
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
        ++hooks;
        w.batch().DeleteClient("from-hook");
      });
      w.Flush();
      CHECK(hooks == 1);
      REQUIRE(store.submitted.size() == 1);
      w.Flush();  // in flight: the hook does not run
      CHECK(hooks == 1);
      store.CompleteOne();
      w.Close();
      store.CompleteOne();
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
      w.Flush();          // in flight: nothing moves
      CHECK(store.submitted.size() == 1);
      std::vector<size_t> sizes;
      for (int round = 0; round < 4 && !store.submitted.empty(); ++round) {
        store.CompleteOne();  // Done submits the next sealed batch at once
        if (store.submitted.empty()) w.Flush();
        if (!store.submitted.empty()) sizes.push_back(store.submitted.front().batch.size());
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
