#include "redisdr/sentinel_discovery.hpp"

#include <algorithm>

#include "redisdr/errors.hpp"

namespace redisdr {

std::vector<Endpoint> SentinelDiscovery::candidates() {
    std::vector<Endpoint> resolved;
    for (const auto& sentinel : settings_.sentinels) {
        auto addresses = resolveAll(sentinel.host);
        for (const auto& address : addresses) resolved.push_back(Endpoint{address, sentinel.port});
    }
    std::lock_guard<std::mutex> lock(mutex_);
    // Known-good Sentinels first (if they still resolve), then the rest in resolver order.
    std::vector<Endpoint> ordered;
    for (const auto& good : preferred_) {
        if (std::find(resolved.begin(), resolved.end(), good) != resolved.end()) ordered.push_back(good);
    }
    for (const auto& e : resolved) {
        if (std::find(ordered.begin(), ordered.end(), e) == ordered.end()) ordered.push_back(e);
    }
    return ordered;
}

namespace {

// The value of `field` in a flat key/value array reply (SENTINEL MASTER).
std::string fieldOf(const Reply& reply, const std::string& field) {
    if (reply.type != Reply::Type::Array) return "";
    for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
        if (reply.elements[i].str == field) return reply.elements[i + 1].str;
    }
    return "";
}

bool hasFlag(const std::string& flags, const char* flag) { return flags.find(flag) != std::string::npos; }

// What one Sentinel says of the master.
struct Answer {
    Endpoint sentinel;
    Endpoint master;
    std::string flags;
    long long configEpoch;
};

}  // namespace

std::optional<Endpoint> SentinelDiscovery::promotedReplica(const Endpoint& sentinel) {
    try {
        auto conn = RedisConnection::open(sentinel, settings_.timeouts, settings_.password, true, settings_.username);
        const Reply replicas = conn->command({"SENTINEL", "REPLICAS", settings_.masterName});
        if (replicas.type != Reply::Type::Array) return std::nullopt;
        for (const auto& replica : replicas.elements) {
            if (!hasFlag(fieldOf(replica, "flags"), "promoted")) continue;
            return Endpoint{fieldOf(replica, "ip"), std::stoi(fieldOf(replica, "port"))};
        }
    } catch (const std::exception&) {
        // No answer is no candidate: the caller keeps waiting for the failover.
    }
    return std::nullopt;
}

Endpoint SentinelDiscovery::discoverMaster(bool* promotedByFailover) {
    auto sentinels = candidates();
    if (sentinels.empty()) {
        throw RedisError(ErrorKind::NoSentinelReachable, "no Sentinel address resolves from the configured names");
    }
    unsigned answered = 0, refused = 0;
    std::string lastError;
    std::vector<Answer> answers;
    // Every Sentinel, not the first that answers: one that has not heard of a failover
    // yet still names the old master, and only the leader flags a failover in progress.
    for (const auto& sentinel : sentinels) {
        try {
            auto conn = RedisConnection::open(sentinel, settings_.timeouts, settings_.password, true, settings_.username);
            Reply reply = conn->command({"SENTINEL", "MASTER", settings_.masterName});
            ++answered;
            const std::string ip = fieldOf(reply, "ip"), port = fieldOf(reply, "port");
            if (reply.isError() || ip.empty() || port.empty()) {
                lastError = reply.isError() ? reply.str : "Sentinel " + sentinel.str() + " does not know master \"" +
                                                              settings_.masterName + "\"";
                continue;
            }
            const std::string epoch = fieldOf(reply, "config-epoch");
            answers.push_back({sentinel, Endpoint{ip, std::stoi(port)}, fieldOf(reply, "flags"), epoch.empty() ? 0 : std::stoll(epoch)});
        } catch (const RedisError& e) {
            if (e.kind() == ErrorKind::SentinelAuth) {
                ++answered;
                ++refused;
            }
            lastError = e.what();
        } catch (const std::exception& e) {  // e.g. a malformed port from a misbehaving Sentinel
            lastError = e.what();
        }
    }
    if (answers.empty()) {
        if (answered == 0) {
            throw RedisError(ErrorKind::NoSentinelReachable,
                             "no Sentinel reachable (" + std::to_string(sentinels.size()) + " tried): " + lastError);
        }
        if (refused == answered) throw RedisError(ErrorKind::SentinelAuth, lastError);
        throw RedisError(ErrorKind::MasterUnknown, "Sentinels answered but do not know master \"" + settings_.masterName +
                                                       "\": " + lastError);
    }

    // A master that Sentinel is replacing, or that it cannot reach, may be stalled rather
    // than dead: writes it takes if it wakes before the failover completes are lost when
    // a replica is promoted. Wait for the failover instead.
    for (const auto& a : answers) {
        if (hasFlag(a.flags, "failover_in_progress")) {
            // The replica this Sentinel chose (flag "promoted") is the new master once its ROLE says so.
            if (promotedByFailover != nullptr) {
                if (auto promoted = promotedReplica(a.sentinel)) {
                    *promotedByFailover = true;
                    return *promoted;
                }
            }
            throw RedisError(ErrorKind::MasterDown, "Sentinel " + a.sentinel.str() + " is failing over master " +
                                                        a.master.str() + "; waiting for the new master");
        }
    }
    // The newest configuration wins: the highest config epoch has seen the latest failover.
    const Answer& newest = *std::max_element(answers.begin(), answers.end(),
                                             [](const Answer& x, const Answer& y) { return x.configEpoch < y.configEpoch; });
    unsigned naming = 0, flagging = 0;
    std::string flaggedBy;
    for (const auto& a : answers) {
        if (a.master != newest.master) continue;
        ++naming;
        if (hasFlag(a.flags, "s_down") || hasFlag(a.flags, "o_down")) {
            ++flagging;
            flaggedBy = a.sentinel.str() + " (" + a.flags + ")";
        }
    }
    // A majority, so that one Sentinel with a broken link to a healthy master cannot stop writes.
    if (flagging * 2 > naming) {
        throw RedisError(ErrorKind::MasterDown, std::to_string(flagging) + " of " + std::to_string(naming) +
                                                    " Sentinels report master " + newest.master.str() +
                                                    " down, e.g. " + flaggedBy + "; waiting for the failover");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    preferred_.erase(std::remove(preferred_.begin(), preferred_.end(), newest.sentinel), preferred_.end());
    preferred_.insert(preferred_.begin(), newest.sentinel);
    return newest.master;
}

}  // namespace redisdr
