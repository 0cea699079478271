#pragma once

#include <chrono>

namespace redisdr {

// The one clock for deadlines, back-off and "time since": monotonic, never wall time.
using Clock = std::chrono::steady_clock;

}  // namespace redisdr
