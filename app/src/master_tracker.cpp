#include "redisdr/master_tracker.hpp"

#include <sstream>
#include <string>
#include <vector>

namespace redisdr {

namespace {

// How long a candidate learned from an event stays worth trying before discovery.
constexpr auto kCandidateLifetime = std::chrono::seconds(30);
// A candidate that is not master yet stays one this long: its promotion may be a moment away.
constexpr auto kCandidatePromotionGrace = std::chrono::seconds(3);

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

}  // namespace

MasterTracker::MasterTracker(SentinelSettings settings, ClientObserver* observer)
    : masterName_(settings.masterName),
      observer_(observer),
      discovery_(std::move(settings)),
      listener_(
          discovery_, [this](const std::string& channel, const std::string& payload) { onSentinelEvent(channel, payload); },
          [this](const RedisError& error) {
              if (observer_ != nullptr) observer_->onError(error.kind(), error.what());
          }) {}

MasterTracker::~MasterTracker() { stop(); }

std::optional<Endpoint> MasterTracker::current() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return master_;
}

Clock::time_point MasterTracker::lastChange() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lastChange_;
}

std::uint64_t MasterTracker::generation() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return generation_;
}

std::uint64_t MasterTracker::adopt(const Endpoint& master) {
    std::optional<Endpoint> previous;
    std::uint64_t generation = 0;
    bool changed = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (master_ != master) {
            previous = master_;
            changed = true;
            master_ = master;
            lastChange_ = Clock::now();
            // A different master: no connection to the old one may be reused.
            ++generation_;
            ++news_;
        }
        generation = generation_;
    }
    if (!changed) return generation;
    if (dropConnections_) dropConnections_();
    changed_.notify_all();
    if (observer_ != nullptr) observer_->onMasterChanged(previous, master);
    return generation;
}

void MasterTracker::invalidate() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++generation_;
    }
    if (dropConnections_) dropConnections_();
}

std::optional<Endpoint> MasterTracker::candidate() const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (candidate_ && Clock::now() - candidateAt_ < kCandidateLifetime) return candidate_;
    return std::nullopt;
}

void MasterTracker::candidateFailed(const Endpoint& candidate, const RedisError& error) {
    std::lock_guard<std::mutex> lock(mutex_);
    const bool young = Clock::now() - candidateAt_ < kCandidatePromotionGrace;
    if (candidate_ == candidate && !(young && error.kind() == ErrorKind::NotMaster)) candidate_.reset();
}

Endpoint MasterTracker::discover(bool* promotedByFailover, Clock::time_point deadline) {
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

void MasterTracker::sleepUnlessNews(std::chrono::milliseconds delay) {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto seen = news_;
    changed_.wait_for(lock, delay, [&] { return news_ != seen; });
}

void MasterTracker::hint(const Endpoint& candidate) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        candidate_ = candidate;
        candidateAt_ = Clock::now();
        ++news_;
    }
    invalidate();
    changed_.notify_all();
}

void MasterTracker::onSentinelEvent(const std::string& channel, const std::string& payload) {
    const auto w = words(payload);
    if (channel == "+switch-master") {
        // "<name> <old-ip> <old-port> <new-ip> <new-port>"
        if (w.size() < 5 || w[0] != masterName_) return;
        if (auto next = endpointOf(w[3], w[4])) hint(*next);
        if (observer_ != nullptr) observer_->onSwitchMasterHint(payload);
        return;
    }
    const bool aboutReplica = !w.empty() && w[0] == "slave";
    // Master events: "master <name> <ip> <port>"; replica events: "slave <id> <ip> <port> @ <name> ...".
    const std::string& subject = aboutReplica ? (w.size() >= 6 ? w[5] : std::string()) : (w.size() >= 2 ? w[1] : std::string());
    if (subject != masterName_) return;
    if (channel == "+selected-slave") {
        // The replica Sentinel will promote: remembered for +failover-state-wait-promotion.
        if (auto selected = endpointOf(w[2], w[3])) {
            std::lock_guard<std::mutex> lock(mutex_);
            selected_ = selected;
        }
        invalidate();
    } else if (channel == "+failover-state-wait-promotion") {
        // Sent right after SLAVEOF NO ONE: the selected replica is master, or about to be.
        std::optional<Endpoint> selected;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            selected = selected_;
        }
        if (!selected) return;
        hint(*selected);
    } else if (channel == "+promoted-slave") {
        if (auto promoted = endpointOf(w[2], w[3])) hint(*promoted);
    } else if (channel == "-failover-abort-no-good-slave") {
        std::lock_guard<std::mutex> lock(mutex_);
        candidate_.reset();
        return;
    } else if (channel == "+failover-end") {
        return;
    } else {
        invalidate();  // the fence: a failover of our master has begun
    }
    if (observer_ != nullptr) observer_->onFailoverEvent(channel, payload);
}

}  // namespace redisdr
