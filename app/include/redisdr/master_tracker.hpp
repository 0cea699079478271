#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

#include "redisdr/client_observer.hpp"
#include "redisdr/clock.hpp"
#include "redisdr/endpoint.hpp"
#include "redisdr/failover_listener.hpp"
#include "redisdr/sentinel_discovery.hpp"

namespace redisdr {

// Which node is the master, as far as the client knows, and which connections may still be used.
//
// Every connection carries the generation it was opened in; a new master, or a fence, starts a
// new generation and no connection of an earlier one is used again. Only Sentinel's word names
// a new master: discovery (one at a time, single flight: requests arriving meanwhile take its
// answer, so a failover brings no discovery storm), or a failover event naming the replica
// being promoted, which becomes a candidate until its own ROLE says master.
//
// Fencing: the listener subscribes to every Sentinel's failover events. The moment a failover
// of our master starts (+try-failover, +selected-slave, +odown) the generation ends, so no
// write reaches a master that is being replaced (a raw SENTINEL FAILOVER promotes the replica
// before it reconfigures the old master: writes in between are acknowledged, then discarded).
// Thread-safe.
class MasterTracker {
public:
    MasterTracker(SentinelSettings settings, ClientObserver* observer);
    ~MasterTracker();
    MasterTracker(const MasterTracker&) = delete;
    MasterTracker& operator=(const MasterTracker&) = delete;

    std::optional<Endpoint> current() const;
    Clock::time_point lastChange() const;
    std::uint64_t generation() const;
    // False once the master changed or connections were fenced since GENERATION.
    bool isCurrent(std::uint64_t generation) const { return generation == this->generation(); }

    // MASTER answered ROLE as master on a new connection: it is the master now. Returns the
    // generation that connection belongs to.
    std::uint64_t adopt(const Endpoint& master);
    // Ends the generation: forget every connection opened so far.
    void invalidate();
    // Called after every end of a generation, outside any lock (the pool drops its idle connections).
    void onInvalidate(std::function<void()> dropConnections) { dropConnections_ = std::move(dropConnections); }

    // The replica a failover event named, while it is worth trying before discovery.
    std::optional<Endpoint> candidate() const;
    // Connecting to CANDIDATE failed with ERROR: it is dropped, unless it is a replica a
    // moment away from its promotion.
    void candidateFailed(const Endpoint& candidate, const RedisError& error);
    // The master the Sentinels name (SentinelDiscovery::discoverMaster), asked once for all
    // callers waiting on it. Throws RedisError, or Deadline.
    Endpoint discover(bool* promotedByFailover, Clock::time_point deadline);

    // Sleeps for DELAY, or less if news of a master comes meanwhile (one adopted, or announced
    // by Sentinel): a request sleeping out its back-off retries at once. Another request's
    // failure is no news: two failing requests would wake each other without pause.
    void sleepUnlessNews(std::chrono::milliseconds delay);

    // The failover-event subscriptions (background thread).
    void startListener() { listener_.start(); }
    void stop() { listener_.stop(); }

private:
    void onSentinelEvent(const std::string& channel, const std::string& payload);
    void hint(const Endpoint& candidate);

    const std::string masterName_;
    ClientObserver* observer_;
    SentinelDiscovery discovery_;
    std::function<void()> dropConnections_;

    mutable std::mutex mutex_;
    std::optional<Endpoint> master_;
    std::uint64_t generation_ = 0;
    Clock::time_point lastChange_ = Clock::now();
    std::optional<Endpoint> candidate_;
    std::optional<Endpoint> selected_;  // the replica the running failover chose (+selected-slave)
    Clock::time_point candidateAt_;
    std::uint64_t news_ = 0;
    std::condition_variable changed_;

    struct Discovery {
        std::optional<Endpoint> master;
        bool promotedByFailover = false;
        std::optional<RedisError> error;
    };
    std::mutex discoveryMutex_;
    std::condition_variable discoveryDone_;
    bool discovering_ = false;
    std::uint64_t discoveryRound_ = 0;
    Discovery lastDiscovery_;

    FailoverListener listener_;
};

}  // namespace redisdr
