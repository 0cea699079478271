#include "redisdr/master_client.hpp"

#include <sstream>

#include "redisdr/retry_policy.hpp"

namespace redisdr {

namespace {

// While a failover is under way the new master appears within milliseconds of Sentinel's
// SLAVEOF NO ONE: retry at this pace, not the usual back-off.
constexpr auto kFailoverRetry = std::chrono::milliseconds(50);

PoolSettings poolSettings(const ClientSettings& s) { return {s.redisUsername, s.redisPassword, s.redisTimeouts, s.maxIdleConnections}; }

}  // namespace

MasterClient::MasterClient(ClientSettings settings, ClientObserver* observer)
    : settings_(std::move(settings)),
      observer_(observer),
      tracker_(settings_.sentinel, observer),
      pool_(poolSettings(settings_), tracker_),
      budget_(settings_.maxPending),
      carriers_(settings_.pipelineConnections, settings_.maxBatch, pool_, budget_) {
    tracker_.onInvalidate([this] { pool_.dropIdle(); });
}

MasterClient::~MasterClient() {
    stop();
    stopCarriers();
}

void MasterClient::report(const RedisError& error) {
    if (observer_ != nullptr) observer_->onError(error.kind(), error.what());
}

std::vector<Reply> MasterClient::execute(const Commands& commands, Idempotency idempotency) {
    return attemptsFrom(1, std::nullopt, commands, idempotency, deadlineFromNow());
}

Reply MasterClient::execute(const std::vector<std::string>& command, Idempotency idempotency) {
    return execute(Commands{command}, idempotency).front();
}

bool MasterClient::submit(Commands commands, Clock::time_point deadline, std::function<void(Attempt)> done) {
    return carriers_.submit(std::move(commands), deadline, std::move(done));
}

std::vector<Reply> MasterClient::executeAfter(const Attempt& first, const Commands& commands, Idempotency idempotency,
                                              Clock::time_point deadline) {
    if (!first.error) return first.replies;
    return attemptsFrom(2, first, commands, idempotency, deadline);
}

std::vector<Reply> MasterClient::attemptsFrom(unsigned attempt, std::optional<Attempt> failed, const Commands& commands,
                                              Idempotency idempotency, Clock::time_point deadline) {
    // Made on the first failure: seeding it (std::random_device) costs more than a request.
    std::optional<RetryPolicy> retry;
    for (;; ++attempt) {
        if (failed) {
            const RedisError& error = *failed->error;
            report(error);
            if (requiresRediscovery(error.kind())) tracker_.invalidate();
            // An I/O error after sending leaves the outcome unknown: never repeat an unsafe command.
            if (error.kind() == ErrorKind::Io && failed->sent && idempotency == Idempotency::Unsafe) throw error;
            if (!retry) retry.emplace(settings_.retryInitial, settings_.retryMax);
            auto delay = retry->nextDelay(attempt - 1, Clock::now(), deadline);
            if (delay && error.kind() == ErrorKind::MasterDown) delay = std::min<std::chrono::milliseconds>(*delay, kFailoverRetry);
            if (!delay) {
                std::ostringstream message;
                message << "gave up after " << attempt - 1 << " attempt(s) within " << settings_.requestTimeout.count()
                        << " ms: " << error.what();
                throw RedisError(error.kind(), message.str());
            }
            tracker_.sleepUnlessNews(*delay);
        }
        Attempt current;
        try {
            auto conn = pool_.acquire(deadline);
            current.replies.reserve(commands.size());
            for (const auto& command : commands) {
                // No attempt outlives the request: each reply is waited for at most the time left.
                conn->setCommandTimeout(timeLeft(settings_.redisTimeouts.command, deadline, command.front().c_str()));
                current.sent = true;
                Reply reply = conn->command(command);
                if (auto redirection = redirectionIn(reply, conn->endpoint())) throw *redirection;
                current.replies.push_back(std::move(reply));
            }
            pool_.release(std::move(conn));
            return std::move(current.replies);
        } catch (const RedisError& error) {
            current.error = error;
        }
        failed = std::move(current);
    }
}

}  // namespace redisdr
