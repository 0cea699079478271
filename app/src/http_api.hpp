#pragma once

#include <atomic>

#include "metrics.hpp"
#include "redisdr/master_client.hpp"
#include "service_config.hpp"

namespace httplib {
class Server;
}

namespace redisdr {

struct ServiceState {
    std::atomic<bool> ready{false};     // from the readiness checker
    std::atomic<bool> draining{false};  // set on SIGTERM: readiness fails, requests still served
};

// The public listener: PUT/GET /kv/{key}, POST /counter/{name}/incr, and GET /readyz with no
// detail (the NodeBalancer's health check). Responses say Connection: close while draining.
void installApiRoutes(httplib::Server& server, const ServiceConfig& config, MasterClient& client,
                      ServiceMetrics& metrics, ServiceState& state);

// The probe listener (PROBE_PORT): /healthz, /readyz with the master and drain state, /metrics.
void installProbeRoutes(httplib::Server& server, MasterClient& client, ServiceMetrics& metrics, ServiceState& state);

}  // namespace redisdr
