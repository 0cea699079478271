#include "log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace redisdr {

namespace {

std::string utcTimestamp() {
    const auto now = std::chrono::system_clock::now();
    const auto seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char base[24];
    std::strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "%s.%03lldZ", base, static_cast<long long>(millis));
    return buffer;
}

}  // namespace

void logLine(const char* level, const std::string& message, const nlohmann::json& fields) {
    nlohmann::json line = {{"ts", utcTimestamp()}, {"level", level}, {"msg", message}};
    for (const auto& [key, value] : fields.items()) line[key] = value;
    static std::mutex mutex;
    const auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::lock_guard<std::mutex> lock(mutex);
    std::fputs(text.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

}  // namespace redisdr
