#include "sentinel_env.hpp"

#include <stdexcept>

namespace redisdr {

SentinelSettings readSentinelSettings(EnvReader& r) {
    SentinelSettings s;
    const int port = static_cast<int>(r.integer("SENTINEL_PORT", 26379, 1, 65535));
    const auto hosts = r.text("SENTINEL_HOST", "", true);
    if (!hosts.empty()) {
        try {
            s.sentinels = parseEndpointList(hosts, port);
        } catch (const std::invalid_argument& e) {
            r.problems.push_back(std::string("SENTINEL_HOST: ") + e.what());
        }
    }
    s.masterName = r.word("REDIS_MASTER_NAME", true);
    s.username = r.word("SENTINEL_USERNAME");
    s.password = r.text("SENTINEL_PASSWORD", "");
    return s;
}

}  // namespace redisdr
