#pragma once

#include <stdexcept>
#include <string>

namespace redisdr {

// Why a Redis operation failed. Each kind is logged and counted separately so an
// operator can tell "no Sentinel reachable" from "master name unknown".
enum class ErrorKind {
    NoSentinelReachable,  // no Sentinel answered at all
    MasterUnknown,        // Sentinels answered but do not know the master name
    MasterDown,           // a failover is under way, or most Sentinels naming the master flag it down: do not write there
    SentinelAuth,         // a Sentinel refused our credentials
    RedisAuth,            // the master refused our credentials
    Connect,              // could not connect to the master
    NotMaster,            // the address Sentinel gave is not (or no longer) master: ROLE or READONLY
    NoReplicas,           // master refuses writes: fewer linked replicas than min-replicas-to-write
    Loading,              // master is loading its dataset
    Io,                   // connection lost or timed out mid-command
    Reply,                // Redis returned an error reply for the command itself
    Deadline,             // the request deadline passed before an answer
};

const char* errorKindName(ErrorKind kind);

// True for failures after which the master must be re-discovered through Sentinel.
bool requiresRediscovery(ErrorKind kind);

class RedisError : public std::runtime_error {
public:
    RedisError(ErrorKind kind, const std::string& message)
        : std::runtime_error(message), kind_(kind) {}
    ErrorKind kind() const { return kind_; }

private:
    ErrorKind kind_;
};

}  // namespace redisdr
