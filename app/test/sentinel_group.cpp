#include "sentinel_group.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "redisdr/errors.hpp"

namespace redisdr::testing {

Process::Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                 const std::string& log) {
    std::vector<std::string> envStrings;
    for (const auto& [k, v] : env) envStrings.push_back(k + "=" + v);
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        setpgid(0, 0);
        int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        std::vector<char*> args, envp;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        for (const auto& e : envStrings) envp.push_back(const_cast<char*>(e.c_str()));
        envp.push_back(nullptr);
        execvpe(args[0], args.data(), envp.data());
        _exit(127);
    }
    setpgid(pid_, pid_);
}

Process::~Process() {
    if (pid_ > 0 && running()) {
        signal(SIGKILL);
        wait(std::chrono::seconds(5));
    }
}

Process::Process(Process&& other) noexcept : pid_(other.pid_), status_(other.status_) { other.pid_ = -1; }

Process& Process::operator=(Process&& other) noexcept {
    if (this != &other) {
        if (pid_ > 0 && running()) {
            signal(SIGKILL);
            wait(std::chrono::seconds(5));
        }
        pid_ = other.pid_;
        status_ = other.status_;
        other.pid_ = -1;
    }
    return *this;
}

void Process::signal(int sig) const {
    if (pid_ > 0) ::kill(-pid_, sig);
}

bool Process::stop(std::chrono::milliseconds timeout) {
    signal(SIGSTOP);
    // kill() returns before the threads stop; the parent is told once the whole group has.
    return waitUntil(
        [this] {
            const auto status = poll(WUNTRACED);
            return status && WIFSTOPPED(*status);
        },
        timeout, std::chrono::milliseconds(1));
}

bool Process::running() {
    poll(0);
    return pid_ > 0 && status_ == -1;
}

std::optional<int> Process::poll(int options) {
    int status = 0;
    if (pid_ <= 0 || status_ != -1 || waitpid(pid_, &status, WNOHANG | options) != pid_) return std::nullopt;
    if (WIFEXITED(status)) status_ = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) status_ = 128 + WTERMSIG(status);
    return status;
}

int Process::wait(std::chrono::milliseconds timeout) {
    waitUntil([this] { return !running(); }, timeout, std::chrono::milliseconds(20));
    return running() ? -1 : status_;
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds every) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(every);
    }
    return condition();
}

SentinelGroup::SentinelGroup(int downAfterMs, std::string extraRedisConfig)
    : downAfterMs_(downAfterMs), extraRedisConfig_(std::move(extraRedisConfig)) {
    char pattern[] = "/tmp/redisdr-it-XXXXXX";
    if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    redis_.resize(3);
    sentinels_.resize(3);
}

SentinelGroup::~SentinelGroup() = default;

int SentinelGroup::indexOf(const std::string& h) const {
    for (int i = 0; i < 3; ++i) {
        if (host(i) == h) return i;
    }
    return -1;
}

void SentinelGroup::startRedis(int i, const std::string& replicaOf) {
    const auto data = dir_ + "/redis-" + std::to_string(i);
    std::filesystem::create_directories(data);
    std::ofstream conf(data + "/redis.conf");
    conf << "bind " << host(i) << "\nport " << kRedisPort << "\ndir " << data << "\ndaemonize no\n"
         << "appendonly yes\nrequirepass " << kPassword << "\nmasterauth " << kPassword << "\n"
         << "replica-announce-ip " << host(i) << "\nmin-replicas-to-write 1\nmin-replicas-max-lag 10\n"
         << "repl-diskless-sync-delay 0\n" << extraRedisConfig_;
    if (!replicaOf.empty()) conf << "replicaof " << replicaOf << " " << kRedisPort << "\n";
    conf.close();
    redis_[static_cast<size_t>(i)] = Process({"redis-server", data + "/redis.conf"}, {{"PATH", std::getenv("PATH")}}, data + "/redis.log");
}

void SentinelGroup::startSentinel(int i) {
    const auto data = dir_ + "/sentinel-" + std::to_string(i);
    std::filesystem::create_directories(data);
    std::ofstream conf(data + "/sentinel.conf");
    conf << "bind " << host(i) << "\nport " << kSentinelPort << "\ndir " << data << "\ndaemonize no\n"
         << "sentinel announce-ip " << host(i) << "\n"
         << "sentinel monitor " << kMasterName << " " << host(0) << " " << kRedisPort << " 2\n"
         << "sentinel down-after-milliseconds " << kMasterName << " " << downAfterMs_ << "\n"
         << "sentinel failover-timeout " << kMasterName << " 10000\n"
         << "sentinel auth-pass " << kMasterName << " " << kPassword << "\n"
         << "requirepass " << kSentinelPassword << "\nsentinel sentinel-pass " << kSentinelPassword << "\n";
    conf.close();
    sentinels_[static_cast<size_t>(i)] =
        Process({"redis-sentinel", data + "/sentinel.conf"}, {{"PATH", std::getenv("PATH")}}, data + "/sentinel.log");
}

void SentinelGroup::start() {
    startRedis(0, "");
    startRedis(1, host(0));
    startRedis(2, host(0));
    // Sentinel learns a master's replicas from its INFO, sent on connect and then every 10 s
    // (sentinel_info_period, sentinel.c): started before both replicas are online, the first
    // INFO misses them and convergence waits for the second one.
    if (!waitUntil([this] { return onlineReplicas(0) == 2; }, std::chrono::seconds(20))) {
        throw std::runtime_error("replicas did not sync; logs in " + dir_);
    }
    for (int i = 0; i < 3; ++i) startSentinel(i);
    if (!waitUntil([this] { return converged(); }, std::chrono::seconds(40))) {
        throw std::runtime_error("Sentinel group did not converge; logs in " + dir_);
    }
}

Reply SentinelGroup::redis(int i, const std::vector<std::string>& argv) const {
    auto conn = RedisConnection::open(Endpoint{host(i), kRedisPort}, Timeouts{}, kPassword, false);
    return conn->command(argv);
}

Reply SentinelGroup::sentinel(int i, const std::vector<std::string>& argv) const {
    auto conn = RedisConnection::open(Endpoint{host(i), kSentinelPort}, Timeouts{}, kSentinelPassword, true);
    return conn->command(argv);
}

std::string SentinelGroup::masterBySentinel(int i) const {
    try {
        auto reply = sentinel(i, {"SENTINEL", "get-master-addr-by-name", kMasterName});
        return reply.elements.size() == 2 ? reply.elements[0].str : "";
    } catch (const RedisError&) {
        return "";
    }
}

bool SentinelGroup::converged() const {
    try {
        const auto master = masterBySentinel(0);
        if (master.empty()) return false;
        // Both replicas synced and acknowledging, so the master accepts writes (min-replicas-to-write).
        if (onlineReplicas(indexOf(master)) != 2) return false;
        for (int i = 0; i < 3; ++i) {
            if (masterBySentinel(i) != master) return false;
            auto replicas = sentinel(i, {"SENTINEL", "REPLICAS", kMasterName});
            auto peers = sentinel(i, {"SENTINEL", "SENTINELS", kMasterName});
            if (replicas.elements.size() != 2 || peers.elements.size() != 2) return false;
            for (const auto& replica : replicas.elements) {
                for (size_t f = 0; f + 1 < replica.elements.size(); f += 2) {
                    if (replica.elements[f].str == "flags" && replica.elements[f + 1].str != "slave") return false;
                }
            }
        }
        return true;
    } catch (const RedisError&) {
        return false;
    }
}

int SentinelGroup::onlineReplicas(int i) const {
    try {
        const auto info = redis(i, {"INFO", "replication"}).str;
        int online = 0;
        for (auto at = info.find("state=online"); at != std::string::npos; at = info.find("state=online", at + 1)) ++online;
        return online;
    } catch (const RedisError&) {
        return 0;
    }
}

void SentinelGroup::killRedis(int i, int sig) {
    auto& p = redis_[static_cast<size_t>(i)];
    p.signal(sig);
    p.wait(std::chrono::seconds(5));
}

void SentinelGroup::pauseRedis(int i) {
    if (!redis_[static_cast<size_t>(i)].stop(std::chrono::seconds(5))) throw std::runtime_error("redis " + std::to_string(i) + " did not stop");
}

void SentinelGroup::resumeRedis(int i) { redis_[static_cast<size_t>(i)].signal(SIGCONT); }

void SentinelGroup::restartRedisAsReplica(int i) { startRedis(i, masterBySentinel(i == 0 ? 1 : 0)); }

pid_t childOf(pid_t pid) {
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ignored)) {
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        if (!std::getline(stat, line)) continue;
        // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ')'.
        const auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(line.substr(close + 1));
        std::string state;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == pid) return static_cast<pid_t>(std::stol(entry.path().filename().string()));
    }
    return -1;
}

long long callsOf(const SentinelGroup& group, int node, const std::string& command) {
    const std::string stats = group.redis(node, {"INFO", "commandstats"}).str;
    const std::string field = "cmdstat_" + command + ":calls=";
    const auto at = stats.find(field);
    return at == std::string::npos ? 0 : std::stoll(stats.substr(at + field.size()));
}

}  // namespace redisdr::testing
