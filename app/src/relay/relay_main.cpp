// redis-dr-relay: the primary region's replication endpoint. Relays each TCP connection to the
// master the tier's Sentinels name, on its TLS port, and closes it when that master changes
// (app/src/relay/tcp_relay.hpp). TLS passes through: the standby's leader and the master
// verify each other's certificates; the relay holds no Redis credential and sees no plaintext.
//
// Environment: RELAY_PORT (required), RELAY_LISTEN_HOST (default every address),
// RELAY_MASTER_PORT (required: the Redis pods' tls-port), RELAY_MAX_CONNECTIONS (8),
// RELAY_CONNECT_TIMEOUT_MS (2000), RELAY_MASTER_WAIT_MS (10000), RELAY_IDLE_TIMEOUT_MS (60000),
// RELAY_RECHECK_MS (1000: how often Sentinel is asked besides its failover events), and the
// Sentinel settings every binary here reads (sentinel_env.hpp). The Sentinel password is read
// only from the environment, never from argv.
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "log.hpp"
#include "relay/master_watch.hpp"
#include "relay/tcp_relay.hpp"
#include "sentinel_env.hpp"

using namespace redisdr;
using namespace redisdr::relay;

namespace {

std::atomic<bool> stopping{false};

void onSignal(int) { stopping = true; }

const char* envLookup(const char* name) { return std::getenv(name); }

}  // namespace

int main() {
    static_assert(std::atomic<bool>::is_always_lock_free, "the stop flag is set from a signal handler");
    std::signal(SIGTERM, onSignal);
    std::signal(SIGINT, onSignal);
    std::signal(SIGPIPE, SIG_IGN);
    try {
        EnvReader env(envLookup);
        RelaySettings relay;
        relay.listenHost = env.text("RELAY_LISTEN_HOST", "");
        relay.listenPort = static_cast<int>(env.integer("RELAY_PORT", 0, 1, 65535));
        relay.masterPort = static_cast<int>(env.integer("RELAY_MASTER_PORT", 0, 1, 65535));
        relay.maxConnections = env.size("RELAY_MAX_CONNECTIONS", relay.maxConnections, 1, 1024);
        relay.connectTimeout = env.millis("RELAY_CONNECT_TIMEOUT_MS", relay.connectTimeout.count(), 10, 60000);
        relay.masterWait = env.millis("RELAY_MASTER_WAIT_MS", relay.masterWait.count(), 0, 300000);
        relay.idleTimeout = env.millis("RELAY_IDLE_TIMEOUT_MS", relay.idleTimeout.count(), 1000, 3600000);
        const auto recheck = env.millis("RELAY_RECHECK_MS", 1000, 50, 60000);
        if (relay.listenPort == 0) env.problems.push_back("RELAY_PORT is required");
        if (relay.masterPort == 0) env.problems.push_back("RELAY_MASTER_PORT is required");
        SentinelSettings sentinel = readSentinelSettings(env);
        env.check();

        MasterWatch watch(std::move(sentinel), recheck);
        TcpRelay server(relay, watch);
        const int port = server.bind();
        watch.start();
        logLine("info", "relay listening", {{"port", port}, {"master_port", relay.masterPort}});
        server.run(stopping);
        watch.stop();
        logLine("info", "relay stopped");
        return 0;
    } catch (const ConfigError& e) {
        for (const auto& problem : e.problems()) std::cerr << "redis-dr-relay: " << problem << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "redis-dr-relay: " << e.what() << "\n";
        return 1;
    }
}
