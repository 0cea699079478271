#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace redisdr {

// A fixed set of worker threads behind a queue of bounded depth. The public listener's requests
// run here, since they block on Redis; when the queue is full the caller is told at once
// (tryPush returns false) and answers 503, instead of letting work pile up without end.
class WorkQueue {
public:
    WorkQueue(std::size_t workers, std::size_t depth);
    ~WorkQueue();
    WorkQueue(const WorkQueue&) = delete;
    WorkQueue& operator=(const WorkQueue&) = delete;

    bool tryPush(std::function<void()> task);
    // Lets the workers finish what is queued, then joins them. Later tryPush calls return false.
    void stop();

private:
    void work();

    const std::size_t depth_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

}  // namespace redisdr
