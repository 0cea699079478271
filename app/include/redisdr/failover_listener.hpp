#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "redisdr/errors.hpp"
#include "redisdr/sentinel_discovery.hpp"

namespace redisdr {

// Subscriptions to every Sentinel's failover channels on a background thread. Failover events
// come only from the Sentinel leading the failover, so one subscription is not enough; each
// lost one is retried every second.
class FailoverListener {
public:
    using OnEvent = std::function<void(const std::string& channel, const std::string& payload)>;
    using OnLost = std::function<void(const RedisError&)>;

    // DISCOVERY says where the Sentinels are; ON_EVENT gets every event, ON_LOST each
    // subscription that was up and broke (not every retry of one that never came up).
    FailoverListener(SentinelDiscovery& discovery, OnEvent onEvent, OnLost onLost);
    ~FailoverListener();
    FailoverListener(const FailoverListener&) = delete;
    FailoverListener& operator=(const FailoverListener&) = delete;

    void start();
    void stop();

private:
    void run();

    SentinelDiscovery& discovery_;
    OnEvent onEvent_;
    OnLost onLost_;
    std::atomic<bool> running_{false};
    std::thread thread_;
    std::mutex stopMutex_;
    std::condition_variable stopped_;
};

}  // namespace redisdr
