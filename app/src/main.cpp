// redis-dr-app: an HTTP service whose Redis master is found through Sentinel.
#include <httplib.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "http_api.hpp"
#include "log.hpp"
#include "readiness.hpp"
#include "service_config.hpp"

using namespace redisdr;

namespace {

// /healthz, /readyz and /metrics are cheap; two threads serve the kubelet and a scraper at once.
constexpr std::size_t kProbeThreads = 2;

ClientSettings clientSettings(const ServiceConfig& c) {
    ClientSettings s;
    s.sentinel.sentinels = c.sentinels;
    s.sentinel.masterName = c.masterName;
    s.sentinel.password = c.sentinelPassword;
    s.sentinel.timeouts = {c.sentinelTimeout, c.sentinelTimeout};
    s.redisPassword = c.redisPassword;
    s.redisTimeouts = {c.connectTimeout, c.commandTimeout};
    s.requestTimeout = c.requestTimeout;
    s.maxIdleConnections = static_cast<std::size_t>(c.httpThreads);
    return s;
}

std::string sentinelList(const ServiceConfig& c) {
    std::string out;
    for (const auto& e : c.sentinels) out += (out.empty() ? "" : ",") + e.str();
    return out;
}

}  // namespace

int main() {
    ServiceConfig config;
    try {
        config = parseServiceConfig([](const char* name) { return std::getenv(name); });
    } catch (const ConfigError& e) {
        logLine("error", "invalid configuration; not starting", {{"problems", e.problems()}});
        return 2;
    }

    // Signals are taken by one thread (sigwait) so shutdown runs outside a signal handler.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    ServiceMetrics metrics;
    MasterClient client(clientSettings(config), &metrics);
    ServiceState state;
    client.startSwitchListener();

    std::atomic<bool> running{true};
    std::thread readiness([&] {
        Hysteresis hysteresis(config.readyFailureThreshold, config.readySuccessThreshold);
        while (running) {
            bool ok = false;
            try {
                ok = client.execute({"PING"}, Idempotency::Safe).str == "PONG";
            } catch (const RedisError&) {
                ok = false;
            }
            const bool ready = hysteresis.record(ok);
            if (ready != state.ready.exchange(ready)) {
                logLine("info", ready ? "ready" : "not ready", {{"master", client.currentMaster() ? client.currentMaster()->str() : ""}});
            }
            metrics.setReady(ready && !state.draining);
            for (auto waited = std::chrono::milliseconds(0); running && waited < config.readyInterval;
                 waited += std::chrono::milliseconds(50)) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        }
    });

    httplib::Server server;
    const auto threads = static_cast<std::size_t>(config.httpThreads);
    server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server.set_payload_max_length(config.maxValueBytes);
    server.set_keep_alive_max_count(100);
    // httplib writes headers and body separately: without TCP_NODELAY, Nagle plus
    // delayed ACK add ~40 ms to every response (measured by npm run bench).
    server.set_tcp_nodelay(true);
    installApiRoutes(server, config, client, metrics, state);

    // Probes and metrics have their own listener and threads: however busy or abused the
    // public port is, the kubelet's liveness and readiness checks are answered.
    httplib::Server probes;
    probes.new_task_queue = [] { return new httplib::ThreadPool(kProbeThreads); };
    probes.set_tcp_nodelay(true);
    installProbeRoutes(probes, client, metrics, state);
    if (!probes.bind_to_port(config.httpBind.c_str(), config.probePort)) {
        logLine("error", "cannot listen", {{"bind", config.httpBind}, {"port", config.probePort}});
        running = false;
        readiness.join();
        client.stop();
        return 1;
    }
    std::thread probeListener([&] { probes.listen_after_bind(); });

    std::thread shutdown([&] {
        int received = 0;
        sigwait(&signals, &received);
        if (!running) return;
        logLine("info", "shutting down: failing readiness, draining", {{"signal", received}, {"drain_seconds", config.shutdownDrainSeconds}});
        state.draining = true;
        metrics.setReady(false);
        std::this_thread::sleep_for(std::chrono::seconds(config.shutdownDrainSeconds));
        server.stop();
        probes.stop();
    });

    logLine("info", "listening", {{"bind", config.httpBind}, {"port", config.httpPort}, {"probe_port", config.probePort}, {"sentinels", sentinelList(config)},
                                  {"master_name", config.masterName}, {"wait_replicas", config.waitReplicas}});
    const bool listened = server.listen(config.httpBind.c_str(), config.httpPort);
    running = false;
    if (!listened) {
        logLine("error", "cannot listen", {{"bind", config.httpBind}, {"port", config.httpPort}});
        pthread_kill(shutdown.native_handle(), SIGTERM);
    }
    shutdown.join();
    probes.stop();
    probeListener.join();
    readiness.join();
    client.stop();
    logLine("info", "stopped");
    return listened ? 0 : 1;
}
