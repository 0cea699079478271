#pragma once

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>

#include "redisdr/clock.hpp"
#include "redisdr/master_client.hpp"

namespace redisdr {

// Counters behind GET /metrics (Prometheus text format 0.0.4). Also the client's
// observer, so Redis errors and master changes are counted and logged where they happen.
class ServiceMetrics : public ClientObserver {
public:
    void countRequest(const std::string& route, const std::string& method, int status, double seconds);
    // A request answered with an error, by the kind the client was told (http_failure.hpp).
    void countFailure(const std::string& kind);
    void setReady(bool ready) { ready_ = ready; }

    void onError(ErrorKind kind, const std::string& message) override;
    void onMasterChanged(const std::optional<Endpoint>& from, const Endpoint& to) override;
    void onSwitchMasterHint(const std::string& message) override;
    void onFailoverEvent(const std::string& channel, const std::string& payload) override;

    std::string render(const std::optional<Endpoint>& master, Clock::time_point lastChange) const;

private:
    static constexpr std::array<double, 10> kBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
    struct Histogram {
        std::array<std::uint64_t, kBuckets.size()> buckets{};
        std::uint64_t count = 0;
        double sum = 0;
    };
    mutable std::mutex mutex_;
    std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;
    std::map<std::string, Histogram> latency_;
    std::map<std::string, std::uint64_t> errors_;
    std::map<std::string, std::uint64_t> failures_;
    std::map<std::string, Clock::time_point> lastErrorLog_;
    std::uint64_t masterChanges_ = 0;
    std::uint64_t switchHints_ = 0;
    std::atomic<bool> ready_{false};
};

}  // namespace redisdr
