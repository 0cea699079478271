#include "redisdr/master_client.hpp"

#include <poll.h>

#include <map>
#include <set>
#include <sstream>

namespace redisdr {

namespace {

// Maps an error reply that means "this is not a usable master right now" to an
// ErrorKind. Such commands were not executed, so retrying them is always safe.
std::optional<ErrorKind> redirectingError(const Reply& reply) {
    if (!reply.isError()) return std::nullopt;
    const auto code = reply.errorCode();
    if (code == "READONLY" || code == "MASTERDOWN") return ErrorKind::NotMaster;
    if (code == "LOADING") return ErrorKind::Loading;
    if (code == "NOREPLICAS") return ErrorKind::NoReplicas;
    if (code == "NOAUTH" || code == "WRONGPASS") return ErrorKind::RedisAuth;
    return std::nullopt;
}

// How long a candidate learned from an event stays worth trying before discovery.
constexpr auto kCandidateLifetime = std::chrono::seconds(30);

std::vector<std::string> words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

std::optional<Endpoint> endpointOf(const std::string& host, const std::string& port) {
    try {
        return Endpoint{host, std::stoi(port)};
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// Sentinel's failover events (sentinel.c, sentinelEvent: "%@" is "<type> <name> <ip> <port>",
// and for a replica "... @ <master-name> <master-ip> <master-port>").
const std::vector<std::string> kFailoverChannels = {
    "+switch-master", "+try-failover",  "+elected-leader", "+selected-slave", "+failover-state-wait-promotion",
    "+promoted-slave", "+odown",        "+failover-end",   "-failover-abort-no-good-slave",
};

// While a failover is under way the new master appears within milliseconds of Sentinel's
// SLAVEOF NO ONE: retry at this pace, not the usual back-off.
constexpr auto kFailoverRetry = std::chrono::milliseconds(50);

}  // namespace

MasterClient::MasterClient(ClientSettings settings, ClientObserver* observer)
    : settings_(std::move(settings)), observer_(observer), discovery_(settings_.sentinel) {
    carrying_ = settings_.pipelineConnections > 0;
    for (std::size_t i = 0; i < settings_.pipelineConnections; ++i) carriers_.emplace_back([this] { carry(); });
}

MasterClient::~MasterClient() {
    stop();
    stopCarriers();
}

void MasterClient::stopCarriers() {
    {
        std::lock_guard<std::mutex> lock(batchMutex_);
        carrying_ = false;
    }
    batchReady_.notify_all();
    for (auto& carrier : carriers_) {
        if (carrier.joinable()) carrier.join();
    }
}

std::optional<Endpoint> MasterClient::currentMaster() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return master_;
}

Clock::time_point MasterClient::lastMasterChange() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lastChange_;
}

void MasterClient::invalidate() {
    std::vector<std::unique_ptr<RedisConnection>> dropped;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++generation_;
        dropped.swap(idle_);  // closed outside the lock
    }
}

void MasterClient::fence() { invalidate(); }

void MasterClient::hintMaster(const Endpoint& candidate) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        candidate_ = candidate;
        candidateAt_ = Clock::now();
        ++news_;
    }
    invalidate();
    changed_.notify_all();
}

namespace {

// The time left before DEADLINE, capped at LIMIT; Deadline when none is left.
std::chrono::milliseconds within(std::chrono::milliseconds limit, Clock::time_point deadline, const char* what) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) throw RedisError(ErrorKind::Deadline, std::string("request deadline passed before ") + what);
    return std::min(limit, left);
}

}  // namespace

std::unique_ptr<RedisConnection> MasterClient::openVerifiedMaster(const Endpoint& address, Clock::time_point deadline) {
    const Timeouts timeouts{within(settings_.redisTimeouts.connect, deadline, "connecting"),
                            within(settings_.redisTimeouts.command, deadline, "connecting")};
    auto conn = RedisConnection::open(address, timeouts, settings_.redisPassword, false, settings_.redisUsername);
    const Reply role = conn->command({"ROLE"});
    if (role.type != Reply::Type::Array || role.elements.empty() || role.elements[0].str != "master") {
        throw RedisError(ErrorKind::NotMaster, address.str() + " was named master but its ROLE is " +
                                                   (role.elements.empty() ? role.str : role.elements[0].str));
    }
    return conn;
}

Endpoint MasterClient::discoverOnce(bool* promotedByFailover, Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(discoveryMutex_);
    if (discovering_) {
        const auto round = discoveryRound_;
        if (!discoveryDone_.wait_until(lock, deadline, [&] { return discoveryRound_ != round; })) {
            throw RedisError(ErrorKind::Deadline, "request deadline passed waiting for Sentinel discovery");
        }
        if (lastDiscovery_.error) throw *lastDiscovery_.error;
        *promotedByFailover = lastDiscovery_.promotedByFailover;
        return *lastDiscovery_.master;
    }
    discovering_ = true;
    lock.unlock();
    Discovery result;
    try {
        result.master = discovery_.discoverMaster(&result.promotedByFailover);
    } catch (const RedisError& error) {
        result.error = error;
    }
    lock.lock();
    lastDiscovery_ = result;
    discovering_ = false;
    ++discoveryRound_;
    lock.unlock();
    discoveryDone_.notify_all();
    if (result.error) throw *result.error;
    *promotedByFailover = result.promotedByFailover;
    return *result.master;
}

std::unique_ptr<RedisConnection> MasterClient::acquire(Clock::time_point deadline) {
    std::optional<Endpoint> candidate;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        while (!idle_.empty()) {
            auto conn = std::move(idle_.back());
            idle_.pop_back();
            if (conn->generation == generation_ && !conn->broken()) return conn;
        }
        if (candidate_ && Clock::now() - candidateAt_ < kCandidateLifetime) candidate = candidate_;
    }
    // The replica a Sentinel event named (promoted, or about to be): use it as soon as its own
    // ROLE says master, without waiting for the failover to be declared over.
    if (candidate) {
        try {
            auto conn = openVerifiedMaster(*candidate, deadline);
            adopt(*conn);
            return conn;
        } catch (const RedisError& error) {
            // A replica a moment away from its promotion stays a candidate for a few seconds.
            std::lock_guard<std::mutex> lock(mutex_);
            const bool young = Clock::now() - candidateAt_ < std::chrono::seconds(3);
            if (candidate_ == candidate && !(young && error.kind() == ErrorKind::NotMaster)) candidate_.reset();
        }
    }
    // Otherwise a new connection asks Sentinel first: the master may have moved while we were idle.
    bool promotedByFailover = false;
    const Endpoint address = discoverOnce(&promotedByFailover, deadline);
    std::unique_ptr<RedisConnection> conn;
    try {
        conn = openVerifiedMaster(address, deadline);
    } catch (const RedisError& error) {
        // The replica Sentinel chose is not master yet: still "waiting for the failover".
        if (promotedByFailover && error.kind() == ErrorKind::NotMaster) {
            throw RedisError(ErrorKind::MasterDown, "failover under way; " + address.str() + " not promoted yet");
        }
        throw;
    }
    adopt(*conn);
    return conn;
}

MasterClient::MasterSocket MasterClient::openMasterSocket(Clock::time_point deadline) {
    auto conn = acquire(deadline);
    MasterSocket socket;
    socket.generation = conn->generation;
    socket.endpoint = conn->endpoint();
    socket.fd = conn->releaseSocket();
    return socket;
}

bool MasterClient::isCurrent(std::uint64_t generation) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return generation == generation_;
}

std::optional<RedisError> MasterClient::redirectionAmong(const std::vector<Reply>& replies, const Endpoint& from) {
    for (const auto& reply : replies) {
        if (auto kind = redirectingError(reply)) return RedisError(*kind, reply.str + " from " + from.str());
    }
    return std::nullopt;
}

bool MasterClient::reserveAttempt() {
    std::size_t under = attemptsUnderWay_.load();
    do {
        if (under >= settings_.maxPending) return false;
    } while (!attemptsUnderWay_.compare_exchange_weak(under, under + 1));
    return true;
}

void MasterClient::releaseAttempt() { --attemptsUnderWay_; }

void MasterClient::adopt(RedisConnection& conn) {
    const Endpoint address = conn.endpoint();
    std::optional<Endpoint> previous;
    bool changed = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (master_ != address) {
            previous = master_;
            changed = true;
            master_ = address;
            lastChange_ = Clock::now();
            // A different master: no connection to the old one may be reused.
            ++generation_;
            ++news_;
            idle_.clear();
        }
        conn.generation = generation_;
    }
    if (changed) changed_.notify_all();
    if (changed && observer_ != nullptr) observer_->onMasterChanged(previous, address);
}

void MasterClient::release(std::unique_ptr<RedisConnection> conn) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!conn->broken() && conn->generation == generation_ && idle_.size() < settings_.maxIdleConnections) {
        idle_.push_back(std::move(conn));
    }
}

void MasterClient::report(const RedisError& error) {
    if (observer_ != nullptr) observer_->onError(error.kind(), error.what());
}

std::vector<Reply> MasterClient::execute(const std::vector<std::vector<std::string>>& commands,
                                         Idempotency idempotency) {
    return attemptsFrom(1, std::nullopt, commands, idempotency, deadlineFromNow());
}

std::vector<Reply> MasterClient::executeAfter(const Attempt& first, const std::vector<std::vector<std::string>>& commands,
                                              Idempotency idempotency, Clock::time_point deadline) {
    if (!first.error) return first.replies;
    return attemptsFrom(2, first, commands, idempotency, deadline);
}

std::vector<Reply> MasterClient::attemptsFrom(unsigned attempt, std::optional<Attempt> failed,
                                              const std::vector<std::vector<std::string>>& commands, Idempotency idempotency,
                                              Clock::time_point deadline) {
    // Made on the first failure: seeding it (std::random_device) costs more than a request.
    std::optional<RetryPolicy> retry;
    for (;; ++attempt) {
        if (failed) {
            const RedisError& error = *failed->error;
            report(error);
            if (requiresRediscovery(error.kind())) invalidate();
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
            // Sleep out the back-off, but retry at once if a new master was found or announced
            // meanwhile. Not on another request's failure: two failing requests would wake each
            // other and retry (and ask Sentinel) without pause.
            std::unique_lock<std::mutex> lock(mutex_);
            const auto seen = news_;
            changed_.wait_for(lock, *delay, [&] { return news_ != seen; });
        }
        Attempt current;
        try {
            auto conn = acquire(deadline);
            current.replies.reserve(commands.size());
            for (const auto& command : commands) {
                // No attempt outlives the request: each reply is waited for at most the time left.
                conn->setCommandTimeout(within(settings_.redisTimeouts.command, deadline, command.front().c_str()));
                current.sent = true;
                Reply reply = conn->command(command);
                if (auto kind = redirectingError(reply)) {
                    throw RedisError(*kind, reply.str + " from " + conn->endpoint().str());
                }
                current.replies.push_back(std::move(reply));
            }
            release(std::move(conn));
            return std::move(current.replies);
        } catch (const RedisError& error) {
            current.error = error;
        }
        failed = std::move(current);
    }
}

bool MasterClient::submit(std::vector<std::vector<std::string>> commands, Clock::time_point deadline,
                          std::function<void(Attempt)> done) {
    {
        std::lock_guard<std::mutex> lock(batchMutex_);
        if (!carrying_ || !reserveAttempt()) return false;
        auto request = std::make_unique<Batched>();
        request->commands = std::move(commands);
        request->deadline = deadline;
        request->done = std::move(done);
        pending_.push_back(std::move(request));
    }
    batchReady_.notify_one();
    return true;
}

void MasterClient::carry() {
    std::unique_lock<std::mutex> lock(batchMutex_);
    for (;;) {
        batchReady_.wait(lock, [this] { return !pending_.empty() || !carrying_; });
        if (pending_.empty()) return;  // stopping, and nothing left to carry
        // Everyone waiting goes in one batch: one write and one read on one connection.
        const auto take = std::min(pending_.size(), settings_.maxBatch);
        std::vector<std::unique_ptr<Batched>> batch;
        batch.reserve(take);
        for (std::size_t i = 0; i < take; ++i) {
            batch.push_back(std::move(pending_.front()));
            pending_.pop_front();
        }
        lock.unlock();
        runBatch(batch);
        for (auto& b : batch) {
            b->done(std::move(b->attempt));
            releaseAttempt();
        }
        lock.lock();
    }
}

void MasterClient::runBatch(const std::vector<std::unique_ptr<Batched>>& batch) {
    Clock::time_point deadline = batch.front()->deadline;
    for (const auto& b : batch) deadline = std::min(deadline, b->deadline);
    try {
        auto conn = acquire(deadline);
        const auto* wait = sharedWait(batch, [](const std::unique_ptr<Batched>& b) -> const auto& { return b->commands; });
        std::vector<const std::vector<std::string>*> wire;
        for (const auto& b : batch) {
            const std::size_t own = b->commands.size() - (wait ? 1 : 0);
            for (std::size_t i = 0; i < own; ++i) wire.push_back(&b->commands[i]);
        }
        if (wait) wire.push_back(wait);
        conn->setCommandTimeout(within(settings_.redisTimeouts.command, deadline, "a pipelined batch"));
        for (auto& b : batch) b->attempt.sent = true;
        std::vector<Reply> replies;
        replies.reserve(wire.size());
        std::optional<RedisError> lost;
        try {
            conn->pipeline(wire, replies);
        } catch (const RedisError& error) {
            lost = error;  // the replies read before it still stand
        }
        bool redirected = false;
        std::size_t at = 0;
        for (auto& b : batch) {
            Attempt& attempt = b->attempt;
            const std::size_t own = b->commands.size() - (wait ? 1 : 0);
            const bool complete = at + own <= replies.size() && (!wait || replies.size() == wire.size());
            if (!complete) {
                attempt.error = lost;
                at += own;
                continue;
            }
            for (std::size_t i = 0; i < own; ++i) attempt.replies.push_back(std::move(replies[at + i]));
            if (wait) attempt.replies.push_back(replies.back());
            at += own;
            if ((attempt.error = redirectionAmong(attempt.replies, conn->endpoint()))) redirected = true;
        }
        if (!lost && !redirected) release(std::move(conn));
    } catch (const RedisError& error) {
        // No connection, or the deadline passed before anything was sent.
        for (auto& b : batch) {
            if (!b->attempt.error && b->attempt.replies.empty()) b->attempt.error = error;
        }
    }
}

Reply MasterClient::execute(const std::vector<std::string>& command, Idempotency idempotency) {
    return execute(std::vector<std::vector<std::string>>{command}, idempotency).front();
}

void MasterClient::startSwitchListener() {
    if (running_.exchange(true)) return;
    listener_ = std::thread([this] { listen(); });
}

void MasterClient::stop() {
    if (!running_.exchange(false)) return;
    stopped_.notify_all();
    if (listener_.joinable()) listener_.join();
}

void MasterClient::onSentinelMessage(const std::string& channel, const std::string& payload) {
    const auto w = words(payload);
    const std::string& name = settings_.sentinel.masterName;
    if (channel == "+switch-master") {
        // "<name> <old-ip> <old-port> <new-ip> <new-port>"
        if (w.size() < 5 || w[0] != name) return;
        if (auto next = endpointOf(w[3], w[4])) hintMaster(*next);
        if (observer_ != nullptr) observer_->onSwitchMasterHint(payload);
        return;
    }
    const bool aboutReplica = !w.empty() && w[0] == "slave";
    // Master events: "master <name> <ip> <port>"; replica events: "slave <id> <ip> <port> @ <name> ...".
    const std::string& subject = aboutReplica ? (w.size() >= 6 ? w[5] : std::string()) : (w.size() >= 2 ? w[1] : std::string());
    if (subject != name) return;
    if (channel == "+selected-slave") {
        // The replica Sentinel will promote: remembered for +failover-state-wait-promotion.
        if (auto selected = endpointOf(w[2], w[3])) {
            std::lock_guard<std::mutex> lock(mutex_);
            selected_ = selected;
        }
        fence();
    } else if (channel == "+failover-state-wait-promotion") {
        // Sent right after SLAVEOF NO ONE: the selected replica is master, or about to be.
        std::optional<Endpoint> selected;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            selected = selected_;
        }
        if (!selected) return;
        hintMaster(*selected);
    } else if (channel == "+promoted-slave") {
        if (auto promoted = endpointOf(w[2], w[3])) hintMaster(*promoted);
    } else if (channel == "-failover-abort-no-good-slave") {
        std::lock_guard<std::mutex> lock(mutex_);
        candidate_.reset();
        return;
    } else if (channel == "+failover-end") {
        return;
    } else {
        fence();
    }
    if (observer_ != nullptr) observer_->onFailoverEvent(channel, payload);
}

void MasterClient::listen() {
    // One subscription per Sentinel: failover events come only from the Sentinel leading the
    // failover, so listening to one is not enough.
    std::map<std::string, std::unique_ptr<RedisConnection>> subscriptions;
    std::set<std::string> wasConnected;
    auto lastConnect = Clock::time_point{};
    std::vector<std::string> subscribe{"SUBSCRIBE"};
    subscribe.insert(subscribe.end(), kFailoverChannels.begin(), kFailoverChannels.end());
    while (running_) {
        if (Clock::now() - lastConnect > std::chrono::seconds(1)) {
            lastConnect = Clock::now();
            for (const auto& sentinel : discovery_.candidates()) {
                auto& conn = subscriptions[sentinel.str()];
                if (conn && !conn->broken()) continue;
                try {
                    conn = RedisConnection::open(sentinel, settings_.sentinel.timeouts, settings_.sentinel.password, true, settings_.sentinel.username);
                    const Reply confirm = conn->command(subscribe);
                    if (confirm.isError()) throw RedisError(ErrorKind::Reply, confirm.str);
                    wasConnected.insert(sentinel.str());
                } catch (const RedisError& error) {
                    conn.reset();
                    // Report a subscription that was lost, not every retry of one that never came up.
                    if (wasConnected.erase(sentinel.str()) > 0) report(error);
                }
            }
        }
        std::vector<pollfd> fds;
        std::vector<std::pair<const std::string*, RedisConnection*>> live;
        for (auto& entry : subscriptions) {
            if (entry.second && !entry.second->broken()) {
                fds.push_back(pollfd{entry.second->fd(), POLLIN, 0});
                live.emplace_back(&entry.first, entry.second.get());
            }
        }
        if (fds.empty()) {
            std::unique_lock<std::mutex> lock(stopMutex_);
            stopped_.wait_for(lock, std::chrono::milliseconds(250), [this] { return !running_; });
            continue;
        }
        if (::poll(fds.data(), fds.size(), 250) <= 0) continue;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents == 0) continue;
            try {
                Reply message;
                // ["message", <channel>, <payload>]; subscribe confirmations are skipped.
                while (live[i].second->readPush(std::chrono::milliseconds(0), message)) {
                    if (message.elements.size() == 3 && message.elements[0].str == "message") {
                        onSentinelMessage(message.elements[1].str, message.elements[2].str);
                    }
                }
            } catch (const RedisError& error) {
                // Broken: reported once here, and reconnected within a second; a reconnect
                // that then fails is the same loss, not a second one to report.
                wasConnected.erase(*live[i].first);
                report(error);
            }
        }
    }
}

}  // namespace redisdr
