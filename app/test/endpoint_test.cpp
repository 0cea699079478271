#include <gtest/gtest.h>

#include "redisdr/endpoint.hpp"

using redisdr::Endpoint;
using redisdr::parseEndpointList;

TEST(EndpointList, ParsesNamesPortsAndIpv6) {
    auto list = parseEndpointList("redis-sentinel.ns.svc.cluster.local, 10.0.0.1:26380,[::1]:26381,::1", 26379);
    ASSERT_EQ(list.size(), 4u);
    EXPECT_EQ(list[0], (Endpoint{"redis-sentinel.ns.svc.cluster.local", 26379}));
    EXPECT_EQ(list[1], (Endpoint{"10.0.0.1", 26380}));
    EXPECT_EQ(list[2], (Endpoint{"::1", 26381}));
    EXPECT_EQ(list[3], (Endpoint{"::1", 26379}));
    EXPECT_EQ(list[2].str(), "[::1]:26381");
}

TEST(EndpointList, RejectsBadItemsNamingThem) {
    EXPECT_THROW(parseEndpointList("a:0", 1), std::invalid_argument);
    EXPECT_THROW(parseEndpointList("a:70000", 1), std::invalid_argument);
    EXPECT_THROW(parseEndpointList("a,,b", 1), std::invalid_argument);
    EXPECT_THROW(parseEndpointList(":26379", 1), std::invalid_argument);
    try {
        parseEndpointList("host:port", 1);
        FAIL() << "accepted a non-numeric port";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("host:port"), std::string::npos);
    }
}

TEST(Resolve, ReturnsEveryAddressOfANameAndLiteralsAsThemselves) {
    EXPECT_EQ(redisdr::resolveAll("127.0.0.7"), std::vector<std::string>{"127.0.0.7"});
    auto local = redisdr::resolveAll("localhost");
    EXPECT_FALSE(local.empty());
    EXPECT_TRUE(redisdr::resolveAll("no-such-host.invalid").empty());
}
