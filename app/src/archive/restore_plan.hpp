#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "archive/segment_spool.hpp"

namespace redisdr::archive {

// Where a base backup stands in the stream: the repl-id and repl-offset aux fields of its RDB.
struct BasePoint {
    StreamPosition position;
};

// What the archive covers after a base: from the base's offset, through segments that follow
// each other without a gap, up to the last command received.
struct CoveredWindow {
    std::uint64_t startOffset = 0;
    std::uint64_t endOffset = 0;
    std::int64_t endAtMs = 0;     // when the last covered command arrived (0: nothing after the base)
    std::string endsBecause;      // "the newest segment", or the gap that ends it
};

// A recorded gap (a full resync of the archiver) a replay went across, told to: nothing is
// archived between the last command before it and the first after it.
struct CrossedGap {
    std::uint64_t lastOffset = 0;    // where the archive stops before it
    std::int64_t lastAtMs = 0;       // when the last command before it arrived
    std::uint64_t resumeOffset = 0;  // where the archive continues
    std::int64_t resumeAtMs = 0;     // when the first command after it arrived
    std::int64_t recordedAtMs = 0;   // when the archiver recorded the full resync
};

// Whether a chain may go on past a recorded gap (restore --allow-gap) or ends at it.
enum class GapPolicy { End, Cross };

// The segments to replay onto a base, and where to stop.
struct RestorePlan {
    BasePoint base;
    std::vector<SegmentInfo> segments;  // in stream order; the first holds base.offset (or starts at it)
    std::uint64_t stopOffset = 0;       // replay every command that ends at or before this offset
    std::int64_t stopAtMs = 0;          // when that command arrived
    CoveredWindow window;
    std::vector<CrossedGap> crossedGaps;  // before stopOffset, in stream order (GapPolicy::Cross only)
};

class RestoreRefused : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The chain from `base` and the cut: at the last command received at or before `untilMs`
// (none: the newest archived command). Refuses, naming the covered window, when the archive
// does not continue the base's history or `untilMs` lies past what it covers. The chain ends at
// a gap unless `gaps` is Cross, and then only at one the archiver recorded: a segment missing
// without a record is never crossed.
RestorePlan planRestore(std::vector<SegmentInfo> segments, const std::vector<GapInfo>& gaps, const BasePoint& base,
                        std::optional<std::int64_t> untilMs, GapPolicy gapPolicy = GapPolicy::End);

// One line on what a crossed gap leaves out of a replay.
std::string describeCrossedGap(const CrossedGap& gap);

// The same chain cut exactly at replication offset `offset` (a command boundary: a backup's
// repl-offset), to replay a base up to where a later backup stands. Refuses an offset before
// the base or past what the archive covers.
RestorePlan cutAtOffset(RestorePlan plan, std::uint64_t offset);

std::string formatMs(std::int64_t epochMs);  // RFC 3339, UTC, with milliseconds

}  // namespace redisdr::archive
