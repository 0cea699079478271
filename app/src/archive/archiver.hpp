#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "archive/replication_link.hpp"
#include "archive/segment_spool.hpp"
#include "redisdr/endpoint.hpp"

namespace redisdr::archive {

struct ArchiverSettings {
    std::vector<Endpoint> nodes;  // every Redis pod; the archiver follows one that is a replica
    std::string user;             // an ACL user allowed PSYNC, REPLCONF and PING
    std::string password;
    std::string spoolDirectory;
    std::chrono::milliseconds interval{1000};  // a segment closes this long after its first write
    // and this long after its first command when it holds no write (the idle stream's hellos and
    // pings: closing those at `interval` would store an object every few hundred ms for nothing)
    std::chrono::milliseconds idleInterval{10000};
    std::size_t maxSegmentBytes = 64 * 1024 * 1024;
    std::chrono::milliseconds timeout{2000};    // connect, handshake and silence on the link
    std::chrono::milliseconds rdbTimeout{600000};
};

// What the archiver has done, for logs and metrics.
struct ArchiverEvents {
    std::function<void(const std::string& message)> log = [](const std::string&) {};
    std::function<void(const SegmentInfo&)> segmentClosed = [](const SegmentInfo&) {};
    std::function<void(const GapInfo&)> gap = [](const GapInfo&) {};
};

// Follows the replication stream of one of the tier's replicas (never the master: it would count
// as a replica there, toward min-replicas-to-write, and Sentinel would list it) and spools every
// command into segments. It resumes from the spool's position with PSYNC, so a restart, a lost
// link or a failover (the promoted replica disconnects its replicas and continues the old history
// under a new id: replicationUnsetMaster in redis/redis src/replication.c) leaves neither a gap nor
// a duplicate. Only a full resync leaves a gap, and that is recorded.
class Archiver {
public:
    Archiver(ArchiverSettings settings, ArchiverEvents events);
    // Until `stop` is set: choose an upstream, follow it, and on any failure start again.
    void run(const std::atomic<bool>& stop);
    // One link's life: returns when the link fails or `stop` is set; closes the open segment.
    void followOnce(const Endpoint& upstream, const std::atomic<bool>& stop);
    // The replica to follow: linked to its master, at or past our position if any is.
    std::optional<Endpoint> chooseUpstream();

private:
    void closeSegment();
    ArchiverSettings settings_;
    ArchiverEvents events_;
    SegmentSpool spool_;
    std::optional<std::chrono::steady_clock::time_point> behindSince_;
};

}  // namespace redisdr::archive
