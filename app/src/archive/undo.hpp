#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "archive/restore_plan.hpp"
#include "redisdr/redis_connection.hpp"

namespace redisdr::archive {

struct UndoRequest {
    std::string directory;                 // the archive; the caller keeps adding segments to it while undo runs
    BasePoint base;                        // a verified backup from before the first command undone
    std::set<std::uint64_t> skip;          // the units to undo, by end offset (printCommandLog)
    std::chrono::milliseconds catchUpWait{30000};  // for the archive to reach the live master's offset
    std::chrono::milliseconds replicatedWait{30000};  // for a replica to confirm the undo's writes (WAIT 1)
    int attempts = 20;
};

// Two scratch servers that hold the base, and the live master.
struct UndoServers {
    RedisConnection& without;  // gets the archive without the skipped units: the state wanted
    RedisConnection& with;     // gets all of it: what the live master should hold now
    RedisConnection& live;
};

struct UndoResult {
    std::uint64_t throughOffset = 0;  // the archive offset both replays reached
    std::uint64_t skippedCommands = 0;
    std::size_t keysSet = 0;          // RESTOREd to their value without the skipped units
    std::size_t keysDeleted = 0;      // which do not exist without them
    std::chrono::milliseconds held{0};       // the script ran this long on the master: writes waited
    std::chrono::milliseconds roundTrip{0};  // sending it (every key's payload) and its answer
    int attempts = 0;
    long long replicasConfirmed = 0;  // replicas that acknowledged the undo's writes (WAIT)
};

// Puts the live master into the state it would have had if the skipped units had never run,
// keeping every other write, before and after them. Both scratch servers replay the archive
// up to the live master's offset; the keys that differ between them are the difference. One
// script (src/scripts/undo_apply.lua) checks that each still holds what the full replay says
// (else a write came after the archived position: catch up and try again) and only then
// replaces them all: the live master holds other writes only while that script runs. Not
// WATCH (quadratic in the keys watched, redis/redis src/multi.c watchForKey), not CLIENT PAUSE
// WRITE (it would hold our own writes too: processCommand in src/server.c blocks every client
// but replicas). A write that reads a changed key into an unchanged one (SUNIONSTORE, a
// script) after the skipped units is not followed: undo sees only keys.
UndoResult undo(const UndoRequest& request, const UndoServers& servers, const std::function<void(const std::string&)>& log);

}  // namespace redisdr::archive
