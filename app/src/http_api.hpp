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

// Routes: PUT/GET /kv/{key}, POST /counter/{name}/incr, /healthz, /readyz, /metrics.
void installRoutes(httplib::Server& server, const ServiceConfig& config, MasterClient& client,
                   ServiceMetrics& metrics, ServiceState& state);

}  // namespace redisdr
