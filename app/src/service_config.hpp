#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "env_reader.hpp"
#include "redisdr/endpoint.hpp"

namespace redisdr {

// Everything the service reads, from environment variables only (see README "app/").
struct ServiceConfig {
    std::vector<Endpoint> sentinels;
    std::string masterName;
    std::string redisUsername;  // the Redis ACL user (`app` in a deployment); empty: the default user
    std::string redisPassword;
    std::string sentinelUsername;  // the Sentinel ACL user (`app` in a deployment); empty: the default user
    std::string sentinelPassword;
    // Bearer tokens the public API accepts (API_TOKENS, comma-separated; several during a rotation).
    std::vector<std::string> apiTokens;
    std::string httpBind = "0.0.0.0";
    int httpPort = 8080;
    // /healthz, /readyz (with detail) and /metrics: never on the public port, so public traffic
    // cannot starve the kubelet's probes and the metrics stay private.
    int probePort = 8081;
    int httpIoThreads = 2;   // parse and bound requests (event-driven); never block on Redis
    int httpThreads = 64;    // run admitted requests against Redis, one at a time each
    std::size_t httpQueueDepth = 256;  // first attempts under way, and retries waiting for a worker; more: 503
    std::size_t httpMaxConnections = 1024;
    std::chrono::milliseconds httpReadTimeout{10000};  // a whole request, from the first wait
    std::size_t httpMaxHeaderBytes = 16384;
    std::size_t httpMaxHeaderCount = 64;
    std::size_t httpMaxUrlBytes = 2048;
    std::size_t httpBodyBufferBytes = 64u << 20;  // request bodies held at once
    // Carriers of pipelined batches (auto-pipelining); 0: off. One measured best on 2 cores
    // (npm run bench: more carriers make smaller batches and more thread wake-ups).
    int redisPipelineConnections = 1;
    std::chrono::milliseconds sentinelTimeout{300};
    std::chrono::milliseconds connectTimeout{500};
    std::chrono::milliseconds commandTimeout{1000};
    std::chrono::milliseconds requestTimeout{3000};
    int waitReplicas = 0;
    std::chrono::milliseconds waitTimeout{500};
    // How long an Idempotency-Key's increment is remembered: a retry within it counts nothing.
    std::chrono::seconds idempotencyKeep{3600};
    std::size_t maxKeyBytes = 512;
    std::size_t maxValueBytes = 1024 * 1024;
    int shutdownDrainSeconds = 5;
    std::chrono::milliseconds readyInterval{1000};
    int readyFailureThreshold = 3;
    int readySuccessThreshold = 2;
};

// Reads and validates the configuration; throws ConfigError listing every problem.
ServiceConfig parseServiceConfig(const EnvLookup& env);

}  // namespace redisdr
