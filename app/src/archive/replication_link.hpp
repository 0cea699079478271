#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "redisdr/endpoint.hpp"
#include "redisdr/redis_connection.hpp"

namespace redisdr::archive {

// Where a replica is in a master's history: its replication id and the offset it has applied.
struct StreamPosition {
    std::string replicationId;
    std::uint64_t offset = 0;
};

// What PSYNC answered. Continue: the stream goes on from the position asked for, under
// `replicationId` (a new one after a failover: PSYNC2 keeps the old id as replid2, so the
// promoted replica's history continues ours). FullResync: the position was not in the
// upstream's backlog, so what lies between is gone: a gap in the archive.
struct SyncStart {
    enum class Kind { Continue, FullResync } kind = Kind::Continue;
    StreamPosition position;  // where the stream that follows begins
};

// One replication link to an upstream Redis, spoken as a replica speaks it (the handshake of
// syncWithMaster in redis/redis src/replication.c: AUTH, REPLCONF capa psync2, PSYNC). A
// FULLRESYNC's RDB payload is read and dropped. Owns its socket (RAII).
class ReplicationLink {
public:
    static std::unique_ptr<ReplicationLink> open(const Endpoint& upstream, const std::string& user, const std::string& password,
                                                 std::chrono::milliseconds timeout);
    ~ReplicationLink();
    ReplicationLink(const ReplicationLink&) = delete;
    ReplicationLink& operator=(const ReplicationLink&) = delete;

    // PSYNC from `from` (an empty replication id asks for a full sync). Reads up to the first
    // stream byte; `rdbTimeout` bounds the wait for and the reading of a full sync's RDB.
    SyncStart start(const StreamPosition& from, std::chrono::milliseconds rdbTimeout);
    // The most one read takes from the socket.
    static constexpr std::size_t kReadChunk = 64 * 1024;
    // Reads what the stream has within `wait` into `out` (appended; at most kReadChunk); false
    // if nothing came. Throws RedisError(Io) when the upstream closed or failed the link.
    bool read(std::string& out, std::chrono::milliseconds wait);
    // REPLCONF ACK: keeps the upstream from timing the link out (repl-timeout).
    void ack(std::uint64_t offset);
    const Endpoint& upstream() const { return upstream_; }

private:
    ReplicationLink(int fd, Endpoint upstream, std::chrono::milliseconds timeout);
    std::string readLine(std::chrono::steady_clock::time_point deadline);
    void readExactly(std::size_t bytes, std::chrono::steady_clock::time_point deadline);
    bool waitReadable(std::chrono::milliseconds wait);
    void writeAll(const std::string& bytes);
    int fd_;
    Endpoint upstream_;
    std::chrono::milliseconds timeout_;
    std::string buffered_;  // bytes read past the handshake: the stream's first bytes
};

}  // namespace redisdr::archive
