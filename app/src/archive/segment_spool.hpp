#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "archive/command_stream.hpp"
#include "archive/replication_link.hpp"
#include "archive/sha256.hpp"

namespace redisdr::archive {

// When the stream had reached a command boundary: the offset after that command and the
// wall-clock time (ms since the epoch) its bytes arrived. Restores cut only at these.
struct TimeMark {
    std::uint64_t offset = 0;
    std::int64_t atMs = 0;
};

// What a closed segment says about itself (its .json beside the .resp of the same name).
struct SegmentInfo {
    std::string name;                   // <start offset, 20 digits>-<replication id>
    std::string replicationId;          // the id its commands were streamed under
    std::string previousReplicationId;  // set when this segment starts a new id (a failover) that continues that one
    std::uint64_t startOffset = 0;      // offset before its first command
    std::uint64_t endOffset = 0;        // offset after its last
    std::int64_t firstAtMs = 0;
    std::int64_t lastAtMs = 0;
    std::uint64_t commands = 0;
    int dbAtStart = 0;                  // the database SELECTed where the segment starts
    int dbAtEnd = 0;                    // and where it ends (a resume from the store starts there)
    std::vector<TimeMark> marks;        // ascending, at most one per millisecond
    std::string sha256;                 // of the .resp, checked by every download
};

// A gap: the stream between `from` and `to` is not in the archive (a full resync).
struct GapInfo {
    StreamPosition from;
    StreamPosition to;
    std::int64_t atMs = 0;
};

std::string segmentName(std::uint64_t startOffset, const std::string& replicationId);

// The archiver's local spool: whole commands appended to an open segment, closed into
// <name>.resp + <name>.json every interval (or at a size), and the position after the last
// closed segment kept in position.json. Each file is written to a temporary name, fsynced and
// renamed, so after a crash the spool holds closed segments and a position that agree, and
// the bytes of an unclosed segment are simply streamed again. Before the manifest, <name>.sha256
// gives both files' checksums as sha256sum prints them, for the shipper's signed uploads; it
// stays in the spool (the manifest carries the data's).
class SegmentSpool {
public:
    explicit SegmentSpool(std::string directory);
    ~SegmentSpool();
    SegmentSpool(const SegmentSpool&) = delete;
    SegmentSpool& operator=(const SegmentSpool&) = delete;

    // The position to resume from: after the last closed segment or recorded gap; none if the spool is new.
    std::optional<StreamPosition> position() const { return position_; }
    // Where the stream will continue: under `replicationId` from `offset` (PSYNC's answer).
    void begin(const StreamPosition& at, const std::string& previousReplicationId);
    // A full resync: records the gap and moves the position past it.
    void recordGap(const StreamPosition& to, std::int64_t atMs);
    // Appends a whole unit of the stream: one command, or a MULTI ... EXEC with everything in it,
    // so that every segment begins and ends between transactions.
    void append(const std::vector<StreamCommand>& unit, std::int64_t receivedAtMs);
    // Closes the open segment, if it holds anything. Returns its info.
    std::optional<SegmentInfo> close();
    bool hasOpenSegment() const { return open_.has_value(); }
    std::int64_t openSinceMs() const { return openSinceMs_; }
    // When the open segment's first write arrived: a command that changes data, not the framing
    // or a PUBLISH (Sentinel's hellos run through an idle master's stream); none if it has none.
    std::optional<std::int64_t> firstWriteAtMs() const { return firstWriteAtMs_; }
    std::size_t openBytes() const { return openBytes_; }

private:
    void writePosition();
    std::string directory_;
    std::optional<StreamPosition> position_;
    std::string replicationId_;
    std::string previousReplicationId_;
    int db_ = 0;
    std::optional<SegmentInfo> open_;
    std::FILE* file_ = nullptr;
    std::int64_t openSinceMs_ = 0;
    std::optional<std::int64_t> firstWriteAtMs_;
    std::size_t openBytes_ = 0;
    Sha256 hash_;
};

// Reading back what a spool (or a download of the archive) holds.
std::vector<SegmentInfo> listSegments(const std::string& directory);
std::vector<GapInfo> listGaps(const std::string& directory);
SegmentInfo readSegmentInfo(const std::string& jsonPath);

}  // namespace redisdr::archive
