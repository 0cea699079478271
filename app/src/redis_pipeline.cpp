#include "redis_pipeline.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <iterator>

namespace redisdr {

namespace net = boost::asio;

namespace {

constexpr std::size_t kMaxBatch = 256;
// After a failed connect, submissions use the carriers for this long before the next try.
constexpr auto kReconnectPause = std::chrono::milliseconds(100);

// A socket handed over by the client, closed unless someone takes it.
class OwnedFd {
public:
    explicit OwnedFd(int fd) : fd_(fd) {}
    ~OwnedFd() {
        if (fd_ >= 0) ::close(fd_);
    }
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
    int release() { return std::exchange(fd_, -1); }

private:
    int fd_;
};

}  // namespace

RedisPipeline::RedisPipeline(net::io_context& ioc, MasterClient& client, WorkQueue& opener)
    : ioc_(ioc), client_(client), opener_(opener), reader_(std::make_unique<ReplyReader>()), timer_(ioc) {}

bool RedisPipeline::submit(const std::vector<std::vector<std::string>>& commands, Clock::time_point deadline, Done done) {
    if (!socket_ || retiring_) {
        requestConnection();
        return false;
    }
    if (!client_.budget().reserve()) return false;
    queued_.push_back(Request{commands, deadline, std::move(done)});
    // Not sent yet: what the other connections of this thread have ready joins the same write.
    if (!writing_) scheduleFlush();
    return true;
}

void RedisPipeline::requestConnection() {
    if (connecting_ || socket_ || Clock::now() < nextConnect_) return;
    connecting_ = true;
    std::weak_ptr<RedisPipeline> weak = weak_from_this();
    net::io_context& ioc = ioc_;
    MasterClient& client = client_;
    const bool queued = opener_.tryPush([weak, &ioc, &client] {
        std::optional<ConnectionPool::MasterSocket> socket;
        try {
            socket = client.pool().openMasterSocket(client.deadlineFromNow());
        } catch (const RedisError&) {
            // The carriers' attempts report it; this pipeline tries again after a pause.
        }
        auto owned = std::make_shared<OwnedFd>(socket ? socket->fd : -1);
        net::post(ioc, [weak, socket, owned] {
            auto self = weak.lock();
            if (!self) return;
            self->connecting_ = false;
            if (!socket) {
                self->nextConnect_ = Clock::now() + kReconnectPause;
                return;
            }
            owned->release();
            self->adopt(*socket);
        });
    });
    if (!queued) connecting_ = false;
}

void RedisPipeline::adopt(ConnectionPool::MasterSocket socket) {
    closeSocket();
    socket_.emplace(ioc_, socket.fd);
    generation_ = socket.generation;
    endpoint_ = socket.endpoint;
    read();
}

void RedisPipeline::scheduleFlush() {
    if (flushScheduled_) return;
    flushScheduled_ = true;
    net::post(ioc_, [self = shared_from_this()] {
        self->flushScheduled_ = false;
        self->flush();
    });
}

void RedisPipeline::flush() {
    if (writing_ || queued_.empty()) return;
    if (!socket_ || retiring_) return handOff(std::exchange(queued_, {}));
    // Fenced (a failover began) or another master: nothing more is written on this connection.
    if (!client_.tracker().isCurrent(generation_)) return retire();

    const auto now = Clock::now();
    const std::size_t take = std::min(queued_.size(), kMaxBatch);
    std::vector<Request> batch;
    batch.reserve(take);
    for (std::size_t i = 0; i < take; ++i) {
        Request& r = queued_[i];
        if (r.deadline <= now) {
            // Never sent: safe to say so, whatever the command.
            Attempt expired;
            expired.error = RedisError(ErrorKind::Deadline, "request deadline passed before a pipelined write");
            answer(r, std::move(expired));
            continue;
        }
        batch.push_back(std::move(r));
    }
    queued_.erase(queued_.begin(), queued_.begin() + static_cast<std::ptrdiff_t>(take));
    if (batch.empty()) return flush();

    Flight flight;
    std::vector<const Commands*> commands;
    commands.reserve(batch.size());
    Clock::time_point deadline = batch.front().deadline;
    for (const auto& r : batch) {
        commands.push_back(&r.commands);
        deadline = std::min(deadline, r.deadline);
    }
    flight.batch.emplace(commands);
    out_.clear();
    for (const auto* command : flight.batch->wire(commands)) appendCommand(out_, *command);
    flight.requests = std::move(batch);
    // No attempt outlives its request, nor waits longer than the command timeout.
    flight.expires = std::min(deadline, now + client_.pool().timeouts().command);
    inFlight_.push_back(std::move(flight));
    armTimer();

    writing_ = true;
    net::async_write(*socket_, net::buffer(out_), [self = shared_from_this(), epoch = epoch_](boost::system::error_code ec, std::size_t) {
        if (epoch != self->epoch_) return;
        self->writing_ = false;
        if (ec) return self->fail(RedisError(ErrorKind::Io, "writing to " + self->endpoint_.str() + ": " + ec.message()));
        if (self->retiring_) return self->closeIfIdle();
        self->flush();  // what arrived during the write
    });
}

void RedisPipeline::read() {
    socket_->async_read_some(net::buffer(in_), [self = shared_from_this(), epoch = epoch_](boost::system::error_code ec, std::size_t n) {
        if (epoch != self->epoch_) return;
        if (ec) return self->fail(RedisError(ErrorKind::Io, "reading from " + self->endpoint_.str() + ": " + ec.message()));
        try {
            self->reader_->feed(self->in_.data(), n);
            Reply reply;
            while (epoch == self->epoch_ && self->reader_->next(reply)) self->onReply(std::move(reply));
        } catch (const RedisError& error) {
            if (epoch == self->epoch_) self->fail(error);
            return;
        }
        if (epoch == self->epoch_) self->read();
    });
}

void RedisPipeline::onReply(Reply reply) {
    if (inFlight_.empty()) return fail(RedisError(ErrorKind::Io, "a reply nobody asked for from " + endpoint_.str()));
    Flight& front = inFlight_.front();
    front.replies.push_back(std::move(reply));
    if (front.replies.size() < front.batch->replyCount()) return;
    Flight flight = std::move(front);
    inFlight_.pop_front();
    complete(flight);
    closeIfIdle();
}

void RedisPipeline::complete(Flight& flight) {
    auto split = flight.batch->split(std::move(flight.replies), std::nullopt, endpoint_);
    for (std::size_t i = 0; i < flight.requests.size(); ++i) answer(flight.requests[i], std::move(split.attempts[i]));
    if (split.redirected) retire();
}

Clock::time_point RedisPipeline::earliestExpiry() const {
    Clock::time_point earliest = Clock::time_point::max();
    for (const auto& f : inFlight_) earliest = std::min(earliest, f.expires);
    return earliest;
}

void RedisPipeline::armTimer() {
    if (inFlight_.empty()) return;
    const auto earliest = earliestExpiry();
    if (timerArmed_ && timerAt_ <= earliest) return;
    timerArmed_ = true;
    timerAt_ = earliest;
    timer_.expires_at(earliest);
    timer_.async_wait([self = shared_from_this(), epoch = epoch_, at = earliest](boost::system::error_code ec) {
        if (ec || epoch != self->epoch_ || at != self->timerAt_) return;
        self->timerArmed_ = false;
        if (!self->inFlight_.empty() && self->earliestExpiry() <= Clock::now()) {
            return self->fail(RedisError(ErrorKind::Io, "no reply from " + self->endpoint_.str() + " in time"));
        }
        self->armTimer();
    });
}

void RedisPipeline::fail(const RedisError& error) {
    auto flights = std::move(inFlight_);
    inFlight_.clear();
    closeSocket();
    nextConnect_ = Clock::now() + kReconnectPause;
    for (auto& flight : flights) {
        for (auto& r : flight.requests) {
            // It may have reached Redis: an unsafe command is not repeated.
            Attempt attempt;
            attempt.sent = true;
            attempt.error = error;
            answer(r, std::move(attempt));
        }
    }
    handOff(std::exchange(queued_, {}));
}

void RedisPipeline::retire() {
    retiring_ = true;
    handOff(std::exchange(queued_, {}));
    closeIfIdle();
}

void RedisPipeline::closeIfIdle() {
    if (retiring_ && inFlight_.empty() && !writing_) closeSocket();
}

void RedisPipeline::closeSocket() {
    if (socket_) {
        boost::system::error_code ignored;
        socket_->close(ignored);
        socket_.reset();
    }
    ++epoch_;
    writing_ = false;
    retiring_ = false;
    timerArmed_ = false;
    timer_.cancel();
    reader_ = std::make_unique<ReplyReader>();
}

void RedisPipeline::handOff(std::vector<Request> requests) {
    for (auto& r : requests) {
        client_.budget().release();  // submit() takes it again
        if (client_.submit(r.commands, r.deadline, r.done)) continue;
        Attempt unsent;
        unsent.error = RedisError(ErrorKind::Io, "the pipelined connection was retired and the carriers are full");
        r.done(std::move(unsent));
    }
}

void RedisPipeline::answer(Request& request, Attempt attempt) {
    client_.budget().release();
    request.done(std::move(attempt));
}

}  // namespace redisdr
