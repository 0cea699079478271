#include <gtest/gtest.h>

#include <map>

#include "service_config.hpp"

using namespace std::chrono_literals;
using redisdr::ConfigError;
using redisdr::parseServiceConfig;

namespace {

redisdr::ServiceConfig parse(std::map<std::string, std::string> env) {
    return parseServiceConfig([&env](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    });
}

std::vector<std::string> problems(std::map<std::string, std::string> env) {
    try {
        parse(std::move(env));
    } catch (const ConfigError& e) {
        return e.problems();
    }
    return {};
}

const std::map<std::string, std::string> kDeployment = {
    {"SENTINEL_HOST", "redis-sentinel.redis-dr.svc.cluster.local"},
    {"SENTINEL_PORT", "26379"},
    {"REDIS_MASTER_NAME", "mymaster"},
    {"REDIS_USERNAME", "app"},
    {"REDIS_PASSWORD", "secret"},
    {"SENTINEL_PASSWORD", "sentinel-secret"},
    {"HTTP_PORT", "8080"},
    {"REDIS_WAIT_REPLICAS", "1"},
    {"REDIS_WAIT_TIMEOUT_MS", "500"},
    {"REDIS_REQUEST_TIMEOUT_MS", "3000"},
    {"IDEMPOTENCY_KEEP_SECONDS", "7200"},
    {"SHUTDOWN_DRAIN_SECONDS", "5"},
    {"API_TOKENS", "token-one-0123456789abcdef0123456789,token-two-0123456789abcdef0123456789"},
};

// The problems of the Deployment's environment with one variable changed.
std::vector<std::string> problemsWith(const std::string& name, const std::string& value) {
    auto env = kDeployment;
    env[name] = value;
    return problems(env);
}

}  // namespace

TEST(ServiceConfig, ReadsWhatTheDeploymentSets) {
    auto c = parse(kDeployment);
    ASSERT_EQ(c.sentinels.size(), 1u);
    EXPECT_EQ(c.sentinels[0].host, "redis-sentinel.redis-dr.svc.cluster.local");
    EXPECT_EQ(c.sentinels[0].port, 26379);
    EXPECT_EQ(c.masterName, "mymaster");
    EXPECT_EQ(c.redisUsername, "app");
    EXPECT_EQ(c.redisPassword, "secret");
    EXPECT_EQ(c.sentinelPassword, "sentinel-secret");
    EXPECT_EQ(c.httpPort, 8080);
    EXPECT_EQ(c.waitReplicas, 1);
    EXPECT_EQ(c.requestTimeout, 3000ms);
    EXPECT_EQ(c.shutdownDrainSeconds, 5);
    EXPECT_EQ(c.idempotencyKeep, 7200s);
    EXPECT_EQ(c.apiTokens, (std::vector<std::string>{"token-one-0123456789abcdef0123456789", "token-two-0123456789abcdef0123456789"}));
    EXPECT_EQ(c.probePort, 8081);
    // The public listener's limits, at their documented defaults (app/README.md).
    EXPECT_EQ(c.redisPipelineConnections, 1);
    EXPECT_EQ(c.httpIoThreads, 2);
    EXPECT_EQ(c.httpThreads, 64);
    EXPECT_EQ(c.httpQueueDepth, 256u);
    EXPECT_EQ(c.httpMaxConnections, 1024u);
    EXPECT_EQ(c.httpReadTimeout, 10000ms);
    EXPECT_EQ(c.httpMaxHeaderBytes, 16384u);
    EXPECT_EQ(c.httpMaxHeaderCount, 64u);
    EXPECT_EQ(c.httpMaxUrlBytes, 2048u);
    EXPECT_EQ(c.httpBodyBufferBytes, 64u << 20);
}

TEST(ServiceConfig, AppliesSentinelPortToNamesWithoutOne) {
    auto env = kDeployment;
    env["SENTINEL_HOST"] = "127.0.2.1,127.0.2.2:26400";
    env["SENTINEL_PORT"] = "26390";
    auto c = parse(env);
    EXPECT_EQ(c.sentinels[0].port, 26390);
    EXPECT_EQ(c.sentinels[1].port, 26400);
}

TEST(ServiceConfig, NamesEveryMissingOrBadVariable) {
    auto found = problems({{"HTTP_PORT", "http"}, {"REDIS_REQUEST_TIMEOUT_MS", "5"}});
    ASSERT_EQ(found.size(), 5u);
    EXPECT_EQ(found[0], "SENTINEL_HOST is required");
    EXPECT_EQ(found[1], "REDIS_MASTER_NAME is required");
    EXPECT_EQ(found[2], "API_TOKENS is required");
    EXPECT_EQ(found[3], "HTTP_PORT=\"http\" is not a whole number");
    EXPECT_EQ(found[4], "REDIS_REQUEST_TIMEOUT_MS=5 is outside 100..300000");
}

TEST(ServiceConfig, NamesTheOneVariableThatIsWrong) {
    struct Case {
        std::string name, value, problem;
    };
    const std::vector<Case> cases = {
        {"REDIS_WAIT_TIMEOUT_MS", "3000", "REDIS_WAIT_TIMEOUT_MS must be below REDIS_REQUEST_TIMEOUT_MS"},
        {"SENTINEL_HOST", "a:99999", "SENTINEL_HOST"},
        // A bad token is named by its position, never shown.
        {"API_TOKENS", "token-one-0123456789abcdef0123456789,short-secret",
         "API_TOKENS: token 2 must be at least 32 printable characters without spaces"},
        {"PROBE_PORT", "8080", "PROBE_PORT must differ from HTTP_PORT"},
        // 3 x 512 bytes of percent-encoded key, plus "/counter//incr", is 1550.
        {"HTTP_MAX_URL_BYTES", "1549", "HTTP_MAX_URL_BYTES must be at least 1550"},
        {"HTTP_MAX_HEADER_BYTES", "2000", "HTTP_MAX_URL_BYTES must not exceed HTTP_MAX_HEADER_BYTES"},
        {"HTTP_BODY_BUFFER_BYTES", "1048575", "HTTP_BODY_BUFFER_BYTES must be at least MAX_VALUE_BYTES"},
        {"HTTP_QUEUE_DEPTH", "0", "HTTP_QUEUE_DEPTH=0 is outside 1..100000"},
        {"IDEMPOTENCY_KEEP_SECONDS", "0", "IDEMPOTENCY_KEEP_SECONDS=0 is outside 1..2592000"},
        {"HTTP_READ_TIMEOUT_MS", "50", "HTTP_READ_TIMEOUT_MS=50 is outside 100..300000"},
    };
    for (const auto& c : cases) {
        const auto found = problemsWith(c.name, c.value);
        ASSERT_EQ(found.size(), 1u) << c.name;
        EXPECT_NE(found[0].find(c.problem), std::string::npos) << found[0];
        EXPECT_EQ(found[0].find("short-secret"), std::string::npos) << found[0];
    }
}
