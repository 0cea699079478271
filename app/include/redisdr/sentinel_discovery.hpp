#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "redisdr/endpoint.hpp"
#include "redisdr/redis_connection.hpp"

namespace redisdr {

struct SentinelSettings {
    std::vector<Endpoint> sentinels;  // names as configured; each is resolved to all its addresses
    std::string masterName;
    std::string password;  // Sentinel's requirepass, if any
    Timeouts timeouts{std::chrono::milliseconds(300), std::chrono::milliseconds(500)};
};

// Finds the current master through Sentinel, following the Redis "Sentinel
// clients" rules: ask the Sentinels in order with a short timeout, and move the
// one whose answer was used to the front. Names are resolved on every call, so
// Sentinels that moved are found. Every Sentinel is asked (SENTINEL MASTER): the
// newest config epoch names the master, and a master under failover or flagged
// down by a majority is not used at all.
class SentinelDiscovery {
public:
    explicit SentinelDiscovery(SentinelSettings settings) : settings_(std::move(settings)) {}

    // The master's address. Throws RedisError:
    //  NoSentinelReachable - no Sentinel answered;
    //  MasterUnknown       - Sentinels answered but none knows the master name;
    //  SentinelAuth        - every Sentinel that answered refused our password;
    //  MasterDown          - a failover is in progress, or most Sentinels flag the master down.
    Endpoint discoverMaster();

    // The Sentinel addresses in the order they will be tried next.
    std::vector<Endpoint> candidates();

    const SentinelSettings& settings() const { return settings_; }

private:
    SentinelSettings settings_;
    std::mutex mutex_;
    std::vector<Endpoint> preferred_;  // addresses that answered, most recent first
};

}  // namespace redisdr
