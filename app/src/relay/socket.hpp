#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>

namespace redisdr::relay {

// A TCP socket, closed when it goes out of scope.
class Socket {
public:
    Socket() = default;
    explicit Socket(int fd) : fd_(fd) {}
    ~Socket();
    Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Socket& operator=(Socket&& other) noexcept;
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    int fd() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

// A listening socket on HOST:PORT (port 0: any free one). Throws std::system_error.
Socket listenOn(const std::string& host, int port, int backlog);
// The port a bound socket is on.
int localPort(const Socket& socket);
// A connection to HOST:PORT, trying each address the name resolves to, each for at most
// TIMEOUT. Returns an empty socket and sets ERROR when none could be reached.
Socket connectTo(const std::string& host, int port, std::chrono::milliseconds timeout, std::string& error);
// The peer's address as "ip:port".
std::string peerName(const Socket& socket);

}  // namespace redisdr::relay
