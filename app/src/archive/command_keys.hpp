#pragma once

#include <string>
#include <vector>

#include "redisdr/redis_connection.hpp"

namespace redisdr::archive {

// The keys commands name, as the server's own command table says (COMMAND GETKEYS; every key
// spec of redis/redis src/commands/*.json, EVAL's declared keys included), asked of a scratch
// server in pipelined batches. A command with no key arguments has none.
std::vector<std::vector<std::string>> keysOf(RedisConnection& server, const std::vector<const std::vector<std::string>*>& commands);

// A key as a log line shows it: printable ASCII as is, anything else (and the backslash) \xNN.
std::string printable(const std::string& key);

}  // namespace redisdr::archive
