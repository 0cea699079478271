#include "redisdr/retry_policy.hpp"

#include <algorithm>

namespace redisdr {

std::chrono::milliseconds RetryPolicy::ceiling(unsigned attempt) const {
    auto exponent = std::min(attempt == 0 ? 0U : attempt - 1, 16U);
    const std::chrono::milliseconds grown = initial_ * (1LL << exponent);
    return std::min(grown, max_);
}

std::optional<std::chrono::milliseconds> RetryPolicy::nextDelay(unsigned attempt, Clock::time_point now,
                                                                 Clock::time_point deadline) {
    if (now >= deadline) return std::nullopt;
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    auto top = ceiling(attempt);
    std::uniform_int_distribution<long long> jitter(top.count() / 2, top.count());
    std::chrono::milliseconds delay(jitter(rng_));
    // Keep at least one initial interval for the retry itself.
    if (delay + initial_ > remaining) return std::nullopt;
    return delay;
}

}  // namespace redisdr
