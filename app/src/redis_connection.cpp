#include "redisdr/redis_connection.hpp"

#include <hiredis/hiredis.h>
#include <poll.h>

#include <algorithm>
#include <new>

#include "redisdr/errors.hpp"

namespace redisdr {

namespace {

timeval toTimeval(std::chrono::milliseconds ms) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
    return tv;
}

Reply copyReply(const redisReply* r) {
    Reply out;
    switch (r->type) {
        case REDIS_REPLY_STRING: out.type = Reply::Type::String; out.str.assign(r->str, r->len); break;
        case REDIS_REPLY_STATUS: out.type = Reply::Type::Status; out.str.assign(r->str, r->len); break;
        case REDIS_REPLY_ERROR: out.type = Reply::Type::Error; out.str.assign(r->str, r->len); break;
        case REDIS_REPLY_INTEGER: out.type = Reply::Type::Integer; out.integer = r->integer; break;
        case REDIS_REPLY_ARRAY:
            out.type = Reply::Type::Array;
            out.elements.reserve(r->elements);
            for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(copyReply(r->element[i]));
            break;
        default: out.type = Reply::Type::Nil; break;
    }
    return out;
}

struct ReplyDeleter {
    void operator()(void* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<void, ReplyDeleter>;

// A command's arguments as hiredis' *Argv functions take them, pointing into ARGV.
struct ArgvView {
    explicit ArgvView(const std::vector<std::string>& argv) {
        args.reserve(argv.size());
        lengths.reserve(argv.size());
        for (const auto& a : argv) {
            args.push_back(a.data());
            lengths.push_back(a.size());
        }
    }
    int count() const { return static_cast<int>(args.size()); }
    std::vector<const char*> args;
    std::vector<size_t> lengths;
};

}  // namespace

std::string Reply::errorCode() const {
    if (type != Type::Error) return "";
    return str.substr(0, str.find(' '));
}

RedisConnection::RedisConnection(redisContext* context, Endpoint endpoint)
    : context_(context), endpoint_(std::move(endpoint)) {}

RedisConnection::~RedisConnection() {
    if (context_ != nullptr) redisFree(context_);
}

bool RedisConnection::broken() const { return broken_; }

int RedisConnection::releaseSocket() {
    if (broken_ || context_->obuf == nullptr || sdslen(context_->obuf) != 0 || context_->reader->pos != context_->reader->len) {
        throw RedisError(ErrorKind::Io, "connection to " + endpoint_.str() + " is mid-command; its socket cannot be handed over");
    }
    const int fd = redisFreeKeepFd(context_);
    context_ = nullptr;
    broken_ = true;
    return fd;
}

int RedisConnection::fd() const { return context_ == nullptr ? -1 : context_->fd; }

void RedisConnection::failIo(const std::string& what) {
    broken_ = true;
    throw RedisError(ErrorKind::Io, what + " " + endpoint_.str() + ": " +
                                        (context_->err != 0 ? context_->errstr : "connection lost"));
}

std::unique_ptr<RedisConnection> RedisConnection::open(const Endpoint& endpoint, const Timeouts& timeouts,
                                                       const std::string& password, bool sentinel, const std::string& username) {
    // redisConnectWithTimeout bounds only the connect; the command timeout is set separately below.
    const bool unixSocket = endpoint.isUnixSocket();
    redisContext* raw = unixSocket ? redisConnectUnixWithTimeout(endpoint.host.c_str(), toTimeval(timeouts.connect))
                                   : redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, toTimeval(timeouts.connect));
    if (raw == nullptr) throw RedisError(ErrorKind::Connect, "cannot allocate a connection to " + endpoint.str());
    std::unique_ptr<RedisConnection> conn(new RedisConnection(raw, endpoint));
    if (raw->err != 0) throw RedisError(ErrorKind::Connect, "connect to " + endpoint.str() + ": " + raw->errstr);
    if (redisSetTimeout(raw, toTimeval(timeouts.command)) != REDIS_OK || (!unixSocket && redisEnableKeepAlive(raw) != REDIS_OK)) {
        throw RedisError(ErrorKind::Connect, "configure connection to " + endpoint.str() + ": " + raw->errstr);
    }
    if (!password.empty()) {
        Reply reply = username.empty() ? conn->command({"AUTH", password}) : conn->command({"AUTH", username, password});
        if (reply.isError()) {
            throw RedisError(sentinel ? ErrorKind::SentinelAuth : ErrorKind::RedisAuth,
                             std::string(sentinel ? "Sentinel " : "Redis ") + endpoint.str() +
                                 " refused authentication: " + reply.str);
        }
    }
    return conn;
}

Reply RedisConnection::command(const std::vector<std::string>& argv) {
    if (broken_) throw RedisError(ErrorKind::Io, "connection to " + endpoint_.str() + " is broken");
    ArgvView view(argv);
    ReplyPtr reply(redisCommandArgv(context_, view.count(), view.args.data(), view.lengths.data()));
    if (!reply) failIo(argv.empty() ? "command" : argv.front());
    return copyReply(static_cast<redisReply*>(reply.get()));
}

void RedisConnection::pipeline(const std::vector<const std::vector<std::string>*>& commands, std::vector<Reply>& replies) {
    if (broken_) throw RedisError(ErrorKind::Io, "connection to " + endpoint_.str() + " is broken");
    for (const auto* argv : commands) {
        ArgvView view(*argv);
        if (redisAppendCommandArgv(context_, view.count(), view.args.data(), view.lengths.data()) != REDIS_OK) failIo("append");
    }
    for (std::size_t i = 0; i < commands.size(); ++i) {
        void* raw = nullptr;
        if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) failIo("pipeline");
        ReplyPtr reply(raw);
        replies.push_back(copyReply(static_cast<redisReply*>(reply.get())));
    }
}

void RedisConnection::setCommandTimeout(std::chrono::milliseconds timeout) {
    if (broken_) return;
    if (redisSetTimeout(context_, toTimeval(std::max(timeout, std::chrono::milliseconds(1)))) != REDIS_OK) failIo("set timeout");
}

bool RedisConnection::readPush(std::chrono::milliseconds wait, Reply& out) {
    if (broken_) throw RedisError(ErrorKind::Io, "connection to " + endpoint_.str() + " is broken");
    void* raw = nullptr;
    // A reply may already be buffered from an earlier read.
    if (redisGetReplyFromReader(context_, &raw) != REDIS_OK) failIo("read");
    if (raw == nullptr) {
        pollfd pfd{context_->fd, POLLIN, 0};
        int ready = ::poll(&pfd, 1, static_cast<int>(wait.count()));
        if (ready == 0) return false;
        if (ready < 0) failIo("poll");
        if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) failIo("read");
    }
    ReplyPtr reply(raw);
    out = copyReply(static_cast<redisReply*>(reply.get()));
    return true;
}

void appendCommand(std::string& out, const std::vector<std::string>& argv) {
    ArgvView view(argv);
    char* command = nullptr;
    const int length = redisFormatCommandArgv(&command, view.count(), view.args.data(), view.lengths.data());
    if (length < 0 || command == nullptr) throw std::bad_alloc();
    out.append(command, static_cast<std::size_t>(length));
    redisFreeCommand(command);
}

ReplyReader::ReplyReader() : reader_(redisReaderCreate()) {
    if (reader_ == nullptr) throw std::bad_alloc();
}

ReplyReader::~ReplyReader() { redisReaderFree(reader_); }

void ReplyReader::feed(const char* data, std::size_t size) {
    if (redisReaderFeed(reader_, data, size) != REDIS_OK) throw RedisError(ErrorKind::Io, "cannot buffer a reply");
}

bool ReplyReader::next(Reply& out) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) throw RedisError(ErrorKind::Io, std::string("protocol error: ") + reader_->errstr);
    if (raw == nullptr) return false;
    ReplyPtr reply(raw);
    out = copyReply(static_cast<redisReply*>(reply.get()));
    return true;
}

}  // namespace redisdr
