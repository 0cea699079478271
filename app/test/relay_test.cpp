// redis-dr-relay between a Sentinel-managed tier with native TLS and a replica outside it (a
// standby region's leader): the replica follows a failover on the same history, and only a TLS
// client with a certificate from the tier's CA gets through.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "redisdr/errors.hpp"
#include "redisdr/redis_connection.hpp"
#include "sentinel_group.hpp"

using namespace redisdr;
using namespace std::chrono_literals;
using redisdr::testing::Process;
using redisdr::testing::SentinelGroup;
using redisdr::testing::waitUntil;

namespace {

constexpr int kTlsPort = 6380;
constexpr int kRelayPort = 7000;
const std::string kRelayHost = SentinelGroup::host(9);
const std::string kStandbyHost = SentinelGroup::host(10);

std::string field(const std::string& info, const std::string& name) {
    const auto start = info.find("\n" + name + ":");
    if (start == std::string::npos) return "";
    const auto from = start + name.size() + 2;
    return info.substr(from, info.find('\r', from) - from);
}

// What the standby answers to ARGV; empty while it does not answer.
std::string askStandby(const std::vector<std::string>& argv) {
    try {
        auto connection = RedisConnection::open(Endpoint{kStandbyHost, SentinelGroup::kRedisPort}, Timeouts{500ms, 2000ms}, "", false);
        return connection->command(argv).str;
    } catch (const RedisError&) {
        return "";
    }
}

std::string standbyInfo(const std::string& section) { return "\n" + askStandby({"INFO", section}); }
std::string standbyGet(const std::string& key) { return askStandby({"GET", key}); }

void run(const std::string& command) {
    if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
}

// What redis-cli printed (stdout and stderr) for ARGS.
std::string redisCli(const std::string& args) {
    std::string out;
    FILE* pipe = ::popen(("redis-cli " + args + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return out;
    std::array<char, 512> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) out += buffer.data();
    ::pclose(pipe);
    return out;
}

class RelayTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/redis-dr-relay-XXXXXX";
        dir_ = mkdtemp(pattern);
        makeCertificates();
        group_ = std::make_unique<SentinelGroup>(
            2000, "tls-port " + std::to_string(kTlsPort) + "\ntls-cert-file " + dir_ + "/server.crt\ntls-key-file " + dir_ +
                      "/server.key\ntls-ca-cert-file " + dir_ + "/ca.crt\ntls-auth-clients yes\n");
        group_->start();
        relay_ = Process({REDISDR_RELAY_BINARY},
                         {{"RELAY_LISTEN_HOST", kRelayHost}, {"RELAY_PORT", std::to_string(kRelayPort)},
                          {"RELAY_MASTER_PORT", std::to_string(kTlsPort)}, {"SENTINEL_HOST", SentinelGroup::sentinelHosts()},
                          {"REDIS_MASTER_NAME", SentinelGroup::kMasterName}, {"SENTINEL_PASSWORD", SentinelGroup::kSentinelPassword}},
                         dir_ + "/relay.log");
        startStandby();
        ASSERT_TRUE(waitUntil([] { return field(standbyInfo("replication"), "master_link_status") == "up"; }, 20s))
            << "the standby never linked through the relay; logs in " << dir_ << " and " << group_->logDir();
    }

    void makeCertificates() {
        const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        run("cd " + dir_ + " && openssl req -x509" + key + " -days 1 -subj /CN=relay-test-ca -keyout ca.key -out ca.crt 2>/dev/null");
        for (const std::string name : {"server", "client"}) {
            run("cd " + dir_ + " && openssl req" + key + " -subj /CN=" + name + " -keyout " + name + ".key -out " + name +
                ".csr 2>/dev/null && openssl x509 -req -in " + name + ".csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out " +
                name + ".crt 2>/dev/null");
        }
    }

    // A replica outside the tier, linked through the relay over TLS with the client certificate.
    // repl-timeout is Redis's default, spelled out: a link to a master that went silent ends only
    // after it, so following a failover sooner is the relay's doing.
    void startStandby() {
        const auto data = dir_ + "/standby";
        std::filesystem::create_directories(data);
        std::ofstream conf(data + "/redis.conf");
        conf << "bind " << kStandbyHost << "\nport " << SentinelGroup::kRedisPort << "\ndir " << data << "\ndaemonize no\n"
             << "replicaof " << kRelayHost << " " << kRelayPort << "\nmasterauth " << SentinelGroup::kPassword << "\n"
             << "tls-replication yes\ntls-cert-file " << dir_ << "/client.crt\ntls-key-file " << dir_ << "/client.key\n"
             << "tls-ca-cert-file " << dir_ << "/ca.crt\nrepl-timeout 60\nreplica-priority 0\n";
        conf.close();
        standby_ = Process({"redis-server", data + "/redis.conf"}, {{"PATH", std::getenv("PATH")}}, data + "/redis.log");
    }

    std::string dir_;
    std::unique_ptr<SentinelGroup> group_;
    Process relay_;
    Process standby_;
};

TEST_F(RelayTest, FollowsAFailoverOfAHungMasterWithAPartialResync) {
    for (int i = 0; i < 100; ++i) group_->redis(0, {"SET", "before:" + std::to_string(i), "v" + std::to_string(i)});
    const std::string offset = field("\n" + group_->redis(0, {"INFO", "replication"}).str, "master_repl_offset");
    ASSERT_TRUE(waitUntil([&] { return field(standbyInfo("replication"), "master_repl_offset") == offset; }, 10s));
    const std::string oldReplid = field(standbyInfo("replication"), "master_replid");

    // A hung master keeps its connections open: only the relay's close moves the standby on.
    group_->pauseRedis(0);
    std::string promoted;
    ASSERT_TRUE(waitUntil([&] { return !(promoted = group_->masterBySentinel(1)).empty() && promoted != SentinelGroup::host(0); }, 30s));
    const int m = group_->indexOf(promoted);
    ASSERT_TRUE(waitUntil([&] { return group_->redis(m, {"SET", "after", "1"}).str == "OK"; }, 15s));

    EXPECT_TRUE(waitUntil([] { return standbyGet("after") == "1"; }, 20s))
        << "the standby did not follow the new master well within repl-timeout (60 s); logs in " << dir_;
    const std::string masterInfo = "\n" + group_->redis(m, {"INFO", "replication"}).str;
    EXPECT_EQ(field(standbyInfo("replication"), "master_replid"), field(masterInfo, "master_replid"));
    EXPECT_NE(field(standbyInfo("replication"), "master_replid"), oldReplid);
    const std::string stats = "\n" + group_->redis(m, {"INFO", "stats"}).str;
    EXPECT_EQ(field(stats, "sync_full"), "0") << "no replica of the new master, the standby included, may need a full resync";
    EXPECT_NE(field(stats, "sync_partial_ok"), "0");
    EXPECT_EQ(standbyGet("before:99"), "v99");
    group_->resumeRedis(0);
}

TEST_F(RelayTest, OnlyATlsClientWithTheTiersCertificateGetsThrough) {
    ::setenv("REDISCLI_AUTH", SentinelGroup::kPassword, 1);
    const std::string at = "-h " + kRelayHost + " -p " + std::to_string(kRelayPort) + " ";
    const std::string tls = "--tls --cacert " + dir_ + "/ca.crt ";
    EXPECT_EQ(redisCli(at + "PING").find("PONG"), std::string::npos) << "plaintext must not reach Redis";
    EXPECT_EQ(redisCli(at + tls + "PING").find("PONG"), std::string::npos) << "TLS without a client certificate must be refused";
    EXPECT_NE(redisCli(at + tls + "--cert " + dir_ + "/client.crt --key " + dir_ + "/client.key PING").find("PONG"), std::string::npos)
        << "the standby's certificate is let through";
    ::unsetenv("REDISCLI_AUTH");
}

}  // namespace
