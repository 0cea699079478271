#include "redisdr/errors.hpp"

namespace redisdr {

const char* errorKindName(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::NoSentinelReachable: return "no_sentinel_reachable";
        case ErrorKind::MasterUnknown: return "master_unknown";
        case ErrorKind::MasterDown: return "master_down";
        case ErrorKind::SentinelAuth: return "sentinel_auth";
        case ErrorKind::RedisAuth: return "redis_auth";
        case ErrorKind::Connect: return "connect";
        case ErrorKind::NotMaster: return "not_master";
        case ErrorKind::NoReplicas: return "no_replicas";
        case ErrorKind::Loading: return "loading";
        case ErrorKind::Io: return "io";
        case ErrorKind::Reply: return "reply";
        case ErrorKind::Deadline: return "deadline";
    }
    return "unknown";
}

bool requiresRediscovery(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::Connect:
        case ErrorKind::NotMaster:
        case ErrorKind::NoReplicas:
        case ErrorKind::Loading:
        case ErrorKind::Io:
        case ErrorKind::RedisAuth:
            return true;
        default:
            return false;
    }
}

}  // namespace redisdr
