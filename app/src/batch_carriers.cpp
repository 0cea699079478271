#include "redisdr/batch_carriers.hpp"

namespace redisdr {

bool AttemptBudget::reserve() {
    std::size_t under = underWay_.load();
    do {
        if (under >= limit_) return false;
    } while (!underWay_.compare_exchange_weak(under, under + 1));
    return true;
}

BatchCarriers::BatchCarriers(std::size_t threads, std::size_t maxBatch, ConnectionPool& pool, AttemptBudget& budget)
    : maxBatch_(maxBatch), pool_(pool), budget_(budget), carrying_(threads > 0) {
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { carry(); });
}

BatchCarriers::~BatchCarriers() { stop(); }

void BatchCarriers::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        carrying_ = false;
    }
    ready_.notify_all();
    for (auto& thread : threads_) {
        if (thread.joinable()) thread.join();
    }
}

bool BatchCarriers::submit(Commands commands, Clock::time_point deadline, Done done) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!carrying_ || !budget_.reserve()) return false;
        pending_.push_back(std::make_unique<Request>(Request{std::move(commands), deadline, std::move(done)}));
    }
    ready_.notify_one();
    return true;
}

void BatchCarriers::carry() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        ready_.wait(lock, [this] { return !pending_.empty() || !carrying_; });
        if (pending_.empty()) return;  // stopping, and nothing left to carry
        const auto take = std::min(pending_.size(), maxBatch_);
        std::vector<std::unique_ptr<Request>> batch;
        batch.reserve(take);
        for (std::size_t i = 0; i < take; ++i) {
            batch.push_back(std::move(pending_.front()));
            pending_.pop_front();
        }
        lock.unlock();
        auto attempts = run(batch);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            batch[i]->done(std::move(attempts[i]));
            budget_.release();
        }
        lock.lock();
    }
}

std::vector<Attempt> BatchCarriers::run(const std::vector<std::unique_ptr<Request>>& batch) {
    Clock::time_point deadline = batch.front()->deadline;
    std::vector<const Commands*> requests;
    requests.reserve(batch.size());
    for (const auto& r : batch) {
        deadline = std::min(deadline, r->deadline);
        requests.push_back(&r->commands);
    }
    std::unique_ptr<RedisConnection> conn;
    try {
        conn = pool_.acquire(deadline);
        conn->setCommandTimeout(timeLeft(pool_.timeouts().command, deadline, "a pipelined batch"));
    } catch (const RedisError& error) {
        // No connection, or the deadline passed: nothing was sent.
        std::vector<Attempt> unsent(batch.size());
        for (auto& attempt : unsent) attempt.error = error;
        return unsent;
    }
    const CommandBatch commands(requests);
    std::vector<Reply> replies;
    replies.reserve(commands.replyCount());
    std::optional<RedisError> lost;
    try {
        conn->pipeline(commands.wire(requests), replies);
    } catch (const RedisError& error) {
        lost = error;  // the replies read before it still stand
    }
    auto split = commands.split(std::move(replies), lost, conn->endpoint());
    if (!lost && !split.redirected) pool_.release(std::move(conn));
    return std::move(split.attempts);
}

}  // namespace redisdr
