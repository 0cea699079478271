#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "archive/command_stream.hpp"
#include "archive/segment_spool.hpp"

namespace redisdr::archive {

// A command of the stream with the database it ran in.
struct UnitCommand {
    StreamCommand command;
    int db = 0;
};

// What a restore can keep or leave out as a whole: one command, or a MULTI ... EXEC with
// everything in it (a transaction, or the effects of a script, which Redis propagates that way).
struct StreamUnit {
    std::vector<UnitCommand> commands;
    std::uint64_t endOffset = 0;  // the offset once the unit is applied: how logs and undo name it
    std::int64_t atMs = 0;        // when its last bytes arrived (the segment's first mark at or after endOffset)
};

// Reads the units of `segments` (in stream order, whole files in `directory`) that end after
// `fromOffset` and at or before `stopOffset`, and hands each to `onUnit`; `onSegment` follows
// each segment. Throws when a segment's file is missing or its size is not its manifest's.
void forEachUnit(const std::vector<SegmentInfo>& segments, const std::string& directory, std::uint64_t fromOffset, std::uint64_t stopOffset,
                 const std::function<void(StreamUnit&)>& onUnit, const std::function<void()>& onSegment = {});

bool isCommand(const StreamCommand& command, const char* name);

// SELECT, MULTI, EXEC and the link's own commands: the frame around data, never data.
bool isFraming(const StreamCommand& command);

// Neither framing nor a PUBLISH or SPUBLISH: a command that changes the data.
bool changesData(const StreamCommand& command);

// A command that changes keys it does not name (FLUSHALL, FLUSHDB, SWAPDB).
bool touchesUnnamedKeys(const StreamCommand& command);

}  // namespace redisdr::archive
