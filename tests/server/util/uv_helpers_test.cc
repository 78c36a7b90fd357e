// uv_helpers_test.cc: the libuv helpers of server/util on a real loop: CloseHandles calls done
// once, after the last close callback; QueuePoolJob runs the work on the pool and `after` on the
// loop thread; IpLiteralAddress takes IPv4 and IPv6 literals and nothing else.
#include <uv.h>

#include <atomic>
#include <thread>

#include <doctest/doctest.h>

#include "server/util/close_handles.h"
#include "server/util/ip_literal.h"
#include "server/util/pool_job.h"

namespace tandem::server {

TEST_SUITE("uv_helpers") {
  TEST_CASE("uv_helpers: CloseHandles calls done once every handle is closed") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    uv_timer_t a, b;
    uv_idle_t c;
    uv_timer_init(&loop, &a);
    uv_timer_init(&loop, &b);
    uv_idle_init(&loop, &c);
    int done = 0;
    CloseHandles({reinterpret_cast<uv_handle_t*>(&a), reinterpret_cast<uv_handle_t*>(&b),
                  reinterpret_cast<uv_handle_t*>(&c)},
                 [&] {
                   ++done;
                   CHECK(uv_is_closing(reinterpret_cast<uv_handle_t*>(&a)));
                 });
    CHECK(done == 0);  // close callbacks run on the next loop pass, not inside uv_close
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(done == 1);
    CHECK(uv_loop_close(&loop) == 0);  // every handle is closed
  }

  TEST_CASE("uv_helpers: CloseHandles of no handle calls done at once") {
    int done = 0;
    CloseHandles({}, [&] { ++done; });
    CHECK(done == 1);
  }

  TEST_CASE("uv_helpers: QueuePoolJob runs work on the pool, then after on the loop") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    const std::thread::id loop_thread = std::this_thread::get_id();
    std::atomic<bool> worked{false};
    std::thread::id work_thread;
    int after_status = 1;
    int afters = 0;
    int rc = QueuePoolJob(
        &loop,
        [&] {
          work_thread = std::this_thread::get_id();
          worked = true;
        },
        [&](int status) {
          CHECK(std::this_thread::get_id() == loop_thread);
          CHECK(worked);
          after_status = status;
          ++afters;
        });
    REQUIRE(rc == 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(afters == 1);
    CHECK(after_status == 0);
    CHECK(work_thread != loop_thread);
    CHECK(uv_loop_close(&loop) == 0);
  }

  TEST_CASE("uv_helpers: IpLiteralAddress") {
    sockaddr_storage ss{};
    REQUIRE(IpLiteralAddress("127.0.0.1", 4222, &ss));
    CHECK(ss.ss_family == AF_INET);
    CHECK(ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port) == 4222);
    REQUIRE(IpLiteralAddress("::1", 80, &ss));
    CHECK(ss.ss_family == AF_INET6);
    CHECK(ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port) == 80);
    CHECK_FALSE(IpLiteralAddress("localhost", 80, &ss));
    CHECK_FALSE(IpLiteralAddress("[::1]", 80, &ss));
    CHECK_FALSE(IpLiteralAddress("", 80, &ss));
  }
}

}  // namespace tandem::server
