// The service's public listener under hostile clients: slow, many, oversized, malformed and
// more than it can serve. Each must get its status, the process's memory must stay bounded,
// and liveness on the probe port must answer within 100 ms throughout.
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "service_process.hpp"

using namespace redisdr::testing;
using namespace std::chrono_literals;

namespace {

constexpr auto kLivenessBudget = 100ms;

class HostileClients : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        // A thousand client sockets, plus the service's own: raise the soft descriptor limit.
        rlimit limit{};
        getrlimit(RLIMIT_NOFILE, &limit);
        limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 8192);
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    void SetUp() override { group_.start(); }
    SentinelGroup group_;
};

// How long /healthz on the probe port takes to answer 200 (or 10 s if it does not).
std::chrono::milliseconds livenessLatency(Service& service) {
    const auto started = std::chrono::steady_clock::now();
    if (service.probe("/healthz").status != 200) return 10s;
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
}

// What the server sends on FD until it closes the connection or WITHIN passes.
std::string readUntilClosed(int fd, std::chrono::milliseconds within, bool* closed = nullptr) {
    timeval timeout{static_cast<time_t>(within.count() / 1000), static_cast<suseconds_t>((within.count() % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::string received;
    char buffer[4096];
    for (;;) {
        const auto n = recv(fd, buffer, sizeof buffer, 0);
        if (n > 0) {
            received.append(buffer, static_cast<std::size_t>(n));
            continue;
        }
        if (closed) *closed = n == 0;
        return received;
    }
}

}  // namespace

TEST_F(HostileClients, CutsOffSlowClientsWhileServingEveryoneElse) {
    Service service(group_, {{"HTTP_READ_TIMEOUT_MS", "1000"}});
    ASSERT_TRUE(waitUntil([&] { return service.get("/readyz").status == 200; }, 10s)) << service.log();
    std::vector<int> slow;
    for (int i = 0; i < 200; ++i) slow.push_back(slowClient(service.port()));
    // A trickler keeps sending header bytes, so only a deadline on the whole request stops it.
    const int trickler = connectTo(service.port());
    ASSERT_GE(trickler, 0);
    ASSERT_GT(send(trickler, "GET /kv/x HTTP/1.1\r\n", 20, MSG_NOSIGNAL), 0);
    std::atomic<bool> trickling{true};
    std::thread trickle([&] {
        while (trickling && send(trickler, "X-A: b\r\n", 8, MSG_NOSIGNAL) > 0) std::this_thread::sleep_for(100ms);
    });

    // Everyone else is served meanwhile, on the public port and the probe port alike.
    EXPECT_LT(livenessLatency(service), kLivenessBudget);
    EXPECT_EQ(service.get("/readyz").status, 200);
    EXPECT_EQ(service.put("during", "slowloris").status, 200);

    // Each slow client is told 408 and closed once the read deadline passes.
    int cutOff = 0;
    for (int fd : slow) {
        bool closed = false;
        const auto answer = readUntilClosed(fd, 3000ms, &closed);
        if (closed && answer.find("HTTP/1.1 408") != std::string::npos) ++cutOff;
        close(fd);
    }
    EXPECT_EQ(cutOff, 200);
    bool closed = false;
    const auto started = std::chrono::steady_clock::now();
    const auto answer = readUntilClosed(trickler, 3000ms, &closed);
    trickling = false;
    trickle.join();
    close(trickler);
    EXPECT_TRUE(closed) << "the trickler was never cut off";
    EXPECT_NE(answer.find("HTTP/1.1 408"), std::string::npos) << answer;
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
    EXPECT_LT(livenessLatency(service), kLivenessBudget);
}

TEST_F(HostileClients, HoldsAThousandConnectionsAndCapsTheRest) {
    {
        Service service(group_);
        const pid_t pid = service.process().pid();
        ASSERT_EQ(service.put("warm", "x").status, 200);
        const long before = peakRssKib(pid);
        std::vector<int> idle;
        for (int i = 0; i < 1000; ++i) idle.push_back(connectTo(service.port()));
        EXPECT_EQ(std::count(idle.begin(), idle.end(), -1), 0);
        std::this_thread::sleep_for(300ms);
        // Under the default cap of 1024 all are held, and a real client is still served.
        EXPECT_LT(livenessLatency(service), kLivenessBudget);
        EXPECT_EQ(service.put("among-a-thousand", "v").status, 200);
        if (kRssMeansSomething) {
            EXPECT_LT(peakRssKib(pid) - before, 32 * 1024) << "peak RSS grew from " << before << " KiB to " << peakRssKib(pid) << " KiB";
        }
        for (int fd : idle) close(fd);
    }
    Service capped(group_, {{"HTTP_MAX_CONNECTIONS", "100"}});
    std::vector<int> held;
    for (int i = 0; i < 1000; ++i) held.push_back(connectTo(capped.port()));
    // Past the cap a connection is answered 503 at once and closed: nothing else is read or held.
    int refused = 0;
    for (std::size_t i = 100; i < held.size(); ++i) {
        if (held[i] < 0) continue;
        bool closed = false;
        const auto answer = readUntilClosed(held[i], 2000ms, &closed);
        if (closed && answer.find("HTTP/1.1 503") != std::string::npos && answer.find("Retry-After: 1") != std::string::npos &&
            answer.find("\"kind\":\"overloaded\"") != std::string::npos) {
            ++refused;
        }
    }
    EXPECT_EQ(refused, 900);
    EXPECT_LT(livenessLatency(capped), kLivenessBudget);
    for (int fd : held) close(fd);
    EXPECT_TRUE(waitUntil([&] { return capped.put("after", "v").status == 200; }, 5s));
    EXPECT_NE(capped.probe("/metrics").body.find("redisdr_http_failures_total{kind=\"overloaded\"}"), std::string::npos);
}

TEST_F(HostileClients, RefusesOversizedAndMalformedHeadsWithTheirStatus) {
    Service service(group_);
    const pid_t pid = service.process().pid();
    ASSERT_EQ(service.put("warm", "x").status, 200);
    const long before = peakRssKib(pid);
    const auto status = [&](const std::string& bytes) {
        const int fd = connectTo(service.port());
        (void)!send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        const auto answer = readUntilClosed(fd, 3000ms);
        close(fd);
        return answer.substr(0, 12);
    };
    std::string hugeHeaders;
    for (int i = 0; i < 800; ++i) hugeHeaders += "X-Pad-" + std::to_string(i) + ": " + std::string(1000, 'p') + "\r\n";
    EXPECT_EQ(status(authHead("GET /kv/x HTTP/1.1", hugeHeaders)), "HTTP/1.1 431");
    std::string longFields;  // each field longer than any URL limit: still the head's fault, not the target's
    for (int i = 0; i < 100; ++i) longFields += "X-Big-" + std::to_string(i) + ": " + std::string(8000, 'z') + "\r\n";
    EXPECT_EQ(status(authHead("GET /kv/x HTTP/1.1", longFields)), "HTTP/1.1 431");
    std::string manyHeaders;
    for (int i = 0; i < 100; ++i) manyHeaders += "X-" + std::to_string(i) + ": v\r\n";
    EXPECT_EQ(status(authHead("GET /kv/x HTTP/1.1", manyHeaders)), "HTTP/1.1 431");
    EXPECT_EQ(status(authHead("GET /kv/" + std::string(5000, 'k') + " HTTP/1.1")), "HTTP/1.1 414");
    EXPECT_EQ(status(authHead("GET /kv/" + std::string(100 * 1024, 'k') + " HTTP/1.1")), "HTTP/1.1 414");  // past the head limit too
    EXPECT_EQ(status(authHead("GET /kv/%zz HTTP/1.1")), "HTTP/1.1 400");
    // Request smuggling's raw material: two framings at once.
    EXPECT_EQ(status(authHead("PUT /kv/x HTTP/1.1", "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n") + "3\r\nabc\r\n0\r\n\r\n"),
              "HTTP/1.1 400");
    EXPECT_EQ(status(authHead("PUT /kv/x HTTP/1.1", "Content-Length: 3\r\nContent-Length: 4\r\n") + "abcd"), "HTTP/1.1 400");
    std::string garbage;
    for (int i = 0; i < 65536; ++i) garbage += static_cast<char>((i * 7919) % 256);
    EXPECT_EQ(status(garbage), "HTTP/1.1 400");
    // A gzip-encoded chunked body is refused before a byte of it is read.
    EXPECT_EQ(status(authHead("PUT /kv/x HTTP/1.1", "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n")), "HTTP/1.1 415");
    if (kRssMeansSomething) {
        EXPECT_LT(peakRssKib(pid) - before, 8 * 1024) << "peak RSS grew from " << before << " KiB to " << peakRssKib(pid) << " KiB";
    }
    EXPECT_LT(livenessLatency(service), kLivenessBudget);
    EXPECT_EQ(service.put("still", "fine").status, 200);
}

TEST_F(HostileClients, KeepsMetricsBoundedWhateverMethodsAreSent) {
    Service service(group_);
    const pid_t pid = service.process().pid();
    ASSERT_EQ(service.put("warm", "x").status, 200);
    const long before = peakRssKib(pid);
    // 20,000 unauthenticated requests, each with its own 2 KiB method token: each is a 405.
    constexpr int kRequests = 20000;
    std::atomic<int> refused{0};
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t) {
        senders.emplace_back([&, t] {
            for (int i = t; i < kRequests; i += 4) {
                const std::string method = "M" + std::to_string(i) + std::string(2048, 'X');
                if (exchange(service.port(), method + " /kv/x HTTP/1.1\r\nHost: t\r\n\r\n").rfind("HTTP/1.1 405", 0) == 0) ++refused;
            }
        });
    }
    for (auto& sender : senders) sender.join();
    EXPECT_EQ(refused.load(), kRequests);
    const auto metrics = service.probe("/metrics").body;
    EXPECT_LT(metrics.size(), 16u * 1024) << "the refusals grew /metrics to " << metrics.size() << " bytes";
    EXPECT_NE(metrics.find("redisdr_http_requests_total{route=\"refused\",method=\"other\",status=\"405\"} " + std::to_string(kRequests) + "\n"),
              std::string::npos)
        << metrics;
    if (kRssMeansSomething) {
        EXPECT_LT(peakRssKib(pid) - before, 8 * 1024) << "peak RSS grew from " << before << " KiB to " << peakRssKib(pid) << " KiB";
    }
    EXPECT_LT(livenessLatency(service), kLivenessBudget);
}

// RFC 9112 section 6: a request whose body length is not certain is refused and its connection
// closed, so no byte after its head can be read as another request (request smuggling).
TEST_F(HostileClients, RefusesAmbiguousFramingAndClosesTheConnection) {
    Service service(group_);
    const std::string smuggled = "GET /kv/x HTTP/1.1\r\nHost: t\r\n\r\n";
    // Everything the server answers on one connection, and whether it then closed it.
    const auto answers = [&](const std::string& bytes) {
        const int fd = connectTo(service.port());
        (void)!send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        bool closed = false;
        auto answer = readUntilClosed(fd, 2000ms, &closed);
        close(fd);
        return std::make_pair(answer, closed);
    };
    const auto expectRefused = [&](const std::string& bytes, const std::string& status) {
        const auto [answer, closed] = answers(bytes);
        EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 " + status) << bytes;
        EXPECT_EQ(answer.find("HTTP/1.1 ", 1), std::string::npos) << "a second response: " << answer;
        EXPECT_TRUE(closed) << bytes;
    };
    const auto put = [](const std::string& headers) { return authHead("PUT /kv/te HTTP/1.1", headers); };
    // The final coding is not chunked: the length is unknown (6.3 item 4).
    expectRefused(put("Transfer-Encoding: gzip\r\n") + smuggled, "400");
    expectRefused(put("Transfer-Encoding: chunked, gzip\r\n") + smuggled, "400");
    expectRefused(put("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n") + smuggled, "400");
    expectRefused(put("Transfer-Encoding: chunked, chunked\r\n") + "3\r\nabc\r\n0\r\n\r\n" + smuggled, "400");
    // Chunked last, but under a coding the service cannot decode (6.1: 501).
    expectRefused(put("Transfer-Encoding: gzip, chunked\r\n") + "3\r\nabc\r\n0\r\n\r\n" + smuggled, "501");
    // Transfer-Encoding from an HTTP/1.0 client, which cannot mean it (6.1).
    expectRefused("PUT /kv/te HTTP/1.0\r\nHost: t\r\nAuthorization: Bearer " + std::string(kToken) +
                      "\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + smuggled,
                  "400");
    // Two framings, or a Content-Length that is a list (6.3 items 3 and 5).
    expectRefused(put("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n") + "3\r\nabc\r\n0\r\n\r\n" + smuggled, "400");
    expectRefused(put("Content-Length: 3, 3\r\n") + "abc" + smuggled, "400");
    expectRefused(put("Content-Length: 3, 40\r\n") + "abc" + smuggled, "400");
    // A folded field line (5.2) and whitespace before the colon (5.1).
    expectRefused(put("Content-Length: 3\r\nX-Folded: a\r\n b\r\n") + "abc" + smuggled, "400");
    expectRefused(put("Content-Length : 3\r\n") + "abc" + smuggled, "400");
    // The same body, framed once and plainly, is stored and the connection kept.
    const auto [answer, closed] = answers(put("Transfer-Encoding: chunked\r\n") + "3\r\nabc\r\n0\r\n\r\n");
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
    EXPECT_FALSE(closed);
    EXPECT_EQ(service.get("/kv/te").body, "abc");
}

TEST_F(HostileClients, ShedsWorkBeyondTheQueueWith503) {
    Service service(group_, {{"HTTP_THREADS", "1"}, {"HTTP_QUEUE_DEPTH", "2"}, {"REDIS_REQUEST_TIMEOUT_MS", "1500"}});
    ASSERT_EQ(service.put("warm", "x").status, 200);
    // A stalled master: HTTP_QUEUE_DEPTH (2) first attempts are under way, waiting for it (on the
    // I/O threads' connections or a carrier); the other six are shed at once.
    const pid_t master = group_.redisPid(group_.indexOf(group_.masterBySentinel(0)));
    ::kill(master, SIGSTOP);
    std::vector<std::future<std::pair<Service::Result, std::chrono::milliseconds>>> puts;
    for (int i = 0; i < 8; ++i) {
        puts.push_back(std::async(std::launch::async, [&service, i] {
            const auto started = std::chrono::steady_clock::now();
            auto r = service.put("shed-" + std::to_string(i), "v");
            return std::make_pair(r, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started));
        }));
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_LT(livenessLatency(service), kLivenessBudget);
    int shed = 0;
    for (auto& put : puts) {
        const auto [r, took] = put.get();
        if (r.body.find("\"kind\":\"overloaded\"") == std::string::npos) continue;
        ++shed;
        EXPECT_EQ(r.status, 503);
        EXPECT_EQ(r.retryAfter, "1");
        EXPECT_LT(took, 500ms);
    }
    ::kill(master, SIGCONT);
    EXPECT_EQ(shed, 6) << service.log();
    EXPECT_TRUE(waitUntil([&] { return service.put("after", "v").status == 200; }, 10s));
}

TEST_F(HostileClients, BoundsTheBodiesHeldAtOnce) {
    Service service(group_, {{"MAX_VALUE_BYTES", "1024"}, {"HTTP_BODY_BUFFER_BYTES", "2048"}});
    // Two chunked uploads that never finish reserve a full value each: the budget is spent.
    std::vector<int> uploads;
    for (int i = 0; i < 2; ++i) {
        uploads.push_back(connectTo(service.port()));
        const auto head = authHead("PUT /kv/up HTTP/1.1", "Transfer-Encoding: chunked\r\n") + "3\r\nabc\r\n";
        ASSERT_GT(send(uploads.back(), head.data(), head.size(), MSG_NOSIGNAL), 0);
    }
    std::this_thread::sleep_for(200ms);
    auto refused = service.put("third", "v");
    EXPECT_EQ(refused.status, 503);
    EXPECT_NE(refused.body.find("\"kind\":\"overloaded\""), std::string::npos) << refused.body;
    EXPECT_EQ(service.get("/kv/warm").status, 404);  // a GET holds no body and still works
    for (int fd : uploads) close(fd);
    EXPECT_TRUE(waitUntil([&] { return service.put("third", "v").status == 200; }, 5s));
}
