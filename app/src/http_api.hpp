#pragma once

#include <atomic>

#include "http_server.hpp"
#include "metrics.hpp"
#include "redisdr/master_client.hpp"
#include "service_config.hpp"

namespace redisdr {

struct ServiceState {
    std::atomic<bool> ready{false};     // from the readiness checker
    std::atomic<bool> draining{false};  // set on SIGTERM: readiness fails, requests still served
};

class WorkQueue;

// The public listener: PUT/GET /kv/{key}, POST /counter/{name}/incr, and GET /readyz with no
// detail (the NodeBalancer's health check). Everything a request can be refused for on its head
// (route, method, token, framing) is refused before its body is read. A request's first attempt
// is pipelined to the master with others; retries (and everything, without pipelining) run on WORK.
HttpRoutes apiRoutes(const ServiceConfig& config, MasterClient& client, ServiceMetrics& metrics, ServiceState& state, WorkQueue& work);

// The probe listener (PROBE_PORT): /healthz, /readyz with the master and drain state, /metrics.
HttpRoutes probeRoutes(MasterClient& client, ServiceMetrics& metrics, ServiceState& state);

// The public listener's limits, from the configuration.
HttpLimits apiLimits(const ServiceConfig& config);

// The probe listener's: a kubelet and a scraper, small requests, no bodies.
HttpLimits probeLimits();

}  // namespace redisdr
