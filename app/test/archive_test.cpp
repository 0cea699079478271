// The archiver against real redis-server processes on 127.0.13.x (in slot 0): a master and two replicas,
// a scratch server for replays. Each restore is checked against the live master by DEBUG
// DIGEST (a hash of the whole dataset), so "replayed" means "the same data".
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <memory>
#include <thread>

#include "archive/archiver.hpp"
#include "archive/command_log.hpp"
#include "archive/replayer.hpp"
#include "archive/restore_plan.hpp"
#include "archive/sha256.hpp"
#include "archive/undo.hpp"
#include "scripts/UndoApply.hpp"
#include "sentinel_group.hpp"

using namespace redisdr;
using namespace redisdr::archive;
using namespace std::chrono_literals;
using redisdr::testing::Process;
using redisdr::testing::waitUntil;

namespace {

constexpr const char* kPassword = "archive-test-pass";
// "127.0.13." in slot 0 (test_slot.hpp).
const std::string kSubnet = redisdr::testing::slotSubnet(13);
const std::string kScratch = kSubnet + "9";

std::string host(int i) { return kSubnet + std::to_string(i + 1); }

Reply call(const std::string& at, const std::vector<std::string>& argv) {
    auto connection = RedisConnection::open(Endpoint{at, 6379}, Timeouts{500ms, 5000ms}, kPassword, false);
    return connection->command(argv);
}

std::string infoField(const std::string& at, const std::string& name) {
    const std::string info = call(at, {"INFO", "replication"}).str;
    const auto start = info.find(name + ":");
    if (start == std::string::npos) return "";
    const auto from = start + name.size() + 1;
    return info.substr(from, info.find('\r', from) - from);
}

struct BadFlush {
    Process reference, without, with;
    std::unique_ptr<RedisConnection> withoutConnection, withConnection, live;
    UndoRequest request;
    UndoServers servers() { return UndoServers{*withoutConnection, *withConnection, *live}; }
};

constexpr const char* kReference = "11";
constexpr const char* kWith = "10";

class ArchiveTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/redis-dr-archive-XXXXXX";
        dir_ = mkdtemp(pattern);
        spool_ = dir_ + "/spool";
        for (int i = 0; i < 3; i++) servers_.push_back(startServer(host(i), i == 0 ? "" : host(0)));
        ASSERT_TRUE(waitUntil([] { return infoField(host(1), "master_link_status") == "up" && infoField(host(2), "master_link_status") == "up"; }, 10s));
    }
    void TearDown() override {
        stopArchiver();
        servers_.clear();
        if (!::testing::Test::HasFailure()) std::system(("rm -rf " + dir_).c_str());
    }

    Process startServer(const std::string& address, const std::string& replicaOf) {
        const std::string data = dir_ + "/" + address;
        ::mkdir(data.c_str(), 0700);
        std::vector<std::string> argv{"redis-server", "--bind", address, "--port", "6379", "--dir", data, "--save", "", "--appendonly", "no",
                                      "--requirepass", kPassword, "--masterauth", kPassword, "--enable-debug-command", "local",
                                      "--repl-ping-replica-period", "1"};
        if (!replicaOf.empty()) argv.insert(argv.end(), {"--replicaof", replicaOf, "6379"});
        Process server(argv, {}, dir_ + "/" + address + ".log");
        EXPECT_TRUE(waitUntil([&] { try { return call(address, {"PING"}).str == "PONG"; } catch (...) { return false; } }, 10s));
        return server;
    }

    // An idle segment (only the master's pings, every second here) closes after IDLE.
    void startArchiver(std::chrono::milliseconds idle = 1s) {
        ArchiverSettings settings;
        settings.nodes = {{host(0), 6379}, {host(1), 6379}, {host(2), 6379}};
        settings.user = "default";
        settings.password = kPassword;
        settings.spoolDirectory = spool_;
        settings.interval = 200ms;
        settings.idleInterval = idle;
        ArchiverEvents events;
        events.log = [this](const std::string& m) { std::ofstream(dir_ + "/archiver.log", std::ios::app) << m << "\n"; };
        stop_ = false;
        archiver_ = std::make_unique<Archiver>(settings, events);
        thread_ = std::thread([this] { archiver_->run(stop_); });
    }
    void stopArchiver() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        archiver_.reset();
    }

    // Waits until the spool's closed segments reach the master's offset as it is now.
    void waitArchived(const std::string& master) {
        const auto target = std::stoull(infoField(master, "master_repl_offset"));
        ASSERT_TRUE(waitUntil([&] {
            auto gaps = listGaps(spool_);
            for (const auto& s : listSegments(spool_)) if (s.endOffset >= target) return true;
            return !gaps.empty() && gaps.back().to.offset >= target;
        }, 10s)) << "archive never reached offset " << target;
    }

    // The position the archive starts from: the first full resync, onto an empty dataset.
    BasePoint emptyBase() {
        const auto gaps = listGaps(spool_);
        EXPECT_FALSE(gaps.empty());
        return BasePoint{gaps.front().to};
    }

    // Replays the archive onto a new, empty scratch server and returns its DEBUG DIGEST.
    std::string replayedDigest(std::optional<std::int64_t> untilMs = std::nullopt, const std::set<std::uint64_t>& skip = {}) {
        Process scratch = startServer(kScratch, "");
        auto target = RedisConnection::open(Endpoint{kScratch, 6379}, Timeouts{500ms, 10000ms}, kPassword, false);
        const RestorePlan plan = planRestore(listSegments(spool_), listGaps(spool_), emptyBase(), untilMs);
        replay(plan, spool_, *target, skip, [](const ReplayProgress&) {});
        const std::string digest = target->command({"DEBUG", "DIGEST"}).str;
        lastScratchKeys_ = call(kScratch, {"DBSIZE"}).integer;  // a new connection: database 0
        return digest;
    }
    std::string digestOf(const std::string& at) { return call(at, {"DEBUG", "DIGEST"}).str; }
    BadFlush archivedBadFlush();

    void writeMix(const std::string& master, const std::string& prefix, int count, int replicas = 2) {
        auto c = RedisConnection::open(Endpoint{master, 6379}, Timeouts{500ms, 5000ms}, kPassword, false);
        for (int i = 0; i < count; i++) {
            const std::string key = prefix + std::to_string(i);
            c->command({"SET", key, std::string("v\r\n\0", 4) + std::to_string(i)});
            if (i % 7 == 0) c->command({"INCRBY", prefix + "counter", "3"});
            if (i % 11 == 0) c->command({"HSET", prefix + "hash", key, "x"});
            if (i % 13 == 0) c->command({"DEL", key});
        }
        std::vector<std::string> multi{"MULTI"}, incr{"INCR", prefix + "tx"}, exec{"EXEC"};
        std::vector<Reply> replies;
        c->pipeline({&multi, &incr, &incr, &exec}, replies);
        c->command({"EVAL", "redis.call('SET', KEYS[1], 'scripted'); return redis.call('INCR', KEYS[2])", "2", prefix + "s", prefix + "counter"});
        c->command({"SELECT", "3"});
        c->command({"SET", prefix + "in-db-3", "yes"});
        if (replicas > 0) {
            ASSERT_GE(c->command({"WAIT", std::to_string(replicas), "5000"}).integer, replicas);
        }
    }

    std::string dir_, spool_;
    std::vector<Process> servers_;
    std::atomic<bool> stop_{false};
    std::unique_ptr<Archiver> archiver_;
    std::thread thread_;
    long long lastScratchKeys_ = 0;
};

TEST_F(ArchiveTest, ReplayRebuildsTheMasterExactly) {
    startArchiver();
    ASSERT_TRUE(waitUntil([&] { return !listGaps(spool_).empty(); }, 10s));
    writeMix(host(0), "a:", 500);
    waitArchived(host(0));
    EXPECT_EQ(replayedDigest(), digestOf(host(0)));
    EXPECT_GT(lastScratchKeys_, 400);
}

TEST_F(ArchiveTest, KeepsASegmentOfPingsAndPublishesOpenUntilAWriteAndChecksumsIt) {
    startArchiver(60s);
    ASSERT_TRUE(waitUntil([&] { return !listGaps(spool_).empty(); }, 10s));
    // Two seconds of what an idle master streams besides its pings: Sentinel's hellos.
    for (int i = 0; i < 20; i++) {
        call(host(0), {"PUBLISH", "__sentinel__:hello", "hello " + std::to_string(i)});
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(listSegments(spool_).empty()) << "a segment without a write closed before its idle interval";
    call(host(0), {"SET", "idle:written", "x"});
    waitArchived(host(0));
    const auto segments = listSegments(spool_);
    ASSERT_EQ(segments.size(), 1u) << "the hellos and the write belong in one segment, closed by the write";
    EXPECT_GE(segments[0].commands, 21u);
    // The manifest's checksum is the data's, and the sidecar the shipper signs its uploads with
    // is one sha256sum itself accepts.
    std::ifstream data(spool_ + "/" + segments[0].name + ".resp", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(data)), std::istreambuf_iterator<char>());
    EXPECT_EQ(segments[0].sha256, sha256Hex(bytes));
    EXPECT_EQ(std::system(("cd " + spool_ + " && sha256sum --quiet -c " + segments[0].name + ".sha256").c_str()), 0);
}

TEST_F(ArchiveTest, ResumesAfterARestartWithNoGapAndNoDuplicate) {
    startArchiver();
    ASSERT_TRUE(waitUntil([&] { return !listGaps(spool_).empty(); }, 10s));
    writeMix(host(0), "before:", 200);
    waitArchived(host(0));
    stopArchiver();
    writeMix(host(0), "while-down:", 200);
    startArchiver();
    writeMix(host(0), "after:", 200);
    waitArchived(host(0));
    EXPECT_EQ(listGaps(spool_).size(), 1u) << "a restart within the backlog must continue, not resync";
    EXPECT_EQ(replayedDigest(), digestOf(host(0)));
}

TEST_F(ArchiveTest, FollowsAFailoverUnderTheNewReplicationId) {
    startArchiver();
    ASSERT_TRUE(waitUntil([&] { return !listGaps(spool_).empty(); }, 10s));
    writeMix(host(0), "old-master:", 200);
    waitArchived(host(0));
    // What Sentinel does in a failover: promote one replica, point the others at it.
    call(host(1), {"REPLICAOF", "NO", "ONE"});
    call(host(2), {"REPLICAOF", host(1), "6379"});
    call(host(0), {"REPLICAOF", host(1), "6379"});
    ASSERT_TRUE(waitUntil([] { return infoField(host(2), "master_link_status") == "up" && infoField(host(0), "master_link_status") == "up"; }, 10s));
    writeMix(host(1), "new-master:", 200);
    waitArchived(host(1));
    EXPECT_EQ(listGaps(spool_).size(), 1u) << "a failover within the backlog must continue, not resync";
    const auto segments = listSegments(spool_);
    EXPECT_TRUE(std::any_of(segments.begin(), segments.end(), [](const SegmentInfo& s) { return !s.previousReplicationId.empty(); }));
    EXPECT_EQ(replayedDigest(), digestOf(host(1)));
}

TEST_F(ArchiveTest, RestoresToATimeWithEveryEarlierWriteAndNoLaterOne) {
    startArchiver();
    ASSERT_TRUE(waitUntil([&] { return !listGaps(spool_).empty(); }, 10s));
    writeMix(host(0), "early:", 300);
    waitArchived(host(0));
    const std::string earlyDigest = digestOf(host(0));
    std::this_thread::sleep_for(300ms);  // past the early writes' arrival and the archiver's PINGs' marks
    const std::int64_t chosen = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::this_thread::sleep_for(50ms);
    writeMix(host(0), "late:", 300);
    waitArchived(host(0));
    EXPECT_EQ(replayedDigest(chosen), earlyDigest);
    EXPECT_NE(replayedDigest(), earlyDigest);
}

}  // namespace

// A bad FLUSHALL between good writes, archived: the same writes go to the master and to a
// reference server, the FLUSHALL only to the master, so after an undo the master must hold
// exactly the reference's data (a counter incremented after the flush included). The
// FLUSHALL's offset is found by its line in the log; both scratch servers are running.
BadFlush ArchiveTest::archivedBadFlush() {
    BadFlush bad;
    const std::string reference = kSubnet + kReference;
    bad.reference = startServer(reference, "");
    startArchiver();
    EXPECT_TRUE(waitUntil([&] { return !listGaps(spool_).empty(); }, 10s));
    for (const auto& at : {host(0), reference}) writeMix(at, "good:", 300, at == reference ? 0 : 2);
    call(host(0), {"FLUSHALL"});
    for (const auto& at : {host(0), reference}) {
        writeMix(at, "after:", 100, at == reference ? 0 : 2);
        call(at, {"INCRBY", "good:counter", "5"});
    }
    waitArchived(host(0));

    bad.without = startServer(kScratch, "");
    bad.with = startServer(kSubnet + kWith, "");
    bad.withoutConnection = RedisConnection::open(Endpoint{kScratch, 6379}, Timeouts{500ms, 10000ms}, kPassword, false);
    bad.withConnection = RedisConnection::open(Endpoint{kSubnet + kWith, 6379}, Timeouts{500ms, 10000ms}, kPassword, false);
    bad.live = RedisConnection::open(Endpoint{host(0), 6379}, Timeouts{500ms, 10000ms}, kPassword, false);
    std::ostringstream log;
    EXPECT_EQ(printCommandLog(spool_, LogFilter{std::nullopt, std::nullopt, "flushall"}, *bad.withoutConnection, log), 1u) << log.str();
    std::smatch line;
    const std::string text = log.str();
    EXPECT_TRUE(std::regex_search(text, line, std::regex("\\n\\S+\\t(\\d+)\\t0\\tFLUSHALL\\t\\n"))) << text;
    bad.request.directory = spool_;
    bad.request.base = emptyBase();
    if (!line.empty()) bad.request.skip = {std::stoull(line[1])};
    // Small batches, so the difference goes in many scripts, each checked and applied on its own.
    bad.request.batchKeys = 7;
    return bad;
}

TEST_F(ArchiveTest, UndoLeavesOutTheBadCommandAndKeepsEveryWriteBeforeAndAfterIt) {
    BadFlush bad = archivedBadFlush();
    ASSERT_FALSE(bad.request.skip.empty());
    const UndoResult done = undo(bad.request, bad.servers(), [](const std::string&) {});
    EXPECT_EQ(done.skippedCommands, 1u);
    EXPECT_GT(done.keysSet, 250u);
    EXPECT_EQ(done.scripts, (done.keysSet + done.keysDeleted + 6) / 7);
    EXPECT_LE(done.held, done.heldTotal);
    EXPECT_GE(done.replicasConfirmed, 1);
    EXPECT_EQ(digestOf(host(0)), digestOf(kSubnet + kReference));
    EXPECT_EQ(call(host(0), {"GET", "good:counter"}).str, call(kSubnet + kReference, {"GET", "good:counter"}).str);
    // A replica follows the transaction like any write.
    ASSERT_TRUE(waitUntil([&] { return digestOf(host(1)) == digestOf(host(0)); }, 10s));
}

// A client writes one of the keys the undo is about to bring back, after the undo compared and
// before its scripts run (from its log, as the scripts start). The script holding that key
// changes nothing; undo catches up with the archive, compares again and applies the rest. The
// client's write is kept, and every other key is undone. (The key is in any of the batches: in
// a later one, the batches before it stay applied and match on the second comparison.)
TEST_F(ArchiveTest, UndoKeepsAWriteThatLandsWhileItsScriptsRunAndAppliesTheRest) {
    BadFlush bad = archivedBadFlush();
    ASSERT_FALSE(bad.request.skip.empty());
    std::vector<std::string> lines;
    bool written = false;
    const UndoResult done = undo(bad.request, bad.servers(), [&](const std::string& line) {
        lines.push_back(line);
        if (line.find("differ; applying") != std::string::npos && !written) {
            for (const auto& at : {host(0), kSubnet + kReference}) call(at, {"SET", "good:150", "written during the undo"});
            written = true;
        }
    });
    const auto overtaken = std::count_if(lines.begin(), lines.end(), [](const std::string& l) { return l.find("was written after offset") != std::string::npos; });
    EXPECT_EQ(overtaken, 1) << ::testing::PrintToString(lines);
    EXPECT_GE(done.attempts, 2);
    EXPECT_GE(done.replicasConfirmed, 1);
    EXPECT_EQ(call(host(0), {"GET", "good:150"}).str, "written during the undo");
    EXPECT_EQ(digestOf(host(0)), digestOf(kSubnet + kReference));
}

// The undo's writes are on the master but no replica acknowledges them (both stopped as the
// scripts start): a failover now would lose them, so undo fails and says what to check.
TEST_F(ArchiveTest, UndoFailsSayingSoWhenNoReplicaConfirmsItsWrites) {
    BadFlush bad = archivedBadFlush();
    ASSERT_FALSE(bad.request.skip.empty());
    bad.request.replicatedWait = 1000ms;
    std::string failure;
    try {
        undo(bad.request, bad.servers(), [&](const std::string& line) {
            if (line.find("differ; applying") != std::string::npos) {
                for (int replica : {1, 2}) ASSERT_TRUE(servers_[replica].stop(5s));
            }
        });
    } catch (const std::runtime_error& e) {
        failure = e.what();
    }
    for (int replica : {1, 2}) servers_[replica].signal(SIGCONT);
    EXPECT_NE(failure.find("were written on the master in"), std::string::npos) << failure;
    EXPECT_NE(failure.find("no replica confirmed them within 1000 ms"), std::string::npos) << failure;
    EXPECT_NE(failure.find("check the keys on the current master"), std::string::npos) << failure;
    // What it wrote stays: the master holds the undone state.
    EXPECT_EQ(digestOf(host(0)), digestOf(kSubnet + kReference));
}

TEST_F(ArchiveTest, UndoRefusesAnOffsetWhereNoArchivedCommandEnds) {
    startArchiver();
    ASSERT_TRUE(waitUntil([&] { return !listGaps(spool_).empty(); }, 10s));
    writeMix(host(0), "a:", 50);
    waitArchived(host(0));
    Process scratch = startServer(kScratch, "");
    Process withServer = startServer(kSubnet + "10", "");
    auto without = RedisConnection::open(Endpoint{kScratch, 6379}, Timeouts{500ms, 10000ms}, kPassword, false);
    auto with = RedisConnection::open(Endpoint{kSubnet + "10", 6379}, Timeouts{500ms, 10000ms}, kPassword, false);
    auto live = RedisConnection::open(Endpoint{host(0), 6379}, Timeouts{500ms, 10000ms}, kPassword, false);
    const std::string before = digestOf(host(0));
    UndoRequest request;
    request.directory = spool_;
    request.base = emptyBase();
    request.skip = {request.base.position.offset + 1};
    EXPECT_THROW(undo(request, UndoServers{*without, *with, *live}, [](const std::string&) {}), RestoreRefused);
    EXPECT_EQ(digestOf(host(0)), before);
}

TEST_F(ArchiveTest, UndoScriptChangesNothingWhenAKeyWasWrittenSinceTheReplay) {
    call(host(0), {"SET", "kept", "new"});
    call(host(0), {"SET", "target", "bad"});
    const std::string dumpOf = call(host(0), {"DUMP", "target"}).str;
    const std::string bad = dumpOf.substr(0, dumpOf.size() - 10);
    call(host(0), {"SET", "source", "good"});
    const std::string good = call(host(0), {"DUMP", "source"}).str;
    // "kept" is expected to hold "old" (the replay's view) but holds "new": nothing may change.
    const std::string keptDump = call(host(0), {"DUMP", "kept"}).str;
    const Reply refused = call(host(0), {"EVAL", scripts::kUndoApply, "2", "target", "kept", "0", bad, "set", "0", good, "0", "old", "del", "0", ""});
    ASSERT_EQ(refused.type, Reply::Type::Array) << refused.str;
    EXPECT_EQ(refused.elements[0].integer, 0);
    EXPECT_EQ(refused.elements[1].integer, 2);
    EXPECT_EQ(call(host(0), {"GET", "target"}).str, "bad");
    EXPECT_EQ(call(host(0), {"GET", "kept"}).str, "new");
    // With what it holds now, both change: one RESTOREd, one deleted.
    const Reply applied = call(host(0), {"EVAL", scripts::kUndoApply, "2", "target", "kept", "0", bad, "set", "0", good, "0",
                                         keptDump.substr(0, keptDump.size() - 10), "del", "0", ""});
    ASSERT_EQ(applied.type, Reply::Type::Array) << applied.str;
    EXPECT_EQ(applied.elements[0].integer, 1);
    EXPECT_EQ(call(host(0), {"GET", "target"}).str, "good");
    EXPECT_EQ(call(host(0), {"EXISTS", "kept"}).integer, 0);
}
