#include "redisdr/command_batch.hpp"

namespace redisdr {

namespace {

// Maps an error reply that means "this is not a usable master right now" to an ErrorKind.
// Such commands were not executed, so retrying them is always safe.
std::optional<ErrorKind> redirectingError(const Reply& reply) {
    if (!reply.isError()) return std::nullopt;
    const auto code = reply.errorCode();
    if (code == "READONLY" || code == "MASTERDOWN") return ErrorKind::NotMaster;
    if (code == "LOADING") return ErrorKind::Loading;
    if (code == "NOREPLICAS") return ErrorKind::NoReplicas;
    if (code == "NOAUTH" || code == "WRONGPASS") return ErrorKind::RedisAuth;
    return std::nullopt;
}

// The WAIT all REQUESTS end with, if there are at least two and it is the same for all.
std::optional<std::vector<std::string>> commonWait(const std::vector<const Commands*>& requests) {
    if (requests.size() < 2) return std::nullopt;
    const auto& first = requests.front()->back();
    if (first.empty() || first.front() != "WAIT") return std::nullopt;
    for (const auto* commands : requests) {
        if (commands->size() < 2 || commands->back() != first) return std::nullopt;
    }
    return first;
}

}  // namespace

std::optional<RedisError> redirectionIn(const Reply& reply, const Endpoint& from) {
    if (auto kind = redirectingError(reply)) return RedisError(*kind, reply.str + " from " + from.str());
    return std::nullopt;
}

CommandBatch::CommandBatch(const std::vector<const Commands*>& requests) : sharedWait_(commonWait(requests)) {
    own_.reserve(requests.size());
    for (const auto* commands : requests) {
        own_.push_back(commands->size() - (sharedWait_ ? 1 : 0));
        replyCount_ += own_.back();
    }
    if (sharedWait_) ++replyCount_;
}

std::vector<const std::vector<std::string>*> CommandBatch::wire(const std::vector<const Commands*>& requests) const {
    std::vector<const std::vector<std::string>*> out;
    out.reserve(replyCount_);
    for (std::size_t r = 0; r < requests.size(); ++r) {
        for (std::size_t i = 0; i < own_[r]; ++i) out.push_back(&(*requests[r])[i]);
    }
    if (sharedWait_) out.push_back(&*sharedWait_);
    return out;
}

CommandBatch::Split CommandBatch::split(std::vector<Reply> replies, const std::optional<RedisError>& lost, const Endpoint& from) const {
    Split result;
    result.attempts.resize(own_.size());
    const bool waitArrived = !sharedWait_ || replies.size() == replyCount_;
    std::size_t at = 0;
    for (std::size_t r = 0; r < own_.size(); ++r) {
        Attempt& attempt = result.attempts[r];
        attempt.sent = true;
        const bool complete = at + own_[r] <= replies.size() && waitArrived;
        if (!complete) {
            attempt.error = lost ? lost : RedisError(ErrorKind::Io, "fewer replies than commands from " + from.str());
            at += own_[r];
            continue;
        }
        attempt.replies.reserve(own_[r] + (sharedWait_ ? 1 : 0));
        for (std::size_t i = 0; i < own_[r]; ++i) attempt.replies.push_back(std::move(replies[at + i]));
        if (sharedWait_) attempt.replies.push_back(replies.back());
        at += own_[r];
        for (const auto& reply : attempt.replies) {
            if ((attempt.error = redirectionIn(reply, from))) {
                result.redirected = true;
                break;
            }
        }
    }
    return result;
}

}  // namespace redisdr
