// permission_set_test.cc: the permission rules of server/nats/permissions.h without a socket:
// allow lists, deny winning, wildcards on both sides, the delivery filter, allow_responses
// turning the blanket publish allow off, response grants (count and expiry), and the same
// rules seen as the streaming layer's SubjectPermissions.
#include "server/nats/permissions.h"

#include <doctest/doctest.h>

namespace tandem::server {

TEST_SUITE("permission_set") {
  TEST_CASE("permission_set: allow, deny and wildcards") {
    Permissions p;
    p.publish = SubjectRules{std::vector<std::string>{"orders.>", "status"}, {"orders.secret.*"}};
    p.subscribe = SubjectRules{std::vector<std::string>{"orders.*", "public.>"}, {"public.x"}};
    PermissionSet set(p);
    CHECK(set.CanPublish("orders.new"));
    CHECK(set.CanPublish("orders.a.b"));
    CHECK(set.CanPublish("status"));
    CHECK_FALSE(set.CanPublish("status.x"));
    CHECK_FALSE(set.CanPublish("orders.secret.a"));  // deny wins
    CHECK(set.CanPublish("orders.secret.a.b"));      // `*` is one token
    CHECK_FALSE(set.CanPublish("other"));
    CHECK_FALSE(set.CanPublish("other"));  // the cached answer is the same
    CHECK(set.CanSubscribe("orders.new"));
    CHECK(set.CanSubscribe("orders.*"));
    CHECK_FALSE(set.CanSubscribe("orders.a.b"));
    CHECK_FALSE(set.CanSubscribe(">"));
    CHECK(set.CanSubscribe("public.>"));
    CHECK_FALSE(set.CanSubscribe("public.x"));
    CHECK(set.has_subscribe_deny());
    CHECK(set.DeliveryDenied("public.x"));
    CHECK_FALSE(set.DeliveryDenied("public.y"));
  }

  TEST_CASE("permission_set: as SubjectPermissions, channel names follow the same rules") {
    Permissions p;
    p.publish = SubjectRules{std::vector<std::string>{"orders.>"}, {"orders.secret"}};
    p.subscribe = SubjectRules{std::vector<std::string>{"orders.*"}, {}};
    PermissionSet set(p);
    SubjectPermissions& channels = set;  // what the streaming layer is handed
    CHECK(channels.MayPublish("orders.a.b"));
    CHECK_FALSE(channels.MayPublish("orders.secret"));
    CHECK_FALSE(channels.MayPublish("billing"));
    CHECK(channels.MaySubscribe("orders.a"));
    CHECK_FALSE(channels.MaySubscribe("orders.a.b"));
  }

  TEST_CASE("permission_set: an empty allow list allows nothing; no rules allow all") {
    Permissions none;
    PermissionSet open(none);
    CHECK(open.CanPublish("a.b"));
    CHECK(open.CanSubscribe(">"));
    CHECK_FALSE(open.has_subscribe_deny());

    Permissions closed;
    closed.publish = SubjectRules{std::vector<std::string>{}, {}};
    PermissionSet set(closed);
    CHECK_FALSE(set.CanPublish("a"));
    CHECK(set.CanSubscribe("a"));
  }

  TEST_CASE("permission_set: allow_responses alone allows replies only") {
    Permissions p;
    p.responses = ResponsePermission{2, 1000};
    PermissionSet set(p);
    CHECK_FALSE(set.CanPublish("anything"));
    ResponseGrants grants;
    const ResponsePermission& rp = *set.responses();
    CHECK_FALSE(grants.Use("_INBOX.1", 0, rp));
    grants.Grant("_INBOX.1", 100, rp);
    CHECK(grants.Use("_INBOX.1", 200, rp));
    CHECK(grants.Use("_INBOX.1", 300, rp));
    CHECK_FALSE(grants.Use("_INBOX.1", 400, rp));  // max 2
    grants.Grant("_INBOX.2", 1000, rp);
    CHECK_FALSE(grants.Use("_INBOX.2", 2001, rp));  // expired after 1000 ms
  }
}

}  // namespace tandem::server
