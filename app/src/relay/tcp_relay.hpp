#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "relay/master_watch.hpp"
#include "relay/socket.hpp"

namespace redisdr::relay {

struct RelaySettings {
    std::string listenHost;  // empty: every address
    int listenPort = 0;
    int masterPort = 0;  // the port relayed to on the master Sentinel names (its TLS port)
    std::size_t maxConnections = 8;
    std::chrono::milliseconds connectTimeout{2000};
    // How long a new connection waits for a master while a failover runs.
    std::chrono::milliseconds masterWait{10000};
    // A connection neither side has sent on for this long is closed (a replica ACKs every
    // second and its master pings every repl-ping-replica-period, 10 s by default).
    std::chrono::milliseconds idleTimeout{60000};
};

// Relays each TCP connection to the master Sentinel names, byte for byte (TLS passes through
// end to end), and closes it the moment that master changes, so the peer reconnects and lands
// on the new one. A standby region's leader replicating through it then PSYNCs the new master
// within a second of the failover instead of waiting out repl-timeout on a link to the old.
class TcpRelay {
public:
    TcpRelay(RelaySettings settings, MasterWatch& watch);
    ~TcpRelay();
    TcpRelay(const TcpRelay&) = delete;
    TcpRelay& operator=(const TcpRelay&) = delete;

    // Binds the listener (throws std::system_error); the port it is on.
    int bind();
    // Accepts and relays until STOP is set.
    void run(const std::atomic<bool>& stop);

private:
    struct Session {
        std::thread thread;
        std::atomic<bool> done{false};
    };
    void serve(Socket client, Session& session, const std::atomic<bool>& stop);
    void reap(bool all);

    const RelaySettings settings_;
    MasterWatch& watch_;
    Socket listener_;
    std::list<std::unique_ptr<Session>> sessions_;
};

}  // namespace redisdr::relay
