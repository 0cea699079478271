#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "redisdr/redis_connection.hpp"

namespace redisdr::archive {

struct LogFilter {
    std::optional<std::int64_t> sinceMs;  // commands received at or after
    std::optional<std::int64_t> untilMs;  // and at or before
    // A command name (FLUSHALL, DEL: case-insensitive) or a glob that one of its keys matches.
    std::string match;
};

// Prints the archived data commands in `directory` that pass `filter`, one tab-separated line
// each: time received, offset (the end of its unit: what undo and --skip take; the commands of
// one transaction share it), database, command, keys. Keys come from `keyServer` (command_keys).
// Returns how many lines it printed.
std::uint64_t printCommandLog(const std::string& directory, const LogFilter& filter, RedisConnection& keyServer, std::ostream& out);

}  // namespace redisdr::archive
