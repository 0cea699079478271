#include <gtest/gtest.h>

#include "readiness.hpp"

TEST(Hysteresis, StartsUnreadyAndNeedsConsecutiveSuccesses) {
    redisdr::Hysteresis h(3, 2);
    EXPECT_FALSE(h.record(true));
    EXPECT_TRUE(h.record(true));
}

TEST(Hysteresis, OneFailedCheckDoesNotFlipIt) {
    redisdr::Hysteresis h(3, 2);
    h.record(true);
    h.record(true);
    EXPECT_TRUE(h.record(false));
    EXPECT_TRUE(h.record(false));
    EXPECT_TRUE(h.record(true));   // run broken: counting starts again
    EXPECT_TRUE(h.record(false));
    EXPECT_TRUE(h.record(false));
    EXPECT_FALSE(h.record(false));  // three in a row
    EXPECT_FALSE(h.record(true));
    EXPECT_TRUE(h.record(true));
}
