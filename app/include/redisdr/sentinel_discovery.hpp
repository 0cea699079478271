#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "redisdr/endpoint.hpp"
#include "redisdr/redis_connection.hpp"

namespace redisdr {

struct SentinelSettings {
    std::vector<Endpoint> sentinels;  // names as configured; each is resolved to all its addresses
    std::string masterName;
    std::string username;  // Sentinel ACL user (empty: the default user, requirepass)
    std::string password;
    Timeouts timeouts{std::chrono::milliseconds(300), std::chrono::milliseconds(500)};
};

// Finds the current master through Sentinel. Every Sentinel is asked (SENTINEL MASTER,
// each with a short timeout), not only the first that answers: one that has not heard of a
// failover yet still names the old master. The answer with the newest config epoch names
// the master; a master that any Sentinel is failing over, or that a majority of the
// Sentinels naming it flag down, is not used. Names are resolved on every call, so
// Sentinels that moved are found; the Sentinel whose answer was used is asked first next time.
class SentinelDiscovery {
public:
    explicit SentinelDiscovery(SentinelSettings settings) : settings_(std::move(settings)) {}

    // The master's address. Throws RedisError:
    //  NoSentinelReachable - no Sentinel answered;
    //  MasterUnknown       - Sentinels answered but none knows the master name;
    //  SentinelAuth        - every Sentinel that answered refused our password;
    //  MasterDown          - a Sentinel is failing the master over (and has not chosen a replica to
    //                        promote yet), or a majority of those naming it flag it down.
    // During a failover, if the Sentinel running it has chosen the replica to promote, that
    // replica is returned and *promotedByFailover set: the caller uses it only once its ROLE
    // says master.
    Endpoint discoverMaster(bool* promotedByFailover = nullptr);

    // The Sentinel addresses in the order they will be tried next.
    std::vector<Endpoint> candidates();

    const SentinelSettings& settings() const { return settings_; }

private:
    SentinelSettings settings_;
    std::mutex mutex_;
    std::vector<Endpoint> preferred_;  // addresses that answered, most recent first
    // The replica a Sentinel flags "promoted" (chosen by the failover it runs), if any.
    std::optional<Endpoint> promotedReplica(const Endpoint& sentinel);
};

}  // namespace redisdr
