#include <gtest/gtest.h>

#include "metrics.hpp"

using redisdr::Endpoint;
using redisdr::ErrorKind;

TEST(Metrics, RendersPrometheusTextWithLabels) {
    redisdr::ServiceMetrics m;
    m.countRequest("/kv/{key}", "PUT", 200, 0.002);
    m.countRequest("/kv/{key}", "PUT", 200, 0.2);
    m.countRequest("/kv/{key}", "PUT", 503, 3.0);
    m.onError(ErrorKind::NoSentinelReachable, "x");
    m.onError(ErrorKind::NotMaster, "READONLY");
    m.onError(ErrorKind::NotMaster, "READONLY");
    m.onMasterChanged(std::nullopt, Endpoint{"a", 6379});  // first discovery is not a failover
    m.onMasterChanged(Endpoint{"a", 6379}, Endpoint{"b", 6379});
    m.setReady(true);
    const auto text = m.render(Endpoint{"redis-1.redis-headless", 6379}, redisdr::Clock::now());
    EXPECT_NE(text.find("redisdr_http_requests_total{route=\"/kv/{key}\",method=\"PUT\",status=\"200\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("redisdr_http_requests_total{route=\"/kv/{key}\",method=\"PUT\",status=\"503\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("redisdr_http_request_duration_seconds_bucket{route=\"/kv/{key}\",le=\"0.0025\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("redisdr_http_request_duration_seconds_bucket{route=\"/kv/{key}\",le=\"+Inf\"} 3\n"), std::string::npos);
    EXPECT_NE(text.find("redisdr_redis_errors_total{kind=\"no_sentinel_reachable\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("redisdr_redis_errors_total{kind=\"not_master\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("redisdr_failovers_observed_total 1\n"), std::string::npos);
    EXPECT_NE(text.find("redisdr_master{address=\"redis-1.redis-headless:6379\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("redisdr_ready 1\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE redisdr_seconds_since_master_change gauge\n"), std::string::npos);
}

TEST(Metrics, LabelsAnUnknownMethodOther) {
    redisdr::ServiceMetrics m;
    for (int i = 0; i < 1000; ++i) m.countRequest("refused", "X" + std::to_string(i), 401, 0);
    m.countRequest("refused", "", 400, 0);
    m.countRequest("refused", "get", 401, 0);
    m.countRequest("refused", "DELETE", 405, 0);
    const auto text = m.render(std::nullopt, redisdr::Clock::now());
    EXPECT_NE(text.find("redisdr_http_requests_total{route=\"refused\",method=\"other\",status=\"401\"} 1001\n"), std::string::npos) << text;
    EXPECT_NE(text.find("redisdr_http_requests_total{route=\"refused\",method=\"other\",status=\"400\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("redisdr_http_requests_total{route=\"refused\",method=\"DELETE\",status=\"405\"} 1\n"), std::string::npos);
    EXPECT_EQ(text.find("X1"), std::string::npos);
}
