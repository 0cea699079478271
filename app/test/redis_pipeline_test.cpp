// RedisPipeline (an I/O thread's own pipelined connection) against real redis-server and
// redis-sentinel processes: what it sends, on which thread it answers, and what it does when
// the client fences, or the master stalls.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "sentinel_group.hpp"
#include "redis_pipeline.hpp"
#include "work_queue.hpp"

using namespace std::chrono_literals;
using redisdr::Attempt;
using redisdr::MasterClient;
using redisdr::RedisPipeline;
using redisdr::testing::callsOf;
using redisdr::testing::SentinelGroup;
using redisdr::testing::waitUntil;

namespace {

redisdr::ClientSettings settingsFor() {
    redisdr::ClientSettings s;
    s.sentinel.sentinels = redisdr::parseEndpointList(SentinelGroup::sentinelHosts(), SentinelGroup::kSentinelPort);
    s.sentinel.masterName = SentinelGroup::kMasterName;
    s.sentinel.password = SentinelGroup::kSentinelPassword;
    s.redisPassword = SentinelGroup::kPassword;
    s.redisTimeouts.command = 300ms;
    s.pipelineConnections = 1;
    return s;
}

struct Answer {
    std::thread::id thread;
    Attempt attempt;
};

// One event loop on its own thread, a client, and the loop's pipeline, as an I/O thread has them.
class PipelineOnALoop : public ::testing::Test {
protected:
    void SetUp() override {
        group_.start();
        master_ = group_.indexOf(group_.masterBySentinel(0));
        pipeline_ = std::make_shared<RedisPipeline>(loop_, client_, opener_);
        loopThread_ = std::thread([this] { loop_.run(); });
        loopId_ = loopThread_.get_id();
    }
    void TearDown() override {
        guard_.reset();
        loop_.stop();
        loopThread_.join();
        opener_.stop();
        client_.stopCarriers();
    }

    // Submits every command list from one handler on the loop (so they can share a write);
    // returns how many the pipeline took.
    std::size_t submit(const std::vector<std::vector<std::vector<std::string>>>& requests) {
        std::promise<std::size_t> taken;
        boost::asio::post(loop_, [&] {
            std::size_t n = 0;
            for (const auto& commands : requests) {
                const bool took = pipeline_->submit(commands, client_.deadlineFromNow(), [this](Attempt attempt) {
                    std::lock_guard<std::mutex> lock(mutex_);
                    answers_.push_back({std::this_thread::get_id(), std::move(attempt)});
                    answered_.notify_all();
                });
                if (took) ++n;
            }
            taken.set_value(n);
        });
        return taken.get_future().get();
    }
    bool awaitAnswers(std::size_t n, std::chrono::milliseconds within = 5s) {
        std::unique_lock<std::mutex> lock(mutex_);
        return answered_.wait_for(lock, within, [&] { return answers_.size() >= n; });
    }
    // Once the worker has opened the loop's connection, the pipeline takes requests.
    void connect() {
        ASSERT_TRUE(waitUntil([&] { return submit({{{"PING"}}}) == 1; }, 5s, 20ms));
        ASSERT_TRUE(awaitAnswers(1));
        std::lock_guard<std::mutex> lock(mutex_);
        answers_.clear();
    }

    SentinelGroup group_;
    int master_ = 0;
    // Declared before the client and loop: their threads may still answer while they stop.
    std::mutex mutex_;
    std::condition_variable answered_;
    std::vector<Answer> answers_;
    MasterClient client_{settingsFor()};
    redisdr::WorkQueue opener_{1, 16};
    boost::asio::io_context loop_{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ = boost::asio::make_work_guard(loop_);
    std::shared_ptr<RedisPipeline> pipeline_;
    std::thread loopThread_;
    std::thread::id loopId_;
};

}  // namespace

TEST_F(PipelineOnALoop, DeclinesUntilItsConnectionIsOpenThenAnswersOnTheLoopThread) {
    // Nothing is open yet: declined (the caller uses the carriers), and a connection is asked for.
    EXPECT_EQ(submit({{{"PING"}}}), 0U);
    connect();
    group_.redis(master_, {"SET", "kv:p", "v"});
    ASSERT_EQ(submit({{{"GET", "kv:p"}}}), 1U);
    ASSERT_TRUE(awaitAnswers(1));
    std::lock_guard<std::mutex> lock(mutex_);
    EXPECT_EQ(answers_[0].thread, loopId_);
    EXPECT_FALSE(answers_[0].attempt.error);
    EXPECT_TRUE(answers_[0].attempt.sent);
    EXPECT_EQ(answers_[0].attempt.replies.at(0).str, "v");
}

TEST_F(PipelineOnALoop, SendsWhatArrivesTogetherAsOneWriteWithOneSharedWait) {
    connect();
    const long long waitsBefore = callsOf(group_, master_, "wait");
    std::vector<std::vector<std::vector<std::string>>> requests;
    for (int i = 0; i < 100; ++i) requests.push_back({{"INCR", "counter:c"}, {"WAIT", "2", "1000"}});
    ASSERT_EQ(submit(requests), 100U);
    ASSERT_TRUE(awaitAnswers(100));
    std::lock_guard<std::mutex> lock(mutex_);
    std::set<long long> values;
    for (const auto& a : answers_) {
        EXPECT_EQ(a.thread, loopId_);
        ASSERT_FALSE(a.attempt.error) << a.attempt.error->what();
        ASSERT_EQ(a.attempt.replies.size(), 2U);
        values.insert(a.attempt.replies[0].integer);
        EXPECT_EQ(a.attempt.replies[1].integer, 2) << "each request gets the shared WAIT's count";
    }
    EXPECT_EQ(values.size(), 100U) << "every INCR ran once, in order";
    EXPECT_EQ(*values.begin(), 1);
    EXPECT_EQ(*values.rbegin(), 100);
    EXPECT_EQ(callsOf(group_, master_, "wait") - waitsBefore, 1) << "requests submitted together share one write and one WAIT";
}

TEST_F(PipelineOnALoop, HandsRequestsToTheCarriersOnceTheClientFences) {
    connect();
    client_.invalidate();  // what a +try-failover does
    group_.redis(master_, {"SET", "kv:f", "after-fence"});
    // Taken, but never written on the fenced connection: the carriers send it on a fresh one.
    ASSERT_EQ(submit({{{"GET", "kv:f"}}}), 1U);
    ASSERT_TRUE(awaitAnswers(1));
    {
        std::lock_guard<std::mutex> lock(mutex_);
        EXPECT_NE(answers_[0].thread, loopId_);
        EXPECT_FALSE(answers_[0].attempt.error);
        EXPECT_EQ(answers_[0].attempt.replies.at(0).str, "after-fence");
        answers_.clear();
    }
    // The fenced connection is closed; the next request finds none and a new one is opened.
    EXPECT_EQ(submit({{{"PING"}}}), 0U);
    connect();
}

TEST_F(PipelineOnALoop, FailsWhatItCarriesAsSentWhenTheMasterStallsPastTheCommandTimeout) {
    connect();
    const pid_t master = group_.redisPid(master_);
    ::kill(master, SIGSTOP);
    const auto started = std::chrono::steady_clock::now();
    ASSERT_EQ(submit({{{"INCR", "counter:stalled"}}, {{"INCR", "counter:stalled"}}}), 2U);
    const bool answered = awaitAnswers(2);
    const auto took = std::chrono::steady_clock::now() - started;
    ::kill(master, SIGCONT);
    ASSERT_TRUE(answered);
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 1500ms);
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& a : answers_) {
        ASSERT_TRUE(a.attempt.error);
        EXPECT_EQ(a.attempt.error->kind(), redisdr::ErrorKind::Io);
        EXPECT_TRUE(a.attempt.sent) << "it may have reached Redis: an INCR must not be repeated";
    }
}
