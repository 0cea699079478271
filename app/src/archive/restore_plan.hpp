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

// The segments to replay onto a base, and where to stop.
struct RestorePlan {
    BasePoint base;
    std::vector<SegmentInfo> segments;  // in stream order; the first holds base.offset (or starts at it)
    std::uint64_t stopOffset = 0;       // replay every command that ends at or before this offset
    std::int64_t stopAtMs = 0;          // when that command arrived
    CoveredWindow window;
};

class RestoreRefused : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The chain from `base` and the cut: at the last command received at or before `untilMs`
// (none: the newest archived command). Refuses, naming the covered window, when the archive
// does not continue the base's history or `untilMs` lies past what it covers.
RestorePlan planRestore(std::vector<SegmentInfo> segments, const std::vector<GapInfo>& gaps, const BasePoint& base,
                        std::optional<std::int64_t> untilMs);

// The same chain cut exactly at replication offset `offset` (a command boundary: a backup's
// repl-offset), to replay a base up to where a later backup stands. Refuses an offset before
// the base or past what the archive covers.
RestorePlan cutAtOffset(RestorePlan plan, std::uint64_t offset);

std::string formatMs(std::int64_t epochMs);  // RFC 3339, UTC, with milliseconds

}  // namespace redisdr::archive
