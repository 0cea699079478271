#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "redisdr/clock.hpp"
#include "redisdr/master_tracker.hpp"
#include "redisdr/redis_connection.hpp"

namespace redisdr {

struct PoolSettings {
    std::string username;  // empty: the default user
    std::string password;
    Timeouts timeouts;
    std::size_t maxIdle = 16;
};

// Connections to the current master, each verified with ROLE when it is opened, and the idle
// ones kept for reuse within their generation (MasterTracker). A new connection goes to the
// replica a failover event named when there is one (used as soon as its own ROLE says master,
// before the failover has formally ended), else asks the Sentinels first: the master may have
// moved while the client was idle. Thread-safe; each connection serves one borrower at a time.
class ConnectionPool {
public:
    ConnectionPool(PoolSettings settings, MasterTracker& tracker);

    // An idle connection of the current generation, or a newly opened one. Blocks (discovery,
    // connect) no later than DEADLINE; throws RedisError.
    std::unique_ptr<RedisConnection> acquire(Clock::time_point deadline);
    // Back to the idle ones, unless it broke, its generation ended or enough are idle.
    void release(std::unique_ptr<RedisConnection> conn);
    // Closes every idle connection (its generation ended).
    void dropIdle();

    // A verified connection to the current master handed over as a bare socket to an event
    // loop that pipelines on it (RedisPipeline); GENERATION says which master it belongs to.
    struct MasterSocket {
        int fd = -1;
        std::uint64_t generation = 0;
        Endpoint endpoint;
    };
    MasterSocket openMasterSocket(Clock::time_point deadline);

    const Timeouts& timeouts() const { return settings_.timeouts; }

private:
    std::unique_ptr<RedisConnection> openVerifiedMaster(const Endpoint& address, Clock::time_point deadline);
    std::unique_ptr<RedisConnection> adopted(std::unique_ptr<RedisConnection> conn);

    const PoolSettings settings_;
    MasterTracker& tracker_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<RedisConnection>> idle_;
};

}  // namespace redisdr
