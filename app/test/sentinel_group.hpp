#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "redisdr/redis_connection.hpp"
#include "test_slot.hpp"

namespace redisdr::testing {

// A child process in its own process group, output to a log file. Killed on destruction.
class Process {
public:
    Process() = default;
    Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env, const std::string& log);
    ~Process();
    Process(Process&& other) noexcept;
    Process& operator=(Process&& other) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    void signal(int sig) const;
    // SIGSTOP, then waits until every thread of the process has stopped; false if it has not within TIMEOUT.
    bool stop(std::chrono::milliseconds timeout);
    // Waits for the process to exit; returns its exit code (128+signal if killed), or -1 on timeout.
    int wait(std::chrono::milliseconds timeout);
    bool running();
    pid_t pid() const { return pid_; }

private:
    // waitpid without blocking, plus OPTIONS; records the exit code if the process has ended.
    // Returns the status waitpid reported, or nothing if it had nothing to report.
    std::optional<int> poll(int options);

    pid_t pid_ = -1;
    int status_ = -1;
};

// A child process of PID (read from /proc), or -1 if it has none.
pid_t childOf(pid_t pid);

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds every = std::chrono::milliseconds(100));

// Three redis-server and three redis-sentinel processes on 127.0.2.1-3 (in slot 0; test_slot.hpp),
// pod 0 master at start.
class SentinelGroup {
public:
    static constexpr int kRedisPort = 6379;
    static constexpr int kSentinelPort = 26379;
    static constexpr const char* kMasterName = "mymaster";
    static constexpr const char* kPassword = "integration-redis-pass";
    static constexpr const char* kSentinelPassword = "integration-sentinel-pass";

    // EXTRA_REDIS_CONFIG is appended to each redis-server's config (a TLS port, say).
    explicit SentinelGroup(int downAfterMs = 2000, std::string extraRedisConfig = "");
    ~SentinelGroup();

    // Starts everything and waits until every Sentinel sees the master, both replicas and both peers.
    void start();
    // The group's /24, "127.0.2." in slot 0: addresses past .3 are free for a test's own listeners.
    static std::string subnet() { return slotSubnet(2); }
    static std::string host(int i) { return subnet() + std::to_string(i + 1); }
    static std::string sentinelHosts() { return host(0) + "," + host(1) + "," + host(2); }
    int indexOf(const std::string& host) const;

    // The master a Sentinel names (empty if it does not answer).
    std::string masterBySentinel(int sentinel = 0) const;
    Reply redis(int i, const std::vector<std::string>& argv) const;
    Reply sentinel(int i, const std::vector<std::string>& argv) const;

    void killRedis(int i, int sig = 9);
    // SIGSTOP (it neither answers nor closes its connections, as a hung or cut-off node) and SIGCONT.
    void pauseRedis(int i);
    void resumeRedis(int i);
    pid_t redisPid(int i) const { return redis_[static_cast<size_t>(i)].pid(); }
    // Restarts a killed redis as a replica of the current master.
    void restartRedisAsReplica(int i);
    bool converged() const;
    // How many replicas the redis at I reports as online (0 if it does not answer).
    int onlineReplicas(int i) const;
    std::string logDir() const { return dir_; }

private:
    void startRedis(int i, const std::string& replicaOf);
    void startSentinel(int i);
    int downAfterMs_;
    std::string extraRedisConfig_;
    std::string dir_;
    std::vector<Process> redis_;
    std::vector<Process> sentinels_;
};

// How many times NODE of CLUSTER has run COMMAND (INFO commandstats), 0 if never.
long long callsOf(const SentinelGroup& group, int node, const std::string& command);

}  // namespace redisdr::testing
