#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "redisdr/batch_carriers.hpp"
#include "redisdr/client_observer.hpp"
#include "redisdr/clock.hpp"
#include "redisdr/command_batch.hpp"
#include "redisdr/connection_pool.hpp"
#include "redisdr/errors.hpp"
#include "redisdr/master_tracker.hpp"
#include "redisdr/redis_connection.hpp"
#include "redisdr/sentinel_discovery.hpp"

namespace redisdr {

struct ClientSettings {
    SentinelSettings sentinel;
    std::string redisUsername;  // empty: the default user
    std::string redisPassword;
    Timeouts redisTimeouts;
    // Deadline for one execute(): discovery, connects and retries included.
    std::chrono::milliseconds requestTimeout{3000};
    std::chrono::milliseconds retryInitial{25};
    std::chrono::milliseconds retryMax{400};
    std::size_t maxIdleConnections = 16;
    // Auto-pipelining (submit): this many carrier threads each take every request waiting and
    // send them as one batch, one write and one read on one connection. 0: off.
    std::size_t pipelineConnections = 0;
    std::size_t maxBatch = 256;     // requests in one batch
    // First attempts under way at once, on the carriers and on the I/O threads' pipelined
    // connections together (queued, or sent and awaiting replies); more are refused.
    std::size_t maxPending = 1024;
};

// Whether a command may run twice. An Unsafe command (INCR) is never retried once
// it may have reached Redis, because its outcome is unknown.
enum class Idempotency { Safe, Unsafe };

// A Sentinel-aware client for one Redis master, following the Redis "Sentinel clients" spec,
// layered as redis-plus-plus layers its own: MasterTracker (which node is master, generations,
// the failover-event fence), ConnectionPool (verified connections), CommandBatch (one write of
// many requests) and BatchCarriers (auto-pipelining threads), with this front running the
// retry loop: re-discovery on connection errors and on READONLY / LOADING, back-off that wakes
// at news of a master, and never a second run of an Unsafe command that may have reached Redis.
// Thread-safe.
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
    std::vector<Reply> execute(const Commands& commands, Idempotency idempotency);
    Reply execute(const std::vector<std::string>& command, Idempotency idempotency);

    // A request's first attempt, pipelined on a carrier with whatever else is waiting (BatchCarriers::submit).
    bool submit(Commands commands, Clock::time_point deadline, std::function<void(Attempt)> done);
    // The rest of a request after its FIRST attempt: the replies if it succeeded, else what
    // execute() does after a failed attempt (retries until DEADLINE, or throws). Blocks.
    std::vector<Reply> executeAfter(const Attempt& first, const Commands& commands, Idempotency idempotency, Clock::time_point deadline);
    Clock::time_point deadlineFromNow() const { return Clock::now() + settings_.requestTimeout; }
    bool pipelining() const { return settings_.pipelineConnections > 0; }

    // Starts the failover-event subscriptions on every Sentinel (background thread).
    void startSwitchListener() { tracker_.startListener(); }
    void stop() { tracker_.stop(); }
    // Finishes what is waiting for a carrier, then joins the carriers.
    void stopCarriers() { carriers_.stop(); }
    // Forget the master's connections: every pooled one is dropped.
    void invalidate() { tracker_.invalidate(); }

    std::optional<Endpoint> currentMaster() const { return tracker_.current(); }
    Clock::time_point lastMasterChange() const { return tracker_.lastChange(); }

    // The layers, for what pipelines on its own event loop (RedisPipeline).
    MasterTracker& tracker() { return tracker_; }
    ConnectionPool& pool() { return pool_; }
    AttemptBudget& budget() { return budget_; }

private:
    std::vector<Reply> attemptsFrom(unsigned attempt, std::optional<Attempt> failed, const Commands& commands, Idempotency idempotency,
                                    Clock::time_point deadline);
    void report(const RedisError& error);

    const ClientSettings settings_;
    ClientObserver* observer_;
    MasterTracker tracker_;
    ConnectionPool pool_;
    AttemptBudget budget_;
    BatchCarriers carriers_;
};

}  // namespace redisdr
