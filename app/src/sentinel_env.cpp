#include "sentinel_env.hpp"

#include <stdexcept>

namespace redisdr {

namespace {

std::string singleWord(EnvReader& r, const char* name, bool required) {
    std::string value = r.text(name, "", required);
    if (value.find_first_of(" \t\r\n") != std::string::npos) r.problems.push_back(std::string(name) + " must not contain white space");
    return value;
}

}  // namespace

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
    s.masterName = singleWord(r, "REDIS_MASTER_NAME", true);
    s.username = singleWord(r, "SENTINEL_USERNAME", false);
    s.password = r.text("SENTINEL_PASSWORD", "");
    return s;
}

}  // namespace redisdr
