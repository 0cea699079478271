#pragma once

#include <optional>
#include <string>

#include "redisdr/endpoint.hpp"
#include "redisdr/errors.hpp"

namespace redisdr {

// Hooks for logs and metrics. Called from request threads and the listener thread.
class ClientObserver {
public:
    virtual ~ClientObserver() = default;
    virtual void onError(ErrorKind, const std::string& /*message*/) {}
    virtual void onMasterChanged(const std::optional<Endpoint>& /*from*/, const Endpoint& /*to*/) {}
    virtual void onSwitchMasterHint(const std::string& /*message*/) {}
    // A Sentinel failover event about our master that changed what the client does (fenced
    // the old master, or learned the promoted replica).
    virtual void onFailoverEvent(const std::string& /*channel*/, const std::string& /*payload*/) {}
};

}  // namespace redisdr
