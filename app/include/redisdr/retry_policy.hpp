#pragma once

#include <chrono>
#include <optional>
#include <random>

#include "redisdr/clock.hpp"

namespace redisdr {

// Exponential backoff with "equal jitter" (a random pause between half and all of
// the exponential step), never sleeping past the caller's deadline.
class RetryPolicy {
public:
    RetryPolicy(std::chrono::milliseconds initial, std::chrono::milliseconds max, unsigned seed = std::random_device{}())
        : initial_(initial), max_(max), rng_(seed) {}

    // The pause before retry number `attempt` (1-based), or nullopt if waiting it
    // would leave no time before `deadline` to try again.
    std::optional<std::chrono::milliseconds> nextDelay(unsigned attempt, Clock::time_point now,
                                                        Clock::time_point deadline);

    // Upper bound of the delay for `attempt` before jitter.
    std::chrono::milliseconds ceiling(unsigned attempt) const;

private:
    std::chrono::milliseconds initial_;
    std::chrono::milliseconds max_;
    std::mt19937 rng_;
};

}  // namespace redisdr
