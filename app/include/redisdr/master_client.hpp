#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
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

// Hooks for logs and metrics. Called from request threads and the listener thread.
class ClientObserver {
public:
    virtual ~ClientObserver() = default;
    virtual void onError(ErrorKind, const std::string& /*message*/) {}
    virtual void onMasterChanged(const std::optional<Endpoint>& /*from*/, const Endpoint& /*to*/) {}
    virtual void onSwitchMasterHint(const std::string& /*message*/) {}
    // A Sentinel failover event about our master that changed what the client does (fenced
    // the old master, or learned the promoted replica).
    virtual void onFailoverEvent(const std::string& /*channel*/, const std::string& /*payload*/) {}
};

// Whether a command may run twice. An Unsafe command (INCR) is never retried once
// it may have reached Redis, because its outcome is unknown.
enum class Idempotency { Safe, Unsafe };

// A Sentinel-aware client for one Redis master, following the Redis "Sentinel
// clients" spec: discovery through Sentinel on every new connection, ROLE
// verification, re-discovery on connection errors and on READONLY / LOADING,
// and every pooled connection dropped when the master changes.
//
// Fencing: the listener subscribes to every Sentinel's failover events. The moment a
// failover of our master starts (+try-failover, +selected-slave, +odown) every pooled
// connection to the old master is dropped, so no write reaches a master that is being
// replaced (a raw SENTINEL FAILOVER promotes the replica before it reconfigures the old
// master: writes in between are acknowledged, then discarded). New connections go through
// discovery, which refuses a master under failover but names the replica the failing-over
// Sentinel promoted; that replica, or the one announced by +promoted-slave / +switch-master,
// is used as soon as its own ROLE says master, before the failover has formally ended. Only
// Sentinel's word names a new master. Thread-safe: each call borrows its own hiredis context.
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

    // One attempt's outcome: the replies, or the error and whether the commands may have reached Redis.
    struct Attempt {
        std::vector<Reply> replies;
        std::optional<RedisError> error;
        bool sent = false;
    };

    // A request's first attempt, pipelined with whatever else is waiting: DONE is called on a
    // carrier thread with its outcome. Returns false (and never calls DONE) when pipelining is
    // off, stopping, or maxPending first attempts are already under way.
    bool submit(std::vector<std::vector<std::string>> commands, Clock::time_point deadline, std::function<void(Attempt)> done);
    // The rest of a request after its FIRST attempt: the replies if it succeeded, else what
    // execute() does after a failed attempt (retries until DEADLINE, or throws). Blocks.
    std::vector<Reply> executeAfter(const Attempt& first, const std::vector<std::vector<std::string>>& commands,
                                    Idempotency idempotency, Clock::time_point deadline);
    Clock::time_point deadlineFromNow() const { return Clock::now() + settings_.requestTimeout; }

    // A verified connection to the current master, handed over as a bare socket to an event
    // loop that pipelines on it (RedisPipeline); GENERATION says which master it belongs to.
    // Blocks (discovery, connect); throws RedisError as execute() would.
    struct MasterSocket {
        int fd = -1;
        std::uint64_t generation = 0;
        Endpoint endpoint;
    };
    MasterSocket openMasterSocket(Clock::time_point deadline);
    // False once the master changed or connections were fenced since GENERATION.
    bool isCurrent(std::uint64_t generation) const;
    // A place among the maxPending first attempts under way (false: none left), and its return.
    // submit() takes its own; a pipeline takes one per request it accepts.
    bool reserveAttempt();
    void releaseAttempt();
    // The error for the first reply among REPLIES (from FROM) that means "not a usable master
    // now" (READONLY, LOADING, ...): that command did not run, and the connection must not be
    // used again. Nothing if there is none.
    static std::optional<RedisError> redirectionAmong(const std::vector<Reply>& replies, const Endpoint& from);
    // The WAIT every one of ITEMS' command lists (COMMANDS_OF(item)) ends with, if there are at
    // least two and they all end with the same one: sent once after all of their writes, it
    // confirms each of them, since WAIT counts the replicas that acknowledged every write sent
    // before it on the connection (https://redis.io/docs/latest/commands/wait/). Without this,
    // a batch would wait for the replicas once per request, one after another.
    template <typename Items, typename CommandsOf>
    static const std::vector<std::string>* sharedWait(const Items& items, CommandsOf commandsOf) {
        if (items.size() < 2) return nullptr;
        const auto& first = commandsOf(items.front()).back();
        if (first.empty() || first.front() != "WAIT") return nullptr;
        for (const auto& item : items) {
            const auto& commands = commandsOf(item);
            if (commands.size() < 2 || commands.back() != first) return nullptr;
        }
        return &first;
    }
    const ClientSettings& settings() const { return settings_; }
    bool pipelining() const { return settings_.pipelineConnections > 0; }
    // Finishes what is waiting for a carrier, then joins the carriers.
    void stopCarriers();

    // Starts the failover-event subscriptions on every Sentinel (background thread).
    void startSwitchListener();
    void stop();

    // Forget the master and drop every pooled connection.
    void invalidate();

    std::optional<Endpoint> currentMaster() const;
    Clock::time_point lastMasterChange() const;

private:
    std::unique_ptr<RedisConnection> acquire(Clock::time_point deadline);
    Endpoint discoverOnce(bool* promotedByFailover, Clock::time_point deadline);
    void release(std::unique_ptr<RedisConnection> conn);
    void listen();
    void onSentinelMessage(const std::string& channel, const std::string& payload);
    // Drop every pooled connection and wake requests waiting to retry.
    void fence();
    // A likely new master, tried (and verified with ROLE) before asking the Sentinels.
    void hintMaster(const Endpoint& candidate);
    std::unique_ptr<RedisConnection> openVerifiedMaster(const Endpoint& address, Clock::time_point deadline);
    void adopt(RedisConnection& conn);

    struct Batched {
        std::vector<std::vector<std::string>> commands;
        Clock::time_point deadline{};
        std::function<void(Attempt)> done;
        Attempt attempt;
    };
    std::vector<Reply> attemptsFrom(unsigned attempt, std::optional<Attempt> failed, const std::vector<std::vector<std::string>>& commands,
                                    Idempotency idempotency, Clock::time_point deadline);
    void carry();
    void runBatch(const std::vector<std::unique_ptr<Batched>>& batch);
    void report(const RedisError& error);

    ClientSettings settings_;
    ClientObserver* observer_;
    SentinelDiscovery discovery_;

    mutable std::mutex mutex_;
    std::optional<Endpoint> master_;
    std::uint64_t generation_ = 0;
    Clock::time_point lastChange_ = Clock::now();
    std::vector<std::unique_ptr<RedisConnection>> idle_;
    std::optional<Endpoint> candidate_;
    std::optional<Endpoint> selected_;  // the replica the running failover chose (+selected-slave)
    Clock::time_point candidateAt_;
    // Counts news of a master: one adopted, or announced by Sentinel (+switch-master and the
    // like). Signalled with changed_, so a request sleeping before its next attempt retries at
    // once instead of after its back-off.
    std::uint64_t news_ = 0;
    std::condition_variable changed_;

    // Single flight: one discovery through Sentinel at a time; requests arriving meanwhile
    // take its answer instead of asking every Sentinel themselves (no discovery storm).
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

    std::mutex batchMutex_;
    std::condition_variable batchReady_;
    std::deque<std::unique_ptr<Batched>> pending_;
    bool carrying_ = false;
    std::atomic<std::size_t> attemptsUnderWay_{0};
    std::vector<std::thread> carriers_;

    std::atomic<bool> running_{false};
    std::thread listener_;
    std::mutex stopMutex_;
    std::condition_variable stopped_;
};

}  // namespace redisdr
