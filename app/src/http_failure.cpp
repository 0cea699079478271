#include "http_failure.hpp"

namespace redisdr {

namespace {

HttpFailure unavailable(const char* kind, const char* message) { return {503, kind, message, 1}; }

}  // namespace

HttpFailure failureFor(ErrorKind kind) {
    const std::string name = errorKindName(kind);
    switch (kind) {
        case ErrorKind::NoSentinelReachable:
        case ErrorKind::MasterUnknown:
        case ErrorKind::MasterDown:
        case ErrorKind::Connect:
        case ErrorKind::NotMaster:
        case ErrorKind::Io:
            return {503, name, "no Redis master reachable right now (failover or restart); retry", 1};
        case ErrorKind::NoReplicas:
            return {503, name, "the Redis master refuses writes until a replica is linked; retry", 1};
        case ErrorKind::Loading:
            return {503, name, "the Redis master is loading its data; retry", 1};
        case ErrorKind::Deadline:
            return {503, name, "no answer from Redis within the request deadline; retry", 1};
        case ErrorKind::SentinelAuth:
        case ErrorKind::RedisAuth:
            // A configuration fault, not a transient one: retrying does not help.
            return {500, name, "the service's Redis credentials were refused", 0};
        case ErrorKind::Reply:
            break;
    }
    return {500, name, "Redis refused the command", 0};
}

HttpFailure failureForReply(const std::string& code) {
    // Redis error codes: https://redis.io/docs/latest/develop/reference/protocol-spec/ (simple errors)
    // and the replies of server.c processCommand (OOM, MISCONF, READONLY, MASTERDOWN, LOADING, BUSY).
    if (code == "OOM") return {507, "oom", "Redis is at its memory limit and refuses writes", 0};
    if (code == "MISCONF") return unavailable("misconf", "Redis cannot persist to disk and refuses writes; retry");
    if (code == "READONLY" || code == "MASTERDOWN") return unavailable("not_master", "no Redis master reachable right now (failover or restart); retry");
    if (code == "LOADING") return unavailable("loading", "the Redis master is loading its data; retry");
    if (code == "BUSY") return unavailable("busy", "Redis is busy running a script; retry");
    if (code == "WRONGTYPE") return {409, "wrong_type", "the key holds a value of another type", 0};
    if (code == "ERR") return {409, "reply", "Redis refused the command for this value", 0};
    return {500, "reply", "Redis refused the command", 0};
}

HttpFailure notReplicated(long long replicas, int wanted) {
    return {503, "not_replicated",
            "written on the master, but only " + std::to_string(replicas) + " of " + std::to_string(wanted) +
                " replica(s) confirmed it in time: it may be lost in a failover; retry",
            1};
}

}  // namespace redisdr
