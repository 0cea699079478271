#pragma once

#include <optional>
#include <string>
#include <vector>

#include "redisdr/endpoint.hpp"
#include "redisdr/errors.hpp"
#include "redisdr/redis_connection.hpp"

namespace redisdr {

// One request's commands, sent in order on one connection.
using Commands = std::vector<std::vector<std::string>>;

// One attempt's outcome: the replies, or the error and whether the commands may have reached Redis.
struct Attempt {
    std::vector<Reply> replies;
    std::optional<RedisError> error;
    bool sent = false;
};

// The error a reply from FROM stands for when it means "not a usable master now" (READONLY,
// LOADING, ...): that command did not run, and the connection must not be used again.
std::optional<RedisError> redirectionIn(const Reply& reply, const Endpoint& from);

// Requests sent together as one write on one connection (a carrier's batch, an I/O thread's
// pipelined write), and the split of the replies back into each request's attempt. When every
// request ends with the same WAIT and there are at least two, that WAIT is sent once after all
// their writes: it confirms each of them, since WAIT counts the replicas that acknowledged
// every write sent before it on the connection (https://redis.io/docs/latest/commands/wait/).
// Without it, a batch would wait for the replicas once per request, one after another.
class CommandBatch {
public:
    explicit CommandBatch(const std::vector<const Commands*>& requests);

    // The commands to write, in order, pointing into REQUESTS (the ones this batch was made of).
    std::vector<const std::vector<std::string>*> wire(const std::vector<const Commands*>& requests) const;
    std::size_t replyCount() const { return replyCount_; }
    bool sharesWait() const { return sharedWait_.has_value(); }

    struct Split {
        std::vector<Attempt> attempts;  // one per request, in order, each marked sent
        bool redirected = false;        // a reply said the connection is no longer a usable master
    };
    // Each request's attempt from REPLIES, in wire order. A request whose replies are all there
    // gets them (with the shared WAIT's) and is checked for redirection from FROM; one whose
    // replies are not (the connection was LOST on the way) gets that error.
    Split split(std::vector<Reply> replies, const std::optional<RedisError>& lost, const Endpoint& from) const;

private:
    std::vector<std::size_t> own_;  // each request's commands on the wire (its WAIT left out when shared)
    std::optional<std::vector<std::string>> sharedWait_;
    std::size_t replyCount_ = 0;
};

}  // namespace redisdr
