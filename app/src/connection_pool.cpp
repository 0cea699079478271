#include "redisdr/connection_pool.hpp"

namespace redisdr {

ConnectionPool::ConnectionPool(PoolSettings settings, MasterTracker& tracker) : settings_(std::move(settings)), tracker_(tracker) {}

std::unique_ptr<RedisConnection> ConnectionPool::openVerifiedMaster(const Endpoint& address, Clock::time_point deadline) {
    const Timeouts timeouts{timeLeft(settings_.timeouts.connect, deadline, "connecting"),
                            timeLeft(settings_.timeouts.command, deadline, "connecting")};
    auto conn = RedisConnection::open(address, timeouts, settings_.password, false, settings_.username);
    const Reply role = conn->command({"ROLE"});
    if (role.type != Reply::Type::Array || role.elements.empty() || role.elements[0].str != "master") {
        throw RedisError(ErrorKind::NotMaster, address.str() + " was named master but its ROLE is " +
                                                   (role.elements.empty() ? role.str : role.elements[0].str));
    }
    return conn;
}

std::unique_ptr<RedisConnection> ConnectionPool::adopted(std::unique_ptr<RedisConnection> conn) {
    conn->generation = tracker_.adopt(conn->endpoint());
    return conn;
}

std::unique_ptr<RedisConnection> ConnectionPool::acquire(Clock::time_point deadline) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto generation = tracker_.generation();
        while (!idle_.empty()) {
            auto conn = std::move(idle_.back());
            idle_.pop_back();
            if (conn->generation == generation && !conn->broken()) return conn;
        }
    }
    if (auto candidate = tracker_.candidate()) {
        try {
            return adopted(openVerifiedMaster(*candidate, deadline));
        } catch (const RedisError& error) {
            tracker_.candidateFailed(*candidate, error);
        }
    }
    bool promotedByFailover = false;
    const Endpoint address = tracker_.discover(&promotedByFailover, deadline);
    try {
        return adopted(openVerifiedMaster(address, deadline));
    } catch (const RedisError& error) {
        // The replica Sentinel chose is not master yet: still "waiting for the failover".
        if (promotedByFailover && error.kind() == ErrorKind::NotMaster) {
            throw RedisError(ErrorKind::MasterDown, "failover under way; " + address.str() + " not promoted yet");
        }
        throw;
    }
}

void ConnectionPool::release(std::unique_ptr<RedisConnection> conn) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!conn->broken() && tracker_.isCurrent(conn->generation) && idle_.size() < settings_.maxIdle) idle_.push_back(std::move(conn));
}

void ConnectionPool::dropIdle() {
    std::vector<std::unique_ptr<RedisConnection>> dropped;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        dropped.swap(idle_);
    }
    // closed here, outside the lock
}

ConnectionPool::MasterSocket ConnectionPool::openMasterSocket(Clock::time_point deadline) {
    auto conn = acquire(deadline);
    MasterSocket socket;
    socket.generation = conn->generation;
    socket.endpoint = conn->endpoint();
    socket.fd = conn->releaseSocket();
    return socket;
}

}  // namespace redisdr
