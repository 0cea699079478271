#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "redisdr/endpoint.hpp"
#include "redisdr/failover_listener.hpp"
#include "redisdr/sentinel_discovery.hpp"

namespace redisdr::relay {

// The master the tier's Sentinels name now, and a generation that changes whenever that answer
// does: a different master, or none while a failover runs. Sentinel is asked every RECHECK and at
// once on each of its failover events. Only a definite answer changes anything: while no
// Sentinel answers, the last known master stays (a blip on the relay's own network is not a
// failover). Thread-safe.
class MasterWatch {
public:
    struct Target {
        Endpoint master;
        std::uint64_t generation = 0;
    };

    MasterWatch(SentinelSettings settings, std::chrono::milliseconds recheck);
    ~MasterWatch();
    MasterWatch(const MasterWatch&) = delete;
    MasterWatch& operator=(const MasterWatch&) = delete;

    void start();
    void stop();

    // The master now, waiting up to TIMEOUT while there is none (a failover in progress).
    std::optional<Target> current(std::chrono::milliseconds timeout);
    bool isCurrent(std::uint64_t generation) const;

private:
    void poll();
    void refresh();
    void set(const std::optional<Endpoint>& master);

    SentinelDiscovery discovery_;
    FailoverListener listener_;
    const std::chrono::milliseconds recheck_;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::optional<Endpoint> master_;
    std::uint64_t generation_ = 0;
    bool refreshNow_ = false;
    bool running_ = false;
    std::thread poller_;
};

}  // namespace redisdr::relay
