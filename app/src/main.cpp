// redis-dr-app: an HTTP service whose Redis master is found through Sentinel.
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "http_api.hpp"
#include "http_server.hpp"
#include "log.hpp"
#include "readiness.hpp"
#include "service_config.hpp"
#include "work_queue.hpp"

using namespace redisdr;

namespace {

// /healthz, /readyz and /metrics are cheap and answered inline: one event-driven thread serves
// the kubelet and a scraper at once.
constexpr std::size_t kProbeThreads = 1;

ClientSettings clientSettings(const ServiceConfig& c) {
    ClientSettings s;
    s.sentinel.sentinels = c.sentinels;
    s.sentinel.masterName = c.masterName;
    s.sentinel.username = c.sentinelUsername;
    s.sentinel.password = c.sentinelPassword;
    s.sentinel.timeouts = {c.sentinelTimeout, c.sentinelTimeout};
    s.redisUsername = c.redisUsername;
    s.redisPassword = c.redisPassword;
    s.redisTimeouts = {c.connectTimeout, c.commandTimeout};
    s.requestTimeout = c.requestTimeout;
    s.maxIdleConnections = static_cast<std::size_t>(c.httpThreads);
    s.pipelineConnections = static_cast<std::size_t>(c.redisPipelineConnections);
    s.maxPending = c.httpQueueDepth;
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

    // Retries (and, without pipelining, every request) run on the workers; the I/O threads
    // only read, bound and answer, and the client's carriers take first attempts to the master.
    WorkQueue workers(static_cast<std::size_t>(config.httpThreads), config.httpQueueDepth);
    HttpServer server(apiLimits(config), apiRoutes(config, client, metrics, state, workers));
    // Probes and metrics have their own listener and thread: however busy or abused the public
    // port is, the kubelet's liveness and readiness checks are answered.
    HttpServer probes(probeLimits(), probeRoutes(client, metrics, state));
    std::string error;
    const bool listening = probes.listen(config.httpBind, config.probePort, error) &&
                           server.listen(config.httpBind, config.httpPort, error);
    if (!listening) {
        logLine("error", "cannot listen", {{"bind", config.httpBind}, {"port", config.httpPort}, {"probe_port", config.probePort}, {"detail", error}});
        running = false;
        readiness.join();
        client.stopCarriers();
        workers.stop();
        client.stop();
        return 1;
    }
    probes.start(kProbeThreads);
    server.start(static_cast<std::size_t>(config.httpIoThreads));
    logLine("info", "listening", {{"bind", config.httpBind}, {"port", config.httpPort}, {"probe_port", config.probePort}, {"sentinels", sentinelList(config)},
                                  {"master_name", config.masterName}, {"wait_replicas", config.waitReplicas}});

    int received = 0;
    sigwait(&signals, &received);
    logLine("info", "shutting down: failing readiness, draining", {{"signal", received}, {"drain_seconds", config.shutdownDrainSeconds}});
    state.draining = true;
    metrics.setReady(false);
    std::this_thread::sleep_for(std::chrono::seconds(config.shutdownDrainSeconds));
    // No new connections; what the workers hold is finished and answered, then the I/O stops.
    server.stopAccepting();
    client.stopCarriers();
    workers.stop();
    server.stop();
    probes.stop();
    running = false;
    readiness.join();
    client.stop();
    logLine("info", "stopped");
    return 0;
}
