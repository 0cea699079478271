#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "redisdr/redis_connection.hpp"

// POST /counter/{name}/incr in Redis terms: a bare INCR, or, with an Idempotency-Key, an
// increment that counts once per key however often it is sent (src/scripts/idempotent_incr.lua).
namespace redisdr {

// An Idempotency-Key header as sent: absent (no key, no problem), a key, or why it is refused.
struct IdempotencyKeyHeader {
    std::optional<std::string> key;
    std::string problem;
};

// VALUES are every Idempotency-Key field of the request (more than one is refused).
IdempotencyKeyHeader parseIdempotencyKey(const std::vector<std::string>& values);

// The command that increments counter NAME; with KEY, its outcome is kept for KEEP.
std::vector<std::string> incrementCommand(const std::string& name, const std::optional<std::string>& key,
                                          std::chrono::seconds keep);

struct Increment {
    long long value = 0;
    bool replayed = false;  // this key counted earlier: VALUE is what it counted then
};

// The outcome in the reply to incrementCommand; nothing for an error reply.
std::optional<Increment> readIncrement(const Reply& reply);

}  // namespace redisdr
