#pragma once

#include <algorithm>
#include <chrono>
#include <string>

#include "redisdr/errors.hpp"

namespace redisdr {

// The one clock for deadlines, back-off and "time since": monotonic, never wall time.
using Clock = std::chrono::steady_clock;

// The time left before DEADLINE, capped at LIMIT: how long one connect or reply may be waited
// for, so no attempt outlives its request. Throws Deadline, naming WHAT, when none is left.
inline std::chrono::milliseconds timeLeft(std::chrono::milliseconds limit, Clock::time_point deadline, const char* what) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) throw RedisError(ErrorKind::Deadline, std::string("request deadline passed before ") + what);
    return std::min(limit, left);
}

}  // namespace redisdr
