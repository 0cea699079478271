#pragma once

#include <string>
#include <vector>

namespace redisdr {

struct Endpoint {
    std::string host;  // a name, an IP address, or the path of a Unix socket (port 0)
    int port = 0;

    // A path (it has a slash, which no host name or address has): "/run/redis.sock", "./s.sock".
    bool isUnixSocket() const { return port == 0 && host.find('/') != std::string::npos; }
    std::string str() const;
    bool operator==(const Endpoint& other) const { return host == other.host && port == other.port; }
    bool operator!=(const Endpoint& other) const { return !(*this == other); }
};

// Parse "host[:port],host[:port],..." (IPv6 as "[::1]:26379"); a missing port is defaultPort.
// Throws std::invalid_argument naming the bad item.
std::vector<Endpoint> parseEndpointList(const std::string& list, int defaultPort);

// Every address a name resolves to (IPv4 and IPv6, de-duplicated, resolver order).
// An IP literal resolves to itself. Empty if the name does not resolve.
std::vector<std::string> resolveAll(const std::string& host);

}  // namespace redisdr
