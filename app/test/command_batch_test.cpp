// CommandBatch: what goes on the wire for a batch of requests, and how the replies come back apart.
#include <gtest/gtest.h>

#include "redisdr/command_batch.hpp"

using redisdr::CommandBatch;
using redisdr::Commands;
using redisdr::Endpoint;
using redisdr::ErrorKind;
using redisdr::RedisError;
using redisdr::Reply;

namespace {

Reply status(const std::string& text) { return Reply{Reply::Type::Status, text, 0, {}}; }
Reply integer(long long n) { return Reply{Reply::Type::Integer, "", n, {}}; }
Reply error(const std::string& text) { return Reply{Reply::Type::Error, text, 0, {}}; }

std::vector<std::string> flat(const std::vector<const std::vector<std::string>*>& wire) {
    std::vector<std::string> out;
    for (const auto* command : wire) out.push_back(command->front() + (command->size() > 1 ? " " + (*command)[1] : ""));
    return out;
}

const Endpoint kMaster{"10.0.0.1", 6379};
const std::vector<std::string> kWait{"WAIT", "1", "500"};

}  // namespace

TEST(CommandBatch, SendsOneWaitForRequestsThatAllEndWithTheSameOne) {
    const Commands a{{"SET", "kv:a", "1"}, kWait}, b{{"INCR", "counter:b"}, kWait};
    const std::vector<const Commands*> requests{&a, &b};
    const CommandBatch batch(requests);
    EXPECT_TRUE(batch.sharesWait());
    EXPECT_EQ(flat(batch.wire(requests)), (std::vector<std::string>{"SET kv:a", "INCR counter:b", "WAIT 1"}));
    ASSERT_EQ(batch.replyCount(), 3u);

    auto split = batch.split({status("OK"), integer(7), integer(1)}, std::nullopt, kMaster);
    ASSERT_EQ(split.attempts.size(), 2u);
    EXPECT_FALSE(split.redirected);
    // Each request gets its own reply and the shared WAIT's, as if it had sent its WAIT alone.
    EXPECT_EQ(split.attempts[0].replies.size(), 2u);
    EXPECT_EQ(split.attempts[0].replies[0].str, "OK");
    EXPECT_EQ(split.attempts[0].replies[1].integer, 1);
    EXPECT_EQ(split.attempts[1].replies[0].integer, 7);
    EXPECT_EQ(split.attempts[1].replies[1].integer, 1);
    EXPECT_TRUE(split.attempts[0].sent && split.attempts[1].sent);
}

TEST(CommandBatch, KeepsEveryWaitWhenTheyDifferOrOneRequestIsAlone) {
    const Commands a{{"SET", "kv:a", "1"}, kWait}, b{{"SET", "kv:b", "2"}, {"WAIT", "2", "500"}}, c{{"GET", "kv:c"}};
    const std::vector<const Commands*> differing{&a, &b};
    EXPECT_FALSE(CommandBatch(differing).sharesWait());
    EXPECT_EQ(CommandBatch(differing).replyCount(), 4u);
    const std::vector<const Commands*> mixed{&a, &c};
    EXPECT_EQ(flat(CommandBatch(mixed).wire(mixed)), (std::vector<std::string>{"SET kv:a", "WAIT 1", "GET kv:c"}));
    const std::vector<const Commands*> alone{&a};
    EXPECT_FALSE(CommandBatch(alone).sharesWait());
}

TEST(CommandBatch, GivesTheConnectionsLossToEveryRequestWhoseRepliesDidNotAllArrive) {
    const Commands a{{"SET", "kv:a", "1"}}, b{{"SET", "kv:b", "2"}}, c{{"SET", "kv:c", "3"}};
    const std::vector<const Commands*> requests{&a, &b, &c};
    const CommandBatch batch(requests);
    const RedisError lost(ErrorKind::Io, "connection reset");
    auto split = batch.split({status("OK")}, lost, kMaster);
    EXPECT_FALSE(split.attempts[0].error);
    EXPECT_EQ(split.attempts[0].replies[0].str, "OK");
    for (std::size_t i : {1u, 2u}) {
        ASSERT_TRUE(split.attempts[i].error);
        EXPECT_EQ(split.attempts[i].error->kind(), ErrorKind::Io);
        EXPECT_TRUE(split.attempts[i].sent);  // it may have reached Redis: an unsafe command is not repeated
    }
}

TEST(CommandBatch, WithASharedWaitNoRequestIsConfirmedUnlessTheWaitArrived) {
    const Commands a{{"SET", "kv:a", "1"}, kWait}, b{{"SET", "kv:b", "2"}, kWait};
    const std::vector<const Commands*> requests{&a, &b};
    auto split = CommandBatch(requests).split({status("OK"), status("OK")}, RedisError(ErrorKind::Io, "reset"), kMaster);
    EXPECT_TRUE(split.attempts[0].error);
    EXPECT_TRUE(split.attempts[1].error);
}

TEST(CommandBatch, MarksARequestRedirectedWhenAReplySaysTheNodeIsNoLongerMaster) {
    const Commands a{{"SET", "kv:a", "1"}}, b{{"SET", "kv:b", "2"}};
    const std::vector<const Commands*> requests{&a, &b};
    auto split = CommandBatch(requests).split({status("OK"), error("READONLY You can't write against a read only replica.")}, std::nullopt, kMaster);
    EXPECT_TRUE(split.redirected);
    EXPECT_FALSE(split.attempts[0].error);
    ASSERT_TRUE(split.attempts[1].error);
    EXPECT_EQ(split.attempts[1].error->kind(), ErrorKind::NotMaster);
    // A command's own error is its answer, not a redirection.
    auto own = CommandBatch(requests).split({status("OK"), error("WRONGTYPE Operation against a key")}, std::nullopt, kMaster);
    EXPECT_FALSE(own.redirected);
    EXPECT_FALSE(own.attempts[1].error);
}
