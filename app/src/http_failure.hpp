#pragma once

#include <string>

#include "redisdr/errors.hpp"

namespace redisdr {

// What a client is told when a request cannot be served: a status, a stable kind, a fixed
// message and, where waiting helps, Retry-After. Never Redis's or an exception's own text,
// which can name pods, addresses or internals; that goes to the log.
struct HttpFailure {
    int status = 500;
    std::string kind;
    std::string message;
    int retryAfterSeconds = 0;  // 0: no Retry-After header
};

// A Redis operation that failed (no master, failover, connection, deadline, ...).
HttpFailure failureFor(ErrorKind kind);

// An error reply Redis gave to the command itself (OOM, MISCONF, WRONGTYPE, ...), by its code.
HttpFailure failureForReply(const std::string& errorCode);

// A write the master took but fewer replicas than configured confirmed within the WAIT timeout:
// it may be lost in a failover, so it is not acknowledged.
HttpFailure notReplicated(long long replicas, int wanted);

}  // namespace redisdr
