// Counter increments with an Idempotency-Key, against real redis-server and redis-sentinel
// processes: a retry counts nothing, on the master it was sent to and after a failover.
#include <gtest/gtest.h>

#include "sentinel_group.hpp"
#include "service_process.hpp"

using namespace std::chrono_literals;
using namespace redisdr::testing;

namespace {

class IdempotentIncrements : public ::testing::Test {
protected:
    void SetUp() override { group_.start(); }
    int master() const { return group_.indexOf(group_.masterBySentinel(0)); }
    std::string counted(int node, const std::string& name) const { return group_.redis(node, {"GET", "counter:" + name}).str; }
    SentinelGroup group_;
};

bool says(const Service::Result& r, const std::string& fragment) { return r.body.find(fragment) != std::string::npos; }

}  // namespace

TEST_F(IdempotentIncrements, CountsOncePerKeyAndAnswersEveryRetryAsTheFirstTime) {
    Service service(group_);
    ASSERT_TRUE(waitUntil([&] { return service.probe("/readyz").status == 200; }, 10s)) << service.log();

    const auto first = service.increment("orders", {"order-7f3a"});
    EXPECT_EQ(first.status, 200) << first.body;
    EXPECT_TRUE(says(first, "\"value\":1")) << first.body;
    EXPECT_EQ(first.replayed, "");
    const auto again = service.increment("orders", {"order-7f3a"});
    EXPECT_EQ(again.status, 200) << again.body;
    EXPECT_TRUE(says(again, "\"value\":1")) << again.body;
    EXPECT_EQ(again.replayed, "true");
    // The draft's structured-field form names the same key.
    EXPECT_TRUE(says(service.increment("orders", {"\"order-7f3a\""}), "\"value\":1"));
    EXPECT_TRUE(says(service.increment("orders", {"order-9c21"}), "\"value\":2"));
    EXPECT_TRUE(says(service.increment("orders"), "\"value\":3"));  // no key: counts every time
    // A key belongs to its counter: the same key on another one counts there.
    EXPECT_TRUE(says(service.increment("refunds", {"order-7f3a"}), "\"value\":1"));
    EXPECT_EQ(counted(master(), "orders"), "3");

    const auto ttl = group_.redis(master(), {"PTTL", "idempotency:counter:6:orders:order-7f3a"});
    EXPECT_GT(ttl.integer, 3500 * 1000) << "kept for IDEMPOTENCY_KEEP_SECONDS (3600 by default)";
    EXPECT_LE(ttl.integer, 3600 * 1000);

    for (const std::vector<std::string>& bad : {std::vector<std::string>{"has space"}, {std::string(256, 'k')}, {""}, {"a", "b"}}) {
        const auto refused = service.increment("orders", bad);
        EXPECT_EQ(refused.status, 400) << refused.body;
        EXPECT_TRUE(says(refused, "Idempotency-Key")) << refused.body;
    }
    EXPECT_EQ(counted(master(), "orders"), "3");
}

TEST_F(IdempotentIncrements, ARetryAfterAFailoverFindsTheIncrementOnTheNewMaster) {
    Service service(group_, {{"REDIS_WAIT_REPLICAS", "2"}, {"REDIS_WAIT_TIMEOUT_MS", "1000"}});
    ASSERT_TRUE(waitUntil([&] { return service.probe("/readyz").status == 200; }, 10s)) << service.log();
    ASSERT_TRUE(says(service.increment("shipments", {"before-failover"}), "\"value\":1"));
    const auto oldMaster = group_.masterBySentinel(0);
    ASSERT_EQ(group_.sentinel(0, {"SENTINEL", "FAILOVER", SentinelGroup::kMasterName}).str, "OK");
    ASSERT_TRUE(waitUntil([&] { return group_.masterBySentinel(0) != oldMaster; }, 20s));

    // The service retries a keyed increment through the switch itself; the client's own retry
    // (here, until the new master answers) counts nothing either.
    Service::Result retry;
    ASSERT_TRUE(waitUntil([&] { return (retry = service.increment("shipments", {"before-failover"})).status == 200; }, 20s)) << retry.body;
    EXPECT_TRUE(says(retry, "\"value\":1")) << retry.body;
    EXPECT_EQ(retry.replayed, "true");
    EXPECT_TRUE(says(service.increment("shipments", {"after-failover"}), "\"value\":2"));
    EXPECT_EQ(counted(master(), "shipments"), "2");
}

TEST_F(IdempotentIncrements, AnswersARetryOfAnUnconfirmedIncrementOnceTheReplicasHaveIt) {
    Service service(group_, {{"REDIS_WAIT_REPLICAS", "2"}, {"REDIS_WAIT_TIMEOUT_MS", "300"}});
    ASSERT_TRUE(waitUntil([&] { return service.probe("/readyz").status == 200; }, 10s)) << service.log();
    const int m = master();
    const int replica = (m + 1) % 3;
    group_.killRedis(replica);
    const auto unconfirmed = service.increment("payments", {"while-degraded"});
    EXPECT_EQ(unconfirmed.status, 503) << unconfirmed.body;
    EXPECT_TRUE(says(unconfirmed, "\"value\":1")) << unconfirmed.body;

    group_.restartRedisAsReplica(replica);
    ASSERT_TRUE(waitUntil([&] { return group_.onlineReplicas(m) == 2; }, 20s));
    const auto confirmed = service.increment("payments", {"while-degraded"});
    EXPECT_EQ(confirmed.status, 200) << confirmed.body;
    EXPECT_TRUE(says(confirmed, "\"value\":1")) << confirmed.body;
    EXPECT_EQ(confirmed.replayed, "true");
    EXPECT_EQ(counted(m, "payments"), "1");
    EXPECT_EQ(counted(replica, "payments"), "1");
}
