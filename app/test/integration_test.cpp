// The service binary against real redis-server and redis-sentinel processes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <fstream>
#include <sstream>
#include <thread>

#include "redis_cluster.hpp"

using namespace std::chrono_literals;
using redisdr::testing::Process;
using redisdr::testing::RedisCluster;
using redisdr::testing::waitUntil;

namespace {

std::atomic<int> nextPort{18080};

// One running service process with its own port and log.
class Service {
public:
    explicit Service(const RedisCluster& cluster, std::map<std::string, std::string> overrides = {})
        : port_(nextPort++), log_(cluster.logDir() + "/service-" + std::to_string(port_) + ".log") {
        std::map<std::string, std::string> env = {
            {"PATH", std::getenv("PATH")},
            {"SENTINEL_HOST", RedisCluster::sentinelHosts()},
            {"SENTINEL_PORT", std::to_string(RedisCluster::kSentinelPort)},
            {"REDIS_MASTER_NAME", RedisCluster::kMasterName},
            {"REDIS_PASSWORD", RedisCluster::kPassword},
            {"SENTINEL_PASSWORD", RedisCluster::kSentinelPassword},
            {"HTTP_BIND", "127.0.0.1"},
            {"HTTP_PORT", std::to_string(port_)},
            {"REDIS_REQUEST_TIMEOUT_MS", "2000"},
            {"READY_CHECK_INTERVAL_MS", "200"},
            {"SHUTDOWN_DRAIN_SECONDS", "1"},
        };
        for (auto& [k, v] : overrides) env[k] = v;
        process_ = Process({REDISDR_APP_BINARY}, env, log_);
        EXPECT_TRUE(waitUntil([this] { return get("/healthz").status == 200; }, 10s)) << log();
    }

    struct Result {
        int status = 0;
        std::string body;
    };

    Result request(const std::string& method, const std::string& path, const std::string& body = "") {
        httplib::Client client("127.0.0.1", port_);
        client.set_connection_timeout(1);
        client.set_read_timeout(10);
        httplib::Result r = method == "PUT"    ? client.Put(path.c_str(), body, "application/octet-stream")
                            : method == "POST" ? client.Post(path.c_str(), body, "application/octet-stream")
                            : method == "DELETE" ? client.Delete(path.c_str())
                                                 : client.Get(path.c_str());
        if (!r) return {};
        return {r->status, r->body};
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
    std::string log_;
    Process process_;
};

class ServiceAgainstCluster : public ::testing::Test {
protected:
    void SetUp() override { cluster_.start(); }
    RedisCluster cluster_;
};

int indexOfMaster(const RedisCluster& cluster) { return cluster.indexOf(cluster.masterBySentinel(0)); }

}  // namespace

TEST_F(ServiceAgainstCluster, FindsTheMasterAndServesKeysAndCounters) {
    Service service(cluster_);
    ASSERT_TRUE(waitUntil([&] { return service.get("/readyz").status == 200; }, 10s)) << service.log();
    EXPECT_NE(service.get("/readyz").body.find("\"master\":\"127.0.2.1:6379\""), std::string::npos);

    auto put = service.put("greeting", "hello");
    EXPECT_EQ(put.status, 200) << put.body;
    EXPECT_EQ(service.get("/kv/greeting").body, "hello");
    EXPECT_EQ(service.get("/kv/missing").status, 404);
    EXPECT_EQ(cluster_.redis(1, {"GET", "kv:greeting"}).str, "hello");  // replicated

    EXPECT_NE(service.request("POST", "/counter/visits/incr").body.find("\"value\":1"), std::string::npos);
    EXPECT_NE(service.request("POST", "/counter/visits/incr").body.find("\"value\":2"), std::string::npos);

    auto metrics = service.get("/metrics").body;
    EXPECT_NE(metrics.find("redisdr_master{address=\"127.0.2.1:6379\"} 1"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("redisdr_http_requests_total{route=\"/kv/{key}\",method=\"PUT\",status=\"200\"} 1"), std::string::npos);
    EXPECT_NE(metrics.find("redisdr_ready 1"), std::string::npos);
}

TEST_F(ServiceAgainstCluster, WaitsForReplicasWhenDurableWritesAreOn) {
    Service service(cluster_, {{"REDIS_WAIT_REPLICAS", "2"}, {"REDIS_WAIT_TIMEOUT_MS", "1000"}});
    auto put = service.put("durable", "yes");
    EXPECT_EQ(put.status, 200);
    EXPECT_NE(put.body.find("\"replicas\":2"), std::string::npos) << put.body;
    EXPECT_NE(put.body.find("\"durable\":true"), std::string::npos) << put.body;
}

TEST_F(ServiceAgainstCluster, ResumesWritesAfterSentinelFailoverWithoutRestart) {
    Service service(cluster_);
    ASSERT_EQ(service.put("before", "1").status, 200);
    const auto oldMaster = cluster_.masterBySentinel(0);
    std::atomic<bool> writing{true};
    std::atomic<int> ok{0}, failed{0};
    std::thread writer([&] {
        for (int i = 0; writing; ++i) {
            (service.put("k" + std::to_string(i), "v").status == 200 ? ok : failed)++;
        }
    });
    ASSERT_EQ(cluster_.sentinel(0, {"SENTINEL", "FAILOVER", RedisCluster::kMasterName}).str, "OK");
    ASSERT_TRUE(waitUntil([&] { return cluster_.masterBySentinel(0) != oldMaster; }, 20s));
    const int okAtSwitch = ok;
    ASSERT_TRUE(waitUntil([&] { return ok > okAtSwitch + 20; }, 20s)) << service.log();
    writing = false;
    writer.join();
    EXPECT_TRUE(service.process().running());
    auto metrics = service.get("/metrics").body;
    EXPECT_NE(metrics.find("redisdr_failovers_observed_total 1"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("redisdr_master{address=\"" + cluster_.masterBySentinel(0) + ":6379\"} 1"), std::string::npos);
    std::cout << "[ figures  ] planned failover: " << ok << " writes ok, " << failed << " failed\n";
}

// A raw SENTINEL FAILOVER (what an operator types) promotes a replica before it reconfigures
// the old master; a client that keeps writing to the old master over pooled connections in
// between has those writes acknowledged and then discarded. The service must fence itself on
// the Sentinels' failover events and lose nothing.
TEST_F(ServiceAgainstCluster, LosesNoAcknowledgedWriteInARawSentinelFailover) {
    Service service(cluster_);
    ASSERT_TRUE(waitUntil([&] { return service.get("/readyz").status == 200; }, 10s)) << service.log();
    const auto oldMaster = cluster_.masterBySentinel(0);
    std::atomic<bool> writing{true};
    std::mutex ackedMutex;
    std::vector<std::string> acked;
    std::vector<std::thread> writers;
    for (int w = 0; w < 2; ++w) {
        writers.emplace_back([&, w] {
            for (int i = 0; writing; ++i) {
                const std::string key = "fence-" + std::to_string(w) + "-" + std::to_string(i);
                if (service.put(key, "v").status == 200) {
                    std::lock_guard<std::mutex> lock(ackedMutex);
                    acked.push_back(key);
                }
            }
        });
    }
    ASSERT_TRUE(waitUntil([&] { std::lock_guard<std::mutex> l(ackedMutex); return acked.size() > 50; }, 10s));
    ASSERT_EQ(cluster_.sentinel(1, {"SENTINEL", "FAILOVER", RedisCluster::kMasterName}).str, "OK");
    ASSERT_TRUE(waitUntil([&] { return cluster_.masterBySentinel(0) != oldMaster && cluster_.converged(); }, 30s));
    std::size_t atSwitch;
    {
        std::lock_guard<std::mutex> l(ackedMutex);
        atSwitch = acked.size();
    }
    ASSERT_TRUE(waitUntil([&] { std::lock_guard<std::mutex> l(ackedMutex); return acked.size() > atSwitch + 50; }, 20s)) << service.log();
    writing = false;
    for (auto& t : writers) t.join();

    const int master = cluster_.indexOf(cluster_.masterBySentinel(0));
    std::size_t lost = 0;
    for (const auto& key : acked) {
        if (cluster_.redis(master, {"EXISTS", "kv:" + key}).integer != 1) ++lost;
    }
    std::cout << "[ figures  ] raw SENTINEL FAILOVER: " << acked.size() << " writes acknowledged, " << lost << " lost\n";
    EXPECT_EQ(lost, 0u) << service.log();
}

TEST_F(ServiceAgainstCluster, ResumesWritesAfterTheMasterIsKilled) {
    Service service(cluster_, {{"REDIS_REQUEST_TIMEOUT_MS", "1000"}});
    ASSERT_EQ(service.put("before", "1").status, 200);
    const int master = indexOfMaster(cluster_);
    const auto killed = std::chrono::steady_clock::now();
    cluster_.killRedis(master, SIGKILL);
    int failures = 0;
    ASSERT_TRUE(waitUntil([&] {
        if (service.put("after", "1").status == 200) return true;
        ++failures;
        return false;
    }, 30s, 50ms)) << service.log();
    const auto recovery = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed);
    EXPECT_NE(indexOfMaster(cluster_), master);
    EXPECT_TRUE(service.process().running());
    std::cout << "[ figures  ] SIGKILL of master -> first successful write through the service: " << recovery.count()
              << " ms (" << failures << " failed requests, down-after 2000 ms)\n";
}

TEST_F(ServiceAgainstCluster, ReadonlyReplyTriggersRediscoveryAndRoleCheck) {
    Service service(cluster_, {{"REDIS_REQUEST_TIMEOUT_MS", "1000"}});
    ASSERT_EQ(service.put("warm", "pool").status, 200);  // leaves a pooled connection to the master
    // Demote the master behind Sentinel's back: the pooled connection now gets READONLY,
    // and Sentinel still names the demoted node, whose ROLE is slave.
    ASSERT_EQ(cluster_.redis(1, {"REPLICAOF", "NO", "ONE"}).str, "OK");
    ASSERT_EQ(cluster_.redis(0, {"REPLICAOF", RedisCluster::host(1), "6379"}).str, "OK");
    auto refused = service.put("during", "x");
    EXPECT_EQ(refused.status, 503);
    EXPECT_NE(refused.body.find("\"kind\":\"not_master\""), std::string::npos) << refused.body;
    // The first attempt got READONLY; the retries asked Sentinel again and refused the node on ROLE.
    EXPECT_NE(service.log().find("READONLY"), std::string::npos) << service.log();
    EXPECT_NE(refused.body.find("but its ROLE is slave"), std::string::npos) << refused.body;
    auto metrics = service.get("/metrics").body;
    EXPECT_NE(metrics.find("redisdr_redis_errors_total{kind=\"not_master\"}"), std::string::npos);
    // Put it back: the next request re-discovers and succeeds.
    ASSERT_EQ(cluster_.redis(0, {"REPLICAOF", "NO", "ONE"}).str, "OK");
    ASSERT_EQ(cluster_.redis(1, {"REPLICAOF", RedisCluster::host(0), "6379"}).str, "OK");
    EXPECT_TRUE(waitUntil([&] { return service.put("after", "y").status == 200; }, 10s)) << service.log();
}

TEST_F(ServiceAgainstCluster, ExplainsEachKindOfConnectionFailure) {
    struct Case {
        std::map<std::string, std::string> env;
        std::string kind;
        std::string words;
    };
    const std::vector<Case> cases = {
        {{{"REDIS_PASSWORD", "wrong-password"}}, "redis_auth", "refused authentication"},
        {{{"SENTINEL_PASSWORD", "wrong-password"}}, "sentinel_auth", "refused authentication"},
        {{{"REDIS_MASTER_NAME", "othermaster"}}, "master_unknown", "do not know master"},
        {{{"SENTINEL_HOST", "127.0.2.200,127.0.2.201"}}, "no_sentinel_reachable", "no Sentinel reachable"},
    };
    for (const auto& c : cases) {
        auto env = c.env;
        env["REDIS_REQUEST_TIMEOUT_MS"] = "300";
        env["REDIS_COMMAND_TIMEOUT_MS"] = "300";
        Service service(cluster_, env);
        auto reply = service.put("k", "v");
        EXPECT_EQ(reply.status, 503) << c.kind;
        EXPECT_NE(reply.body.find("\"kind\":\"" + c.kind + "\""), std::string::npos) << reply.body;
        EXPECT_NE(reply.body.find(c.words), std::string::npos) << reply.body;
        EXPECT_NE(service.get("/metrics").body.find("redisdr_redis_errors_total{kind=\"" + c.kind + "\"}"), std::string::npos);
        EXPECT_EQ(service.get("/readyz").status, 503);
        EXPECT_EQ(service.get("/healthz").status, 200);  // liveness never depends on Redis
    }
}

TEST_F(ServiceAgainstCluster, NeverWritesToAMasterTheSentinelsFlagDown) {
    // A second master name whose master never answers: every Sentinel flags it down
    // after down-after. Had it merely stalled, writes taken when it woke before the
    // failover completed would be lost, so the service must not use it at all.
    const std::string ghost = "ghostmaster";
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(cluster_.sentinel(i, {"SENTINEL", "MONITOR", ghost, "127.0.2.250", "6379", "2"}).str, "OK");
        ASSERT_EQ(cluster_.sentinel(i, {"SENTINEL", "SET", ghost, "down-after-milliseconds", "2000"}).str, "OK");
    }
    const auto flaggedEverywhere = [&] {
        for (int i = 0; i < 3; ++i) {
            redisdr::Reply master = cluster_.sentinel(i, {"SENTINEL", "MASTER", ghost});
            bool down = false;
            for (std::size_t j = 0; j + 1 < master.elements.size(); j += 2) {
                if (master.elements[j].str == "flags") down = master.elements[j + 1].str.find("s_down") != std::string::npos;
            }
            if (!down) return false;
        }
        return true;
    };
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!flaggedEverywhere() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_TRUE(flaggedEverywhere());

    Service service(cluster_, {{"REDIS_MASTER_NAME", ghost}, {"REDIS_REQUEST_TIMEOUT_MS", "500"}, {"REDIS_COMMAND_TIMEOUT_MS", "300"}});
    auto reply = service.put("k", "v");
    for (int i = 0; i < 3; ++i) cluster_.sentinel(i, {"SENTINEL", "REMOVE", ghost});
    EXPECT_EQ(reply.status, 503);
    EXPECT_NE(reply.body.find("\"kind\":\"master_down\""), std::string::npos) << reply.body;
    EXPECT_NE(reply.body.find("3 of 3 Sentinels report master 127.0.2.250:6379 down"), std::string::npos) << reply.body;
}

TEST_F(ServiceAgainstCluster, RejectsBadRequestsAndStaysUp) {
    Service service(cluster_, {{"MAX_VALUE_BYTES", "1024"}, {"MAX_KEY_BYTES", "16"}});
    auto big = service.put("big", std::string(4096, 'x'));
    EXPECT_EQ(big.status, 413);
    EXPECT_NE(big.body.find("\"error\""), std::string::npos);
    auto longKey = service.put(std::string(17, 'k'), "v");
    EXPECT_EQ(longKey.status, 400);
    EXPECT_NE(longKey.body.find("longer than 16 bytes"), std::string::npos);
    EXPECT_EQ(service.request("PUT", "/kv/bad%01key", "v").status, 400);
    EXPECT_EQ(service.get("/nowhere").status, 404);

    // Raw garbage on the socket.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(service.port()));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const char garbage[] = "NOT HTTP AT ALL\r\n\r\n";
    ASSERT_GT(write(fd, garbage, sizeof garbage - 1), 0);
    char buffer[256] = {};
    const auto n = read(fd, buffer, sizeof buffer - 1);
    close(fd);
    EXPECT_GT(n, 0);
    EXPECT_NE(std::string(buffer).find("400"), std::string::npos) << buffer;

    EXPECT_EQ(service.get("/healthz").status, 200);
    EXPECT_EQ(service.put("fine", "v").status, 200);
}

TEST_F(ServiceAgainstCluster, DrainsOnSigtermThenExitsCleanly) {
    Service service(cluster_, {{"SHUTDOWN_DRAIN_SECONDS", "2"}});
    ASSERT_TRUE(waitUntil([&] { return service.get("/readyz").status == 200; }, 10s));
    service.process().signal(SIGTERM);
    ASSERT_TRUE(waitUntil([&] { return service.get("/readyz").status == 503; }, 2s));
    EXPECT_EQ(service.put("during-drain", "ok").status, 200);  // still serving while the load balancer lets go
    EXPECT_EQ(service.process().wait(10s), 0);
    EXPECT_NE(service.log().find("shutting down"), std::string::npos);
}

TEST(ServiceConfiguration, RefusesToStartOnBadEnvironment) {
    Process p({REDISDR_APP_BINARY}, {{"PATH", std::getenv("PATH")}, {"HTTP_PORT", "eighty"}}, "/tmp/redisdr-badconfig.log");
    EXPECT_EQ(p.wait(5s), 2);
    std::ifstream in("/tmp/redisdr-badconfig.log");
    std::stringstream log;
    log << in.rdbuf();
    EXPECT_NE(log.str().find("SENTINEL_HOST is required"), std::string::npos) << log.str();
    EXPECT_NE(log.str().find("HTTP_PORT=\\\"eighty\\\" is not a whole number"), std::string::npos) << log.str();
}
