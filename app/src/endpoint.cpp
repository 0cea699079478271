#include "redisdr/endpoint.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace redisdr {

std::string Endpoint::str() const {
    if (isUnixSocket()) return host;
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

namespace {

int parsePort(const std::string& text, const std::string& item) {
    if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos) {
        throw std::invalid_argument("bad port in \"" + item + "\"");
    }
    int port = std::stoi(text);
    if (port < 1 || port > 65535) throw std::invalid_argument("port out of range in \"" + item + "\"");
    return port;
}

Endpoint parseOne(const std::string& item, int defaultPort) {
    if (item.empty()) throw std::invalid_argument("empty entry in endpoint list");
    if (item.front() == '[') {
        auto close = item.find(']');
        if (close == std::string::npos) throw std::invalid_argument("unclosed [ in \"" + item + "\"");
        Endpoint e{item.substr(1, close - 1), defaultPort};
        if (close + 1 < item.size()) {
            if (item[close + 1] != ':') throw std::invalid_argument("bad text after ] in \"" + item + "\"");
            e.port = parsePort(item.substr(close + 2), item);
        }
        return e;
    }
    auto colon = item.find(':');
    if (colon != std::string::npos && item.find(':', colon + 1) != std::string::npos) {
        return Endpoint{item, defaultPort};  // bare IPv6 literal
    }
    if (colon == std::string::npos) return Endpoint{item, defaultPort};
    if (colon == 0) throw std::invalid_argument("missing host in \"" + item + "\"");
    return Endpoint{item.substr(0, colon), parsePort(item.substr(colon + 1), item)};
}

std::string trim(const std::string& s) {
    auto begin = s.find_first_not_of(" \t");
    if (begin == std::string::npos) return "";
    auto end = s.find_last_not_of(" \t");
    return s.substr(begin, end - begin + 1);
}

}  // namespace

std::vector<Endpoint> parseEndpointList(const std::string& list, int defaultPort) {
    std::vector<Endpoint> out;
    std::string::size_type start = 0;
    while (start <= list.size()) {
        auto comma = list.find(',', start);
        auto item = trim(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        out.push_back(parseOne(item, defaultPort));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

std::vector<std::string> resolveAll(const std::string& host) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* raw = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &raw) != 0) return {};
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> result(raw, freeaddrinfo);
    std::vector<std::string> addresses;
    for (addrinfo* ai = result.get(); ai != nullptr; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN] = {};
        const void* addr = ai->ai_family == AF_INET
                               ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
                               : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
        if (inet_ntop(ai->ai_family, addr, text, sizeof text) == nullptr) continue;
        if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) addresses.emplace_back(text);
    }
    return addresses;
}

}  // namespace redisdr
