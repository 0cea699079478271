#include "service_config.hpp"

#include <algorithm>
#include <limits>
#include <sstream>

#include "api_auth.hpp"
#include "env_reader.hpp"
#include "sentinel_env.hpp"

namespace redisdr {

namespace {

// Comma-separated bearer tokens. A problem names the token by position, never by value.
std::vector<std::string> parseTokens(const std::string& list, std::vector<std::string>& problems) {
    std::vector<std::string> tokens;
    if (list.empty()) return tokens;
    std::size_t start = 0;
    for (int position = 1;; ++position) {
        const auto comma = list.find(',', start);
        const std::string token = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        const bool printable = std::all_of(token.begin(), token.end(), [](unsigned char ch) { return ch > 0x20 && ch < 0x7f; });
        if (token.size() < ApiTokens::kMinLength || !printable) {
            problems.push_back("API_TOKENS: token " + std::to_string(position) + " must be at least " +
                               std::to_string(ApiTokens::kMinLength) + " printable characters without spaces");
        } else {
            tokens.push_back(token);
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return tokens;
}

}  // namespace

ServiceConfig parseServiceConfig(const EnvLookup& env) {
    EnvReader r(env);
    ServiceConfig c;
    const SentinelSettings sentinel = readSentinelSettings(r);
    c.sentinels = sentinel.sentinels;
    c.masterName = sentinel.masterName;
    c.sentinelUsername = sentinel.username;
    c.sentinelPassword = sentinel.password;
    c.redisUsername = r.word("REDIS_USERNAME");
    c.redisPassword = r.text("REDIS_PASSWORD", "");
    c.apiTokens = parseTokens(r.text("API_TOKENS", "", true), r.problems);
    c.httpBind = r.text("HTTP_BIND", c.httpBind);
    c.httpPort = static_cast<int>(r.integer("HTTP_PORT", c.httpPort, 1, 65535));
    c.probePort = static_cast<int>(r.integer("PROBE_PORT", c.probePort, 1, 65535));
    c.httpIoThreads = static_cast<int>(r.integer("HTTP_IO_THREADS", c.httpIoThreads, 1, 64));
    c.httpThreads = static_cast<int>(r.integer("HTTP_THREADS", c.httpThreads, 1, 1024));
    c.httpQueueDepth = r.size("HTTP_QUEUE_DEPTH", c.httpQueueDepth, 1, 100000);
    c.httpMaxConnections = r.size("HTTP_MAX_CONNECTIONS", c.httpMaxConnections, 1, 100000);
    c.httpReadTimeout = r.millis("HTTP_READ_TIMEOUT_MS", c.httpReadTimeout.count(), 100, 300000);
    c.httpMaxHeaderBytes = r.size("HTTP_MAX_HEADER_BYTES", c.httpMaxHeaderBytes, 1024, 1 << 20);
    c.httpMaxHeaderCount = r.size("HTTP_MAX_HEADER_COUNT", c.httpMaxHeaderCount, 8, 1000);
    c.httpMaxUrlBytes = r.size("HTTP_MAX_URL_BYTES", c.httpMaxUrlBytes, 64, 1 << 20);
    c.httpBodyBufferBytes = r.size("HTTP_BODY_BUFFER_BYTES", c.httpBodyBufferBytes, 1024, 16LL << 30);
    c.redisPipelineConnections = static_cast<int>(r.integer("REDIS_PIPELINE_CONNECTIONS", c.redisPipelineConnections, 0, 64));
    c.sentinelTimeout = r.millis("SENTINEL_TIMEOUT_MS", c.sentinelTimeout.count(), 10, 60000);
    c.connectTimeout = r.millis("REDIS_CONNECT_TIMEOUT_MS", c.connectTimeout.count(), 10, 60000);
    c.commandTimeout = r.millis("REDIS_COMMAND_TIMEOUT_MS", c.commandTimeout.count(), 10, 60000);
    c.requestTimeout = r.millis("REDIS_REQUEST_TIMEOUT_MS", c.requestTimeout.count(), 100, 300000);
    c.waitReplicas = static_cast<int>(r.integer("REDIS_WAIT_REPLICAS", c.waitReplicas, 0, 16));
    c.waitTimeout = r.millis("REDIS_WAIT_TIMEOUT_MS", c.waitTimeout.count(), 1, 60000);
    c.idempotencyKeep = std::chrono::seconds(r.integer("IDEMPOTENCY_KEEP_SECONDS", c.idempotencyKeep.count(), 1, 30LL * 24 * 3600));
    c.maxKeyBytes = static_cast<std::size_t>(r.integer("MAX_KEY_BYTES", static_cast<long long>(c.maxKeyBytes), 1, 65536));
    c.maxValueBytes = static_cast<std::size_t>(
        r.integer("MAX_VALUE_BYTES", static_cast<long long>(c.maxValueBytes), 1, 512LL * 1024 * 1024));
    c.shutdownDrainSeconds = static_cast<int>(r.integer("SHUTDOWN_DRAIN_SECONDS", c.shutdownDrainSeconds, 0, 300));
    c.readyInterval = r.millis("READY_CHECK_INTERVAL_MS", c.readyInterval.count(), 50, 60000);
    c.readyFailureThreshold = static_cast<int>(r.integer("READY_FAILURE_THRESHOLD", c.readyFailureThreshold, 1, 100));
    c.readySuccessThreshold = static_cast<int>(r.integer("READY_SUCCESS_THRESHOLD", c.readySuccessThreshold, 1, 100));
    if (c.waitReplicas > 0 && c.waitTimeout >= c.requestTimeout) {
        r.problems.push_back("REDIS_WAIT_TIMEOUT_MS must be below REDIS_REQUEST_TIMEOUT_MS");
    }
    if (c.probePort == c.httpPort) {
        r.problems.push_back("PROBE_PORT must differ from HTTP_PORT: probes and metrics have a listener of their own");
    }
    // The longest route with a key of MAX_KEY_BYTES, every byte percent-encoded.
    const std::size_t longestTarget = std::string("/counter//incr").size() + 3 * c.maxKeyBytes;
    if (c.httpMaxUrlBytes < longestTarget) {
        r.problems.push_back("HTTP_MAX_URL_BYTES must be at least " + std::to_string(longestTarget) +
                             ": a key of MAX_KEY_BYTES, percent-encoded, must fit");
    }
    if (c.httpMaxUrlBytes > c.httpMaxHeaderBytes) {
        r.problems.push_back("HTTP_MAX_URL_BYTES must not exceed HTTP_MAX_HEADER_BYTES, which counts the request line too");
    }
    if (c.httpBodyBufferBytes < c.maxValueBytes) {
        r.problems.push_back("HTTP_BODY_BUFFER_BYTES must be at least MAX_VALUE_BYTES: one value must fit");
    }
    if (c.commandTimeout > c.requestTimeout) {
        r.problems.push_back("REDIS_COMMAND_TIMEOUT_MS must not exceed REDIS_REQUEST_TIMEOUT_MS");
    }
    r.check();
    return c;
}

}  // namespace redisdr
