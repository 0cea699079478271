#include "metrics.hpp"

#include <sstream>

#include "log.hpp"

namespace redisdr {

namespace {

std::string escapeLabel(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

// A client picks the method token: only RFC 9110's methods (and PATCH) get a label of their
// own, so the counter keeps a bounded set of series whatever is sent.
std::string methodLabel(const std::string& method) {
    static constexpr const char* kKnown[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    for (const char* known : kKnown) {
        if (method == known) return method;
    }
    return "other";
}

}  // namespace

void ServiceMetrics::countRequest(const std::string& route, const std::string& method, int status, double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++requests_[{route, methodLabel(method), status}];
    auto& h = latency_[route];
    ++h.count;
    h.sum += seconds;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        if (seconds <= kBuckets[i]) ++h.buckets[i];
    }
}

void ServiceMetrics::countFailure(const std::string& kind) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++failures_[kind];
}

void ServiceMetrics::onError(ErrorKind kind, const std::string& message) {
    const std::string name = errorKindName(kind);
    bool log = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++errors_[name];
        // During a failover every retry fails the same way: log each kind at most once a second.
        auto now = Clock::now();
        auto& last = lastErrorLog_[name];
        if (now - last > std::chrono::seconds(1)) {
            last = now;
            log = true;
        }
    }
    if (log) logLine("warn", "redis error", {{"kind", name}, {"error", message}});
}

void ServiceMetrics::onMasterChanged(const std::optional<Endpoint>& from, const Endpoint& to) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (from) ++masterChanges_;
    }
    logLine("info", from ? "master changed" : "master found",
            {{"from", from ? from->str() : ""}, {"to", to.str()}});
}

void ServiceMetrics::onFailoverEvent(const std::string& channel, const std::string& payload) {
    const bool promoting = channel == "+promoted-slave" || channel == "+failover-state-wait-promotion";
    logLine("info", promoting ? "Sentinel is promoting a replica; trying it as master" : "failover under way; fenced the old master",
            {{"event", channel + " " + payload}});
}

void ServiceMetrics::onSwitchMasterHint(const std::string& message) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++switchHints_;
    }
    logLine("info", "+switch-master from Sentinel; following the new master", {{"event", message}});
}

std::string ServiceMetrics::render(const std::optional<Endpoint>& master, Clock::time_point lastChange) const {
    std::ostringstream out;
    std::lock_guard<std::mutex> lock(mutex_);
    out << "# HELP redisdr_http_requests_total HTTP requests by route, method and status.\n"
        << "# TYPE redisdr_http_requests_total counter\n";
    for (const auto& [key, count] : requests_) {
        const auto& [route, method, status] = key;
        out << "redisdr_http_requests_total{route=\"" << escapeLabel(route) << "\",method=\"" << method
            << "\",status=\"" << status << "\"} " << count << "\n";
    }
    out << "# HELP redisdr_http_request_duration_seconds HTTP request latency by route.\n"
        << "# TYPE redisdr_http_request_duration_seconds histogram\n";
    for (const auto& [route, h] : latency_) {
        for (std::size_t i = 0; i < kBuckets.size(); ++i) {
            out << "redisdr_http_request_duration_seconds_bucket{route=\"" << escapeLabel(route) << "\",le=\""
                << kBuckets[i] << "\"} " << h.buckets[i] << "\n";
        }
        out << "redisdr_http_request_duration_seconds_bucket{route=\"" << escapeLabel(route) << "\",le=\"+Inf\"} "
            << h.count << "\n"
            << "redisdr_http_request_duration_seconds_sum{route=\"" << escapeLabel(route) << "\"} " << h.sum << "\n"
            << "redisdr_http_request_duration_seconds_count{route=\"" << escapeLabel(route) << "\"} " << h.count
            << "\n";
    }
    out << "# HELP redisdr_redis_errors_total Redis errors seen by the client, by kind.\n"
        << "# TYPE redisdr_redis_errors_total counter\n";
    for (const auto& [kind, count] : errors_) {
        out << "redisdr_redis_errors_total{kind=\"" << kind << "\"} " << count << "\n";
    }
    out << "# HELP redisdr_http_failures_total Requests answered with an error, by the kind the client was told.\n"
        << "# TYPE redisdr_http_failures_total counter\n";
    for (const auto& [kind, count] : failures_) {
        out << "redisdr_http_failures_total{kind=\"" << escapeLabel(kind) << "\"} " << count << "\n";
    }
    out << "# HELP redisdr_failovers_observed_total Times the client found a different master than before.\n"
        << "# TYPE redisdr_failovers_observed_total counter\n"
        << "redisdr_failovers_observed_total " << masterChanges_ << "\n"
        << "# HELP redisdr_switch_master_events_total +switch-master messages received from Sentinel.\n"
        << "# TYPE redisdr_switch_master_events_total counter\n"
        << "redisdr_switch_master_events_total " << switchHints_ << "\n"
        << "# HELP redisdr_master Current master address (value 1) as seen by this process.\n"
        << "# TYPE redisdr_master gauge\n";
    if (master) out << "redisdr_master{address=\"" << escapeLabel(master->str()) << "\"} 1\n";
    const auto since = std::chrono::duration<double>(Clock::now() - lastChange).count();
    out << "# HELP redisdr_seconds_since_master_change Seconds since the master address last changed (or since start).\n"
        << "# TYPE redisdr_seconds_since_master_change gauge\n"
        << "redisdr_seconds_since_master_change " << since << "\n"
        << "# HELP redisdr_ready 1 when /readyz reports ready.\n"
        << "# TYPE redisdr_ready gauge\n"
        << "redisdr_ready " << (ready_ ? 1 : 0) << "\n";
    return out.str();
}

}  // namespace redisdr
