#pragma once
// The service binary as a test runs it, and the raw-socket clients the tests attack it with.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "sentinel_group.hpp"

namespace redisdr::testing {

using namespace std::chrono_literals;

inline std::atomic<int> nextPort{18080};
// Where the services of this test listen: an address of the group's /24, so that tests in
// other slots (test_slot.hpp) use the same ports without meeting.
inline std::string serviceHost() { return SentinelGroup::subnet() + "100"; }
inline const std::string kToken = "integration-api-token-0123456789abcdef";
inline const std::string kNextToken = "integration-api-token-next-0123456789abcdef";

// One running service process with its own port and log.
class Service {
public:
    explicit Service(const SentinelGroup& group, std::map<std::string, std::string> overrides = {})
        : port_(nextPort++), probePort_(port_ + 10000), log_(group.logDir() + "/service-" + std::to_string(port_) + ".log") {
        std::map<std::string, std::string> env = {
            {"PATH", std::getenv("PATH")},
            {"SENTINEL_HOST", SentinelGroup::sentinelHosts()},
            {"SENTINEL_PORT", std::to_string(SentinelGroup::kSentinelPort)},
            {"REDIS_MASTER_NAME", SentinelGroup::kMasterName},
            {"REDIS_PASSWORD", SentinelGroup::kPassword},
            {"SENTINEL_PASSWORD", SentinelGroup::kSentinelPassword},
            {"HTTP_BIND", serviceHost()},
            {"HTTP_PORT", std::to_string(port_)},
            {"PROBE_PORT", std::to_string(probePort_)},
            {"API_TOKENS", kToken + "," + kNextToken},
            {"REDIS_REQUEST_TIMEOUT_MS", "2000"},
            {"READY_CHECK_INTERVAL_MS", "200"},
            {"SHUTDOWN_DRAIN_SECONDS", "1"},
        };
        for (auto& [k, v] : overrides) env[k] = v;
        process_ = Process({REDISDR_APP_BINARY}, env, log_);
        EXPECT_TRUE(waitUntil([this] { return probe("/healthz").status == 200; }, 10s)) << log();
    }

    struct Result {
        int status = 0;
        std::string body;
        std::string retryAfter;
        std::string connection;
        std::string authenticate;
        std::string replayed;  // Idempotent-Replayed
    };

    Result request(const std::string& method, const std::string& path, const std::string& body = "") {
        return requestOn(port_, method, path, body);
    }
    // The probe listener: /healthz, /readyz with detail, /metrics.
    Result probe(const std::string& path) { return requestOn(probePort_, "GET", path); }

    Result requestOn(int port, const std::string& method, const std::string& path, const std::string& body = "",
                     const std::string& token = kToken, const httplib::Headers& headers = {}) {
        httplib::Client client(serviceHost(), port);
        if (!token.empty()) client.set_bearer_token_auth(token.c_str());
        client.set_connection_timeout(1);
        client.set_read_timeout(10);
        httplib::Result r = method == "PUT"    ? client.Put(path.c_str(), headers, body, "application/octet-stream")
                            : method == "POST" ? client.Post(path.c_str(), headers, body, "application/octet-stream")
                            : method == "DELETE" ? client.Delete(path.c_str())
                                                 : client.Get(path.c_str());
        if (!r) return {};
        return {r->status, r->body, r->get_header_value("Retry-After"), r->get_header_value("Connection"),
                r->get_header_value("WWW-Authenticate"), r->get_header_value("Idempotent-Replayed")};
    }
    // POST /counter/NAME/incr with each of KEYS as an Idempotency-Key field.
    Result increment(const std::string& name, const std::vector<std::string>& keys = {}) {
        httplib::Headers headers;
        for (const auto& key : keys) headers.emplace("Idempotency-Key", key);
        return requestOn(port_, "POST", "/counter/" + name + "/incr", "", kToken, headers);
    }
    Result get(const std::string& path) { return request("GET", path); }
    Result put(const std::string& key, const std::string& value) { return request("PUT", "/kv/" + key, value); }

    std::string log() const {
        std::ifstream in(log_);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
    Process& process() { return process_; }
    int port() const { return port_; }

private:
    int port_;
    int probePort_;
    std::string log_;
    Process process_;
};


#if defined(__SANITIZE_ADDRESS__)
// Under ASan freed memory sits in a quarantine and every allocation has shadow memory: the
// service's RSS says nothing about what it holds. The Release build asserts the bound.
constexpr bool kRssMeansSomething = false;
#else
constexpr bool kRssMeansSomething = true;
#endif

// Peak resident memory of a process (VmHWM), in KiB.
inline long peakRssKib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
}

// A request's head with the test token, ending in the empty line: REQUEST_LINE, then HEADERS (each ending in CRLF).
inline std::string authHead(const std::string& requestLine, const std::string& headers = "") {
    return requestLine + "\r\nHost: t\r\nAuthorization: Bearer " + kToken + "\r\n" + headers + "\r\n";
}

// A TCP connection to PORT on serviceHost(), or -1.
inline int connectTo(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, serviceHost().c_str(), &addr.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// Reads one response (its head and a Content-Length body) from a keep-alive connection; "" if none comes.
inline std::string readResponse(int fd) {
    std::string received;
    char buffer[4096];
    for (;;) {
        const auto headEnd = received.find("\r\n\r\n");
        if (headEnd != std::string::npos) {
            const auto length = received.find("Content-Length: ");
            const std::size_t bodyBytes = length < headEnd ? std::stoul(received.substr(length + 16)) : 0;
            if (received.size() >= headEnd + 4 + bodyBytes) return received;
        }
        const auto n = recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) return "";
        received.append(buffer, static_cast<std::size_t>(n));
    }
}

// Sends HEAD (a request's head, ending in an empty line), then up to BODY_BYTES of chunked body in
// 64 KiB chunks for as long as the server reads them, and returns what the server answered.
inline std::string exchange(int port, const std::string& head, std::size_t bodyBytes = 0) {
    const int fd = connectTo(port);
    if (fd < 0) return "";
    timeval timeout{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    (void)!send(fd, head.data(), head.size(), MSG_NOSIGNAL);
    const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
    for (std::size_t sent = 0; sent < bodyBytes; sent += 0x10000) {
        if (send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) <= 0) break;  // the server stopped reading
    }
    char buffer[4096] = {};
    const auto n = recv(fd, buffer, sizeof buffer - 1, 0);
    close(fd);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
}
// A client that sends half a request line and then nothing: it holds a server thread.
inline int slowClient(int port) {
    const int fd = connectTo(port);
    if (fd < 0) return -1;
    const char partial[] = "GET /kv/slow HTTP/1.1\r\nHost: x\r\n";
    if (write(fd, partial, sizeof partial - 1) <= 0) return -1;
    return fd;
}

}  // namespace redisdr::testing
