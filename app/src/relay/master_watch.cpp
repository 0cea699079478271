#include "relay/master_watch.hpp"

#include "log.hpp"
#include "redisdr/errors.hpp"

namespace redisdr::relay {

MasterWatch::MasterWatch(SentinelSettings settings, std::chrono::milliseconds recheck)
    : discovery_(std::move(settings)),
      listener_(
          discovery_,
          [this](const std::string&, const std::string&) {
              std::lock_guard<std::mutex> lock(mutex_);
              refreshNow_ = true;
              changed_.notify_all();
          },
          [](const RedisError& error) { logLine("warn", "a Sentinel subscription broke", {{"error", error.what()}}); }),
      recheck_(recheck) {}

MasterWatch::~MasterWatch() { stop(); }

void MasterWatch::start() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (running_) return;
        running_ = true;
    }
    refresh();
    listener_.start();
    poller_ = std::thread([this] { poll(); });
}

void MasterWatch::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!running_) return;
        running_ = false;
        changed_.notify_all();
    }
    listener_.stop();
    if (poller_.joinable()) poller_.join();
}

std::optional<MasterWatch::Target> MasterWatch::current(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, timeout, [this] { return master_.has_value() || !running_; });
    if (!master_) return std::nullopt;
    return Target{*master_, generation_};
}

bool MasterWatch::isCurrent(std::uint64_t generation) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return generation == generation_;
}

void MasterWatch::poll() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (running_) {
        changed_.wait_for(lock, recheck_, [this] { return refreshNow_ || !running_; });
        if (!running_) break;
        refreshNow_ = false;
        lock.unlock();
        refresh();
        lock.lock();
    }
}

void MasterWatch::refresh() {
    try {
        // During a failover the Sentinel running it may name the replica it promotes. Relaying
        // there early loses nothing: it carries the same replication history, and a replica
        // serves PSYNC as its master does.
        bool promotedByFailover = false;
        set(discovery_.discoverMaster(&promotedByFailover));
    } catch (const RedisError& error) {
        if (error.kind() == ErrorKind::MasterDown) {
            set(std::nullopt);
        } else {
            logLine("warn", "no answer from Sentinel; relaying to the last master it named", {{"error", error.what()}});
        }
    }
}

void MasterWatch::set(const std::optional<Endpoint>& master) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (master == master_) return;
    logLine("info", master ? "relaying to the master Sentinel names" : "no master while a failover runs",
            {{"from", master_ ? master_->str() : ""}, {"to", master ? master->str() : ""}});
    master_ = master;
    ++generation_;
    changed_.notify_all();
}

}  // namespace redisdr::relay
