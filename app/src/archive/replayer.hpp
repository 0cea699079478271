#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "archive/restore_plan.hpp"
#include "archive/stream_units.hpp"
#include "redisdr/redis_connection.hpp"

namespace redisdr::archive {

struct ReplayProgress {
    std::uint64_t segments = 0;
    std::uint64_t commands = 0;  // sent to the target
    std::uint64_t skipped = 0;   // left out on purpose (undo)
    std::uint64_t offset = 0;    // reached in the stream
};

// Sends the planned commands to `target` (a server holding the base), in pipelined batches,
// in stream order. Link commands (PING, REPLCONF) are not sent. A unit (a command, or a whole
// MULTI ... EXEC) whose end offset is in `skipEnds` is left out. Any error reply stops the
// replay: the target would no longer be the state the stream describes. `onUnit` sees every
// unit replayed or left out (`skipped`), after it was queued.
ReplayProgress replay(const RestorePlan& plan, const std::string& directory, RedisConnection& target, const std::set<std::uint64_t>& skipEnds,
                      const std::function<void(const ReplayProgress&)>& onSegment,
                      const std::function<void(const StreamUnit&, bool skipped)>& onUnit = {});

}  // namespace redisdr::archive
