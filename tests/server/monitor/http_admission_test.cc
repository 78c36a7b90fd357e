// http_admission_test.cc: the monitoring server's choice of which connection makes room for a
// newcomer over a limit (HttpAdmission), and the peer keys the per-peer limit counts by.
#include "server/monitor/http_admission.h"

#include <cstring>
#include <string>

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace tandem::server {
namespace {

using Phase = HttpAdmission::Phase;
using Limit = HttpAdmission::Limit;

TEST_SUITE("http_admission") {
  TEST_CASE("http_admission: below the limits everyone is admitted, nobody evicted") {
    HttpAdmission a(3, 2);
    HttpAdmission::Decision d = a.Admit("10.0.0.1");
    CHECK(d.admit);
    CHECK(d.limit == Limit::kNone);
    CHECK_FALSE(d.evict.has_value());
    a.Add(1, "10.0.0.1", 0);
    a.Add(2, "10.0.0.2", 0);
    CHECK(a.Admit("10.0.0.1").limit == Limit::kNone);
    CHECK(a.size() == 2);
    CHECK(a.peer_count("10.0.0.1") == 1);
  }

  TEST_CASE("http_admission: the oldest unfinished request goes first, then the longest idle") {
    HttpAdmission a(4, 0);
    a.Add(1, "p", 0);
    a.Add(2, "p", 10);
    a.Add(3, "p", 20);
    a.Add(4, "p", 30);
    a.SetPhase(1, Phase::kIdle, 40);     // completed a request: no longer a suspect
    a.SetPhase(2, Phase::kClosing, 40);  // answering its last request: never evicted
    HttpAdmission::Decision d = a.Admit("q");
    CHECK(d.admit);
    CHECK(d.limit == Limit::kGlobal);
    CHECK(d.evict == 3);  // in kRequest since 20, before 4 (since 30)

    a.SetPhase(3, Phase::kIdle, 50);
    a.SetPhase(4, Phase::kIdle, 45);
    CHECK(a.Admit("q").evict == 1);      // every candidate idle: the one idle since 40
    a.SetPhase(1, Phase::kRequest, 60);  // its next request began: a suspect again
    CHECK(a.Admit("q").evict == 1);

    // A request that started later on an old connection ranks by the time it started.
    HttpAdmission b(3, 0);
    b.Add(1, "p", 0);
    b.Add(2, "p", 10);
    b.Add(3, "p", 20);
    b.SetPhase(1, Phase::kIdle, 30);
    b.SetPhase(1, Phase::kRequest, 40);
    CHECK(b.Admit("q").evict == 2);
  }

  TEST_CASE("http_admission: refused only when every connection is answering") {
    HttpAdmission a(2, 0);
    a.Add(1, "p", 0);
    a.Add(2, "p", 0);
    a.SetPhase(1, Phase::kClosing, 1);
    a.SetPhase(2, Phase::kClosing, 1);
    HttpAdmission::Decision d = a.Admit("p");
    CHECK_FALSE(d.admit);
    CHECK(d.limit == Limit::kGlobal);
    CHECK_FALSE(d.evict.has_value());
    a.Remove(2);
    CHECK(a.Admit("p").admit);
    CHECK(a.Admit("p").limit == Limit::kNone);
  }

  TEST_CASE("http_admission: a peer at its limit only ever evicts its own connections") {
    HttpAdmission a(10, 2);
    a.Add(1, "victim", 0);     // oldest of all, still in its request
    a.Add(2, "attacker", 10);  // the attacker's older one
    a.Add(3, "attacker", 20);
    HttpAdmission::Decision d = a.Admit("attacker");
    CHECK(d.admit);
    CHECK(d.limit == Limit::kPeer);
    CHECK(d.evict == 2);
    // The other peer is under both limits.
    CHECK(a.Admit("victim").limit == Limit::kNone);
    // A peer whose connections are all answering is refused even though the server has room.
    a.SetPhase(2, Phase::kClosing, 30);
    a.SetPhase(3, Phase::kClosing, 30);
    CHECK_FALSE(a.Admit("attacker").admit);
    a.Remove(3);
    CHECK(a.peer_count("attacker") == 1);
    CHECK(a.Admit("attacker").admit);
  }

  TEST_CASE("http_admission: unknown ids are ignored, removal frees the peer's count") {
    HttpAdmission a(2, 1);
    a.SetPhase(7, Phase::kIdle, 0);
    a.Remove(7);
    a.Add(1, "p", 0);
    CHECK(a.Admit("p").evict == 1);
    a.Remove(1);
    a.Remove(1);
    CHECK(a.size() == 0);
    CHECK(a.peer_count("p") == 0);
    CHECK(a.Admit("p").limit == Limit::kNone);
  }

  TEST_CASE("http_admission: peer keys are the IPv4 address or the IPv6 /64") {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.7", &v4.sin_addr);
    CHECK(HttpAdmission::PeerKey(reinterpret_cast<sockaddr*>(&v4)) == "192.0.2.7");

    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", &v6.sin6_addr);
    CHECK(HttpAdmission::PeerKey(reinterpret_cast<sockaddr*>(&v6)) == "2001:db8:1:2::/64");
    sockaddr_in6 other = v6;
    inet_pton(AF_INET6, "2001:db8:1:2::1", &other.sin6_addr);
    CHECK(HttpAdmission::PeerKey(reinterpret_cast<sockaddr*>(&other)) == "2001:db8:1:2::/64");

    inet_pton(AF_INET6, "::ffff:10.1.2.3", &v6.sin6_addr);
    CHECK(HttpAdmission::PeerKey(reinterpret_cast<sockaddr*>(&v6)) == "10.1.2.3");

    sockaddr unix_like{};
    unix_like.sa_family = AF_UNIX;
    CHECK(HttpAdmission::PeerKey(&unix_like) == "unknown");
    CHECK(HttpAdmission::PeerKey(nullptr) == "unknown");
  }
}  // TEST_SUITE

}  // namespace
}  // namespace tandem::server
