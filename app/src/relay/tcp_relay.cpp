#include "relay/tcp_relay.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "log.hpp"

namespace redisdr::relay {

namespace {

constexpr int kTick = 200;  // ms between checks of the master's generation and of STOP
constexpr std::size_t kBuffer = 64 * 1024;

// One direction of a relayed connection: bytes read from FROM wait in the buffer until TO takes them.
struct Direction {
    int from;
    int to;
    std::array<char, kBuffer> buffer{};
    std::size_t start = 0;
    std::size_t end = 0;
    std::uint64_t bytes = 0;
    int error = 0;
    bool pending() const { return start < end; }
};

enum class Step { Moved, Idle, Closed, Failed };

// Reads into an empty buffer, or writes out a pending one, as the poll said it may.
Step advance(Direction& d, short fromEvents, short toEvents) {
    if (!d.pending()) {
        if ((fromEvents & (POLLIN | POLLHUP | POLLERR)) == 0) return Step::Idle;
        const ssize_t n = ::read(d.from, d.buffer.data(), d.buffer.size());
        if (n == 0) return Step::Closed;
        if (n < 0) {
            d.error = errno;
            return d.error == EAGAIN || d.error == EINTR ? Step::Idle : Step::Failed;
        }
        d.start = 0;
        d.end = static_cast<std::size_t>(n);
        d.bytes += static_cast<std::uint64_t>(n);
    } else if ((toEvents & (POLLOUT | POLLHUP | POLLERR)) == 0) {
        return Step::Idle;
    }
    // Written at once after a read: the other side is usually ready, and a poll is saved.
    const ssize_t n = ::send(d.to, d.buffer.data() + d.start, d.end - d.start, MSG_NOSIGNAL);
    if (n < 0) {
        d.error = errno;
        return d.error == EAGAIN || d.error == EINTR ? Step::Idle : Step::Failed;
    }
    d.start += static_cast<std::size_t>(n);
    return Step::Moved;
}

short interest(const Direction& d, int fd) {
    short events = 0;
    if (d.from == fd && !d.pending()) events |= POLLIN;
    if (d.to == fd && d.pending()) events |= POLLOUT;
    return events;
}

}  // namespace

TcpRelay::TcpRelay(RelaySettings settings, MasterWatch& watch) : settings_(std::move(settings)), watch_(watch) {}

TcpRelay::~TcpRelay() { reap(true); }

int TcpRelay::bind() {
    listener_ = listenOn(settings_.listenHost, settings_.listenPort, 16);
    return localPort(listener_);
}

void TcpRelay::run(const std::atomic<bool>& stop) {
    while (!stop) {
        reap(false);
        pollfd p{listener_.fd(), POLLIN, 0};
        if (::poll(&p, 1, kTick) <= 0) continue;
        Socket client(::accept4(listener_.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!client) continue;
        if (sessions_.size() >= settings_.maxConnections) {
            logLine("warn", "connection refused: the relay is at its connection limit",
                    {{"peer", peerName(client)}, {"limit", settings_.maxConnections}});
            continue;
        }
        auto& session = *sessions_.emplace_back(std::make_unique<Session>());
        session.thread = std::thread([this, c = std::move(client), &session, &stop]() mutable { serve(std::move(c), session, stop); });
    }
    reap(true);
}

void TcpRelay::reap(bool all) {
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        if (all || (*it)->done) {
            if ((*it)->thread.joinable()) (*it)->thread.join();
            it = sessions_.erase(it);
        } else {
            ++it;
        }
    }
}

void TcpRelay::serve(Socket client, Session& session, const std::atomic<bool>& stop) {
    const std::string peer = peerName(client);
    const auto target = watch_.current(settings_.masterWait);
    if (!target) {
        logLine("warn", "connection closed: no master to relay to", {{"peer", peer}});
        session.done = true;
        return;
    }
    std::string error;
    Socket master = connectTo(target->master.host, settings_.masterPort, settings_.connectTimeout, error);
    if (!master) {
        logLine("warn", "connection closed: the master cannot be reached", {{"peer", peer}, {"error", error}});
        session.done = true;
        return;
    }
    logLine("info", "relaying", {{"peer", peer}, {"master", target->master.host + ":" + std::to_string(settings_.masterPort)}});

    Direction up{client.fd(), master.fd()};
    Direction down{master.fd(), client.fd()};
    auto lastTraffic = std::chrono::steady_clock::now();
    std::string ended;
    while (ended.empty()) {
        if (stop) {
            ended = "the relay is stopping";
            break;
        }
        if (!watch_.isCurrent(target->generation)) {
            ended = "the master changed";
            break;
        }
        std::array<pollfd, 2> p{pollfd{client.fd(), static_cast<short>(interest(up, client.fd()) | interest(down, client.fd())), 0},
                                pollfd{master.fd(), static_cast<short>(interest(up, master.fd()) | interest(down, master.fd())), 0}};
        const int ready = ::poll(p.data(), p.size(), kTick);
        if (ready < 0 && errno != EINTR) {
            ended = std::string("poll: ") + std::strerror(errno);
            break;
        }
        if (ready <= 0) {
            if (std::chrono::steady_clock::now() - lastTraffic > settings_.idleTimeout) ended = "idle";
            continue;
        }
        for (auto* d : {&up, &down}) {
            const short fromEvents = d->from == client.fd() ? p[0].revents : p[1].revents;
            const short toEvents = d->to == client.fd() ? p[0].revents : p[1].revents;
            const Step step = advance(*d, fromEvents, toEvents);
            if (step == Step::Moved) lastTraffic = std::chrono::steady_clock::now();
            if (step == Step::Closed) ended = d == &up ? "the peer closed" : "the master closed";
            if (step == Step::Failed) ended = std::string(d == &up ? "toward the master: " : "from the master: ") + std::strerror(d->error);
            if (!ended.empty()) break;
        }
    }
    logLine("info", "connection closed", {{"peer", peer}, {"reason", ended}, {"bytesToMaster", up.bytes}, {"bytesFromMaster", down.bytes}});
    session.done = true;
}

}  // namespace redisdr::relay
