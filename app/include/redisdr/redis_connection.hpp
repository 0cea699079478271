#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "redisdr/endpoint.hpp"

struct redisContext;
struct redisReader;

namespace redisdr {

// A reply copied out of hiredis, so callers never hold hiredis memory.
struct Reply {
    enum class Type { String, Array, Integer, Nil, Status, Error };
    Type type = Type::Nil;
    std::string str;  // String, Status, Error
    long long integer = 0;
    std::vector<Reply> elements;

    bool isError() const { return type == Type::Error; }
    bool isNil() const { return type == Type::Nil; }
    // "ERR", "READONLY", "LOADING", ... for error replies.
    std::string errorCode() const;
};

struct Timeouts {
    std::chrono::milliseconds connect{500};
    std::chrono::milliseconds command{1000};
};

// One hiredis connection, owned (RAII). Not thread-safe; unusable after any
// I/O error (hiredis contexts cannot be reused), which `broken()` reports.
class RedisConnection {
public:
    // Connects, sets the command timeout and TCP keepalive, and AUTHs if a password is given
    // (as USERNAME when one is, else as the default user). Throws RedisError (Connect, Io, or
    // authKind on a refused password).
    static std::unique_ptr<RedisConnection> open(const Endpoint& endpoint, const Timeouts& timeouts,
                                                 const std::string& password, bool sentinel, const std::string& username = "");
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    // Sends one command and waits for its reply (bounded by the command timeout).
    // Error replies are returned, not thrown; I/O failures throw RedisError(Io).
    Reply command(const std::vector<std::string>& argv);

    // Sends every command in one write, then reads their replies in order into `replies`
    // (appended), each bounded by the command timeout. On an I/O failure it throws
    // RedisError(Io) with the replies read so far already in `replies`.
    void pipeline(const std::vector<const std::vector<std::string>*>& commands, std::vector<Reply>& replies);

    // Bounds the next commands' wait for a reply (the caller's time left, never longer than
    // the timeout the connection was opened with).
    void setCommandTimeout(std::chrono::milliseconds timeout);

    // Reads the next pushed message (pub/sub) into `out` if one is buffered or arrives within
    // `wait`, and returns true; returns false when none came. I/O failures throw RedisError(Io).
    bool readPush(std::chrono::milliseconds wait, Reply& out);

    bool broken() const;
    // The socket, for polling several connections (Sentinel subscriptions) at once.
    int fd() const;
    // Gives the socket to the caller, who must close it (an event loop that carries on the
    // conversation). Only between commands: nothing may be buffered. The connection is then broken.
    int releaseSocket();
    const Endpoint& endpoint() const { return endpoint_; }
    std::uint64_t generation = 0;  // set by the pool: which master epoch this connection belongs to

private:
    RedisConnection(redisContext* context, Endpoint endpoint);
    [[noreturn]] void failIo(const std::string& what);
    redisContext* context_;
    Endpoint endpoint_;
    bool broken_ = false;
};

// The RESP encoding of a command, appended to OUT (hiredis' formatter).
void appendCommand(std::string& out, const std::vector<std::string>& argv);

// Replies parsed from bytes read off a socket by someone else (hiredis' reader), in order.
class ReplyReader {
public:
    ReplyReader();
    ~ReplyReader();
    ReplyReader(const ReplyReader&) = delete;
    ReplyReader& operator=(const ReplyReader&) = delete;

    void feed(const char* data, std::size_t size);
    // The next whole reply, if one has arrived. Throws RedisError(Io) on a protocol error.
    bool next(Reply& out);

private:
    redisReader* reader_;
};

}  // namespace redisdr
