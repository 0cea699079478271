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

Endpoint SentinelDiscovery::discoverMaster() {
    auto sentinels = candidates();
    if (sentinels.empty()) {
        throw RedisError(ErrorKind::NoSentinelReachable, "no Sentinel address resolves from the configured names");
    }
    unsigned answered = 0, refused = 0;
    std::string lastError;
    for (const auto& sentinel : sentinels) {
        try {
            auto conn = RedisConnection::open(sentinel, settings_.timeouts, settings_.password, true);
            Reply reply = conn->command({"SENTINEL", "get-master-addr-by-name", settings_.masterName});
            ++answered;
            if (reply.type == Reply::Type::Array && reply.elements.size() == 2 &&
                reply.elements[0].type == Reply::Type::String && reply.elements[1].type == Reply::Type::String) {
                std::lock_guard<std::mutex> lock(mutex_);
                preferred_.erase(std::remove(preferred_.begin(), preferred_.end(), sentinel), preferred_.end());
                preferred_.insert(preferred_.begin(), sentinel);
                return Endpoint{reply.elements[0].str, std::stoi(reply.elements[1].str)};
            }
            lastError = reply.isError() ? reply.str : "Sentinel " + sentinel.str() + " does not know master \"" +
                                                          settings_.masterName + "\"";
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
    if (answered == 0) {
        throw RedisError(ErrorKind::NoSentinelReachable,
                         "no Sentinel reachable (" + std::to_string(sentinels.size()) + " tried): " + lastError);
    }
    if (refused == answered) throw RedisError(ErrorKind::SentinelAuth, lastError);
    throw RedisError(ErrorKind::MasterUnknown, "Sentinels answered but do not know master \"" + settings_.masterName +
                                                   "\": " + lastError);
}

}  // namespace redisdr
