#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "redisdr/clock.hpp"
#include "redisdr/command_batch.hpp"
#include "redisdr/connection_pool.hpp"

namespace redisdr {

// First attempts under way at once, across the carriers and every pipelined connection
// (queued, or sent and awaiting replies): beyond the limit a request is refused, not queued.
class AttemptBudget {
public:
    explicit AttemptBudget(std::size_t limit) : limit_(limit) {}
    bool reserve();
    void release() { --underWay_; }

private:
    const std::size_t limit_;
    std::atomic<std::size_t> underWay_{0};
};

// Auto-pipelining on carrier threads: each takes every request waiting (up to MAX_BATCH) and
// sends them as one CommandBatch, one write and one read on one pooled connection.
class BatchCarriers {
public:
    using Done = std::function<void(Attempt)>;

    BatchCarriers(std::size_t threads, std::size_t maxBatch, ConnectionPool& pool, AttemptBudget& budget);
    ~BatchCarriers();
    BatchCarriers(const BatchCarriers&) = delete;
    BatchCarriers& operator=(const BatchCarriers&) = delete;

    // A request's first attempt: DONE is called on a carrier thread with its outcome. False
    // (DONE never called) when there are no carriers, they are stopping, or the budget is spent.
    bool submit(Commands commands, Clock::time_point deadline, Done done);
    // Finishes what is waiting, then joins the carriers.
    void stop();

private:
    struct Request {
        Commands commands;
        Clock::time_point deadline{};
        Done done;
    };
    void carry();
    std::vector<Attempt> run(const std::vector<std::unique_ptr<Request>>& batch);

    const std::size_t maxBatch_;
    ConnectionPool& pool_;
    AttemptBudget& budget_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::unique_ptr<Request>> pending_;
    bool carrying_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace redisdr
