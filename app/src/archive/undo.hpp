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
    // Keys per apply script. Each script holds the master; one longer than Sentinel's down-after
    // reads as a dead master. 10000 keys of 100 bytes ran about 50 ms here (1M took 4.2-5.1 s).
    std::size_t batchKeys = 10000;
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
    std::size_t scripts = 0;          // apply scripts run (batchKeys keys each at most)
    std::chrono::milliseconds held{0};       // the longest script ran this long on the master: writes waited
    std::chrono::milliseconds heldTotal{0};  // every script's run time together
    std::chrono::milliseconds roundTrip{0};  // sending them (every key's payload) and their answers
    int attempts = 0;
    long long replicasConfirmed = 0;  // replicas that acknowledged the undo's writes (WAIT)
};

// Puts the live master into the state it would have had if the skipped units had never run,
// keeping every other write, before and after them. Both scratch servers replay the archive
// up to the live master's offset; the keys that differ between them are the difference. They go
// in scripts of batchKeys keys (src/scripts/undo_apply.lua): each checks that its keys still
// hold what the full replay says (else a write came after the archived position: catch up and
// compare again, the batches already applied now matching) and only then replaces them: the
// live master holds other writes only while one script runs, and clients may see the keys of
// one batch undone before the next. Not
// WATCH (quadratic in the keys watched, redis/redis src/multi.c watchForKey), not CLIENT PAUSE
// WRITE (it would hold our own writes too: processCommand in src/server.c blocks every client
// but replicas). A write that reads a changed key into an unchanged one (SUNIONSTORE, a
// script) after the skipped units is not followed: undo sees only keys.
UndoResult undo(const UndoRequest& request, const UndoServers& servers, const std::function<void(const std::string&)>& log);

}  // namespace redisdr::archive
