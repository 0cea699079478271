#include <gtest/gtest.h>

#include "redisdr/retry_policy.hpp"

using namespace std::chrono_literals;
using redisdr::Clock;
using redisdr::RetryPolicy;

TEST(RetryPolicy, GrowsExponentiallyUpToTheCap) {
    RetryPolicy policy(25ms, 400ms, 1);
    EXPECT_EQ(policy.ceiling(1), 25ms);
    EXPECT_EQ(policy.ceiling(2), 50ms);
    EXPECT_EQ(policy.ceiling(4), 200ms);
    EXPECT_EQ(policy.ceiling(5), 400ms);
    EXPECT_EQ(policy.ceiling(60), 400ms);
}

TEST(RetryPolicy, JittersWithinHalfToFullStep) {
    RetryPolicy policy(100ms, 1000ms, 7);
    const auto now = Clock::now();
    for (int i = 0; i < 200; ++i) {
        auto delay = policy.nextDelay(3, now, now + 10s);
        ASSERT_TRUE(delay.has_value());
        EXPECT_GE(*delay, 200ms);
        EXPECT_LE(*delay, 400ms);
    }
}

TEST(RetryPolicy, NeverSleepsPastTheDeadline) {
    RetryPolicy policy(25ms, 400ms, 3);
    const auto now = Clock::now();
    EXPECT_FALSE(policy.nextDelay(1, now, now).has_value());
    EXPECT_FALSE(policy.nextDelay(1, now, now + 30ms).has_value());  // a 12-25 ms pause plus a 25 ms try never fits
    for (unsigned attempt = 1; attempt < 20; ++attempt) {
        auto delay = policy.nextDelay(attempt, now, now + 300ms);
        if (delay) {
            EXPECT_LE(*delay + 25ms, 300ms);
        }
    }
}
