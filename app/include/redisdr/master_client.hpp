#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "redisdr/clock.hpp"
#include "redisdr/errors.hpp"
#include "redisdr/redis_connection.hpp"
#include "redisdr/retry_policy.hpp"
#include "redisdr/sentinel_discovery.hpp"

namespace redisdr {

struct ClientSettings {
    SentinelSettings sentinel;
    std::string redisPassword;
    Timeouts redisTimeouts;
    // Deadline for one execute(): discovery, connects and retries included.
    std::chrono::milliseconds requestTimeout{3000};
    std::chrono::milliseconds retryInitial{25};
    std::chrono::milliseconds retryMax{400};
    std::size_t maxIdleConnections = 16;
};

// Hooks for logs and metrics. Called from request threads and the listener thread.
class ClientObserver {
public:
    virtual ~ClientObserver() = default;
    virtual void onError(ErrorKind, const std::string& /*message*/) {}
    virtual void onMasterChanged(const std::optional<Endpoint>& /*from*/, const Endpoint& /*to*/) {}
    virtual void onSwitchMasterHint(const std::string& /*message*/) {}
};

// Whether a command may run twice. An Unsafe command (INCR) is never retried once
// it may have reached Redis, because its outcome is unknown.
enum class Idempotency { Safe, Unsafe };

// A Sentinel-aware client for one Redis master, following the Redis "Sentinel
// clients" spec: discovery through Sentinel on every new connection, ROLE
// verification, re-discovery on connection errors and on READONLY / LOADING,
// +switch-master as a hint, and every pooled connection dropped when the master
// changes. Thread-safe: each call borrows its own hiredis context.
class MasterClient {
public:
    explicit MasterClient(ClientSettings settings, ClientObserver* observer = nullptr);
    ~MasterClient();
    MasterClient(const MasterClient&) = delete;
    MasterClient& operator=(const MasterClient&) = delete;

    // Runs the commands in order on one master connection and returns their replies.
    // Retries with backoff until the request deadline; throws RedisError with the
    // last failure's kind (or Deadline) if no attempt succeeds. Error replies that
    // are the command's own (WRONGTYPE, ...) are returned, not retried.
    std::vector<Reply> execute(const std::vector<std::vector<std::string>>& commands, Idempotency idempotency);
    Reply execute(const std::vector<std::string>& command, Idempotency idempotency);

    // Starts the +switch-master subscription on a Sentinel (background thread).
    void startSwitchListener();
    void stop();

    // Forget the master and drop every pooled connection.
    void invalidate();

    std::optional<Endpoint> currentMaster() const;
    Clock::time_point lastMasterChange() const;

private:
    std::unique_ptr<RedisConnection> acquire();
    void release(std::unique_ptr<RedisConnection> conn);
    void listen();
    void report(const RedisError& error);

    ClientSettings settings_;
    ClientObserver* observer_;
    SentinelDiscovery discovery_;

    mutable std::mutex mutex_;
    std::optional<Endpoint> master_;
    std::uint64_t generation_ = 0;
    Clock::time_point lastChange_ = Clock::now();
    std::vector<std::unique_ptr<RedisConnection>> idle_;

    std::atomic<bool> running_{false};
    std::thread listener_;
    std::mutex stopMutex_;
    std::condition_variable stopped_;
};

}  // namespace redisdr
