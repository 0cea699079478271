#include "redisdr/failover_listener.hpp"

#include <poll.h>

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "redisdr/clock.hpp"
#include "redisdr/redis_connection.hpp"

namespace redisdr {

namespace {

// Sentinel's failover events (sentinel.c, sentinelEvent: "%@" is "<type> <name> <ip> <port>",
// and for a replica "... @ <master-name> <master-ip> <master-port>").
const std::vector<std::string> kFailoverChannels = {
    "+switch-master", "+try-failover",  "+elected-leader", "+selected-slave", "+failover-state-wait-promotion",
    "+promoted-slave", "+odown",        "+failover-end",   "-failover-abort-no-good-slave",
};

}  // namespace

FailoverListener::FailoverListener(SentinelDiscovery& discovery, OnEvent onEvent, OnLost onLost)
    : discovery_(discovery), onEvent_(std::move(onEvent)), onLost_(std::move(onLost)) {}

FailoverListener::~FailoverListener() { stop(); }

void FailoverListener::start() {
    if (running_.exchange(true)) return;
    thread_ = std::thread([this] { run(); });
}

void FailoverListener::stop() {
    if (!running_.exchange(false)) return;
    stopped_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void FailoverListener::run() {
    const SentinelSettings& settings = discovery_.settings();
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
                    conn = RedisConnection::open(sentinel, settings.timeouts, settings.password, true, settings.username);
                    const Reply confirm = conn->command(subscribe);
                    if (confirm.isError()) throw RedisError(ErrorKind::Reply, confirm.str);
                    wasConnected.insert(sentinel.str());
                } catch (const RedisError& error) {
                    conn.reset();
                    if (wasConnected.erase(sentinel.str()) > 0) onLost_(error);
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
                        onEvent_(message.elements[1].str, message.elements[2].str);
                    }
                }
            } catch (const RedisError& error) {
                // Broken: reported once here, and reconnected within a second; a reconnect
                // that then fails is the same loss, not a second one to report.
                wasConnected.erase(*live[i].first);
                onLost_(error);
            }
        }
    }
}

}  // namespace redisdr
