#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "redisdr/master_client.hpp"
#include "work_queue.hpp"

namespace redisdr {

// Auto-pipelining on an I/O thread's own event loop: the requests an I/O thread admits go to
// the master on one connection that thread owns, every request that arrives while a write is
// under way joins the next write, and replies are read as they come, without blocking and
// without handing anything to another thread. (The same idea as ioredis's auto-pipelining;
// hiredis formats and parses, Boost.Asio does the I/O.)
//
// The connection comes from the client's ConnectionPool (discovery, ROLE check), opened on a worker so the
// loop never blocks; until it is there, and after it is retired, submit() declines and the
// caller uses the client's carriers. A connection is retired (no new writes; closed once what
// it carries is answered) when the client fences or changes master, or a reply says it is no
// longer a usable master (READONLY, LOADING, ...). A lost connection, or no reply within the
// command timeout (or the earliest request deadline), fails everything it carries as sent.
// Every member runs on the io_context's single thread.
class RedisPipeline : public std::enable_shared_from_this<RedisPipeline> {
public:
    using Done = std::function<void(Attempt)>;

    RedisPipeline(boost::asio::io_context& ioc, MasterClient& client, WorkQueue& opener);

    // Takes a request's first attempt: DONE is called once, later, on this thread. False (DONE
    // never called) when no connection is ready, or the client's maxPending first attempts are
    // already under way (counted across every pipeline and the carriers).
    bool submit(const std::vector<std::vector<std::string>>& commands, Clock::time_point deadline, Done done);

private:
    struct Request {
        std::vector<std::vector<std::string>> commands;
        Clock::time_point deadline;
        Done done;
    };
    // One write's requests and the replies they await, in order.
    struct Flight {
        std::vector<Request> requests;
        std::optional<CommandBatch> batch;
        std::vector<Reply> replies;
        Clock::time_point expires;
    };

    Clock::time_point earliestExpiry() const;
    void closeSocket();
    void requestConnection();
    void adopt(ConnectionPool::MasterSocket socket);
    void scheduleFlush();
    void flush();
    void read();
    void onReply(Reply reply);
    void complete(Flight& flight);
    void armTimer();
    // The connection failed: everything it carries fails as sent; what waits goes elsewhere.
    void fail(const RedisError& error);
    // No new writes; closed once nothing is in flight.
    void retire();
    void closeIfIdle();
    // Requests not yet written go to the client's carriers (or fail, unsent, if it is full).
    void handOff(std::vector<Request> requests);
    // Calls a request's DONE and returns its place among the client's attempts under way.
    void answer(Request& request, Attempt attempt);

    boost::asio::io_context& ioc_;
    MasterClient& client_;
    WorkQueue& opener_;
    std::optional<boost::asio::posix::stream_descriptor> socket_;
    std::uint64_t generation_ = 0;
    Endpoint endpoint_;
    bool retiring_ = false;
    bool connecting_ = false;
    Clock::time_point nextConnect_{};
    bool writing_ = false;
    bool flushScheduled_ = false;
    std::vector<Request> queued_;
    std::deque<Flight> inFlight_;
    std::string out_;
    std::unique_ptr<ReplyReader> reader_;
    std::array<char, 16384> in_{};
    // Handlers of an earlier socket find a different epoch and do nothing.
    std::uint64_t epoch_ = 0;
    boost::asio::steady_timer timer_;
    bool timerArmed_ = false;
    Clock::time_point timerAt_{};
};

}  // namespace redisdr
