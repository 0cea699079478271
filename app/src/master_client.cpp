#include "redisdr/master_client.hpp"

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

}  // namespace

MasterClient::MasterClient(ClientSettings settings, ClientObserver* observer)
    : settings_(std::move(settings)), observer_(observer), discovery_(settings_.sentinel) {}

MasterClient::~MasterClient() { stop(); }

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

std::unique_ptr<RedisConnection> MasterClient::acquire() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        while (!idle_.empty()) {
            auto conn = std::move(idle_.back());
            idle_.pop_back();
            if (conn->generation == generation_ && !conn->broken()) return conn;
        }
    }
    // A new connection always asks Sentinel first: the master may have moved while we were idle.
    const Endpoint address = discovery_.discoverMaster();
    auto conn = RedisConnection::open(address, settings_.redisTimeouts, settings_.redisPassword, false);
    const Reply role = conn->command({"ROLE"});
    if (role.type != Reply::Type::Array || role.elements.empty() || role.elements[0].str != "master") {
        throw RedisError(ErrorKind::NotMaster, "Sentinel named " + address.str() + " but its ROLE is " +
                                                   (role.elements.empty() ? role.str : role.elements[0].str));
    }
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
            idle_.clear();
        }
        conn->generation = generation_;
    }
    if (changed && observer_ != nullptr) observer_->onMasterChanged(previous, address);
    return conn;
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
    const auto deadline = Clock::now() + settings_.requestTimeout;
    RetryPolicy retry(settings_.retryInitial, settings_.retryMax);
    std::optional<RedisError> last;
    for (unsigned attempt = 1;; ++attempt) {
        bool sent = false;
        try {
            auto conn = acquire();
            std::vector<Reply> replies;
            replies.reserve(commands.size());
            for (const auto& command : commands) {
                sent = true;
                Reply reply = conn->command(command);
                if (auto kind = redirectingError(reply)) {
                    throw RedisError(*kind, reply.str + " from " + conn->endpoint().str());
                }
                replies.push_back(std::move(reply));
            }
            release(std::move(conn));
            return replies;
        } catch (const RedisError& error) {
            report(error);
            last = error;
            if (requiresRediscovery(error.kind())) invalidate();
            // An I/O error after sending leaves the outcome unknown: never repeat an unsafe command.
            if (error.kind() == ErrorKind::Io && sent && idempotency == Idempotency::Unsafe) throw;
        }
        auto delay = retry.nextDelay(attempt, Clock::now(), deadline);
        if (!delay) {
            std::ostringstream message;
            message << "gave up after " << attempt << " attempt(s) within "
                    << settings_.requestTimeout.count() << " ms: " << last->what();
            throw RedisError(last->kind(), message.str());
        }
        std::this_thread::sleep_for(*delay);
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

void MasterClient::listen() {
    const auto tick = std::chrono::milliseconds(250);
    while (running_) {
        for (const auto& sentinel : discovery_.candidates()) {
            if (!running_) return;
            try {
                auto conn = RedisConnection::open(sentinel, settings_.sentinel.timeouts, settings_.sentinel.password, true);
                Reply confirm = conn->command({"SUBSCRIBE", "+switch-master"});
                if (confirm.isError()) throw RedisError(ErrorKind::Reply, confirm.str);
                while (running_) {
                    Reply message;
                    if (!conn->readPush(tick, message)) continue;
                    // ["message", "+switch-master", "<name> <old-ip> <old-port> <new-ip> <new-port>"]
                    if (message.elements.size() == 3 && message.elements[0].str == "message") {
                        const auto& payload = message.elements[2].str;
                        if (payload.rfind(settings_.sentinel.masterName + " ", 0) == 0) {
                            invalidate();
                            if (observer_ != nullptr) observer_->onSwitchMasterHint(payload);
                        }
                    }
                }
            } catch (const RedisError& error) {
                report(error);
            }
        }
        // Every Sentinel failed: pause before the next round, waking early on stop().
        std::unique_lock<std::mutex> lock(stopMutex_);
        stopped_.wait_for(lock, std::chrono::seconds(1), [this] { return !running_; });
    }
}

}  // namespace redisdr
