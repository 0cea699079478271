#include "archive/replication_link.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

#include "archive/command_stream.hpp"
#include "redisdr/errors.hpp"

namespace redisdr::archive {

using Clock = std::chrono::steady_clock;

std::unique_ptr<ReplicationLink> ReplicationLink::open(const Endpoint& upstream, const std::string& user, const std::string& password,
                                                       std::chrono::milliseconds timeout) {
    auto connection = RedisConnection::open(upstream, Timeouts{timeout, timeout}, password, false, user);
    // psync2: the upstream may answer +CONTINUE <new id> after a failover instead of a full sync.
    const Reply capa = connection->command({"REPLCONF", "capa", "psync2"});
    if (capa.isError()) throw RedisError(ErrorKind::Reply, "REPLCONF capa at " + upstream.str() + ": " + capa.str);
    return std::unique_ptr<ReplicationLink>(new ReplicationLink(connection->releaseSocket(), upstream, timeout));
}

ReplicationLink::ReplicationLink(int fd, Endpoint upstream, std::chrono::milliseconds timeout)
    : fd_(fd), upstream_(std::move(upstream)), timeout_(timeout) {}

ReplicationLink::~ReplicationLink() { ::close(fd_); }

void ReplicationLink::writeAll(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw RedisError(ErrorKind::Io, "write to " + upstream_.str() + ": " + std::strerror(errno));
        sent += static_cast<std::size_t>(n);
    }
}

bool ReplicationLink::waitReadable(std::chrono::milliseconds wait) {
    pollfd entry{fd_, POLLIN, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(wait.count()));
    if (ready < 0 && errno != EINTR) throw RedisError(ErrorKind::Io, std::string("poll: ") + std::strerror(errno));
    return ready > 0;
}

bool ReplicationLink::read(std::string& out, std::chrono::milliseconds wait) {
    if (!buffered_.empty()) {
        out += buffered_;
        buffered_.clear();
        return true;
    }
    if (!waitReadable(wait)) return false;
    char chunk[kReadChunk];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n == 0) throw RedisError(ErrorKind::Io, "upstream " + upstream_.str() + " closed the replication link");
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) return false;
        throw RedisError(ErrorKind::Io, "read from " + upstream_.str() + ": " + std::strerror(errno));
    }
    out.append(chunk, static_cast<std::size_t>(n));
    return true;
}

std::string ReplicationLink::readLine(Clock::time_point deadline) {
    for (;;) {
        const auto end = buffered_.find("\r\n");
        if (end != std::string::npos) {
            std::string line = buffered_.substr(0, end);
            buffered_.erase(0, end + 2);
            return line;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) throw RedisError(ErrorKind::Io, "no PSYNC answer from " + upstream_.str() + " in time");
        std::string more;
        if (read(more, left)) buffered_ += more;
        // A master preparing a full sync sends bare newlines to keep the link alive.
        while (!buffered_.empty() && buffered_[0] == '\n') buffered_.erase(0, 1);
    }
}

void ReplicationLink::readExactly(std::size_t bytes, Clock::time_point deadline) {
    std::size_t seen = 0;
    for (;;) {
        const std::size_t take = std::min(bytes - seen, buffered_.size());
        buffered_.erase(0, take);
        seen += take;
        if (seen == bytes) return;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) throw RedisError(ErrorKind::Io, "full sync RDB from " + upstream_.str() + " did not arrive in time");
        std::string more;
        if (read(more, left)) buffered_ += more;
    }
}

SyncStart ReplicationLink::start(const StreamPosition& from, std::chrono::milliseconds rdbTimeout) {
    const std::string id = from.replicationId.empty() ? "?" : from.replicationId;
    // PSYNC takes the first offset wanted: one past the last applied (replicationSetupSlaveForFullResync).
    const std::string offset = from.replicationId.empty() ? "-1" : std::to_string(from.offset + 1);
    writeAll(encodeCommand({"PSYNC", id, offset}));
    const auto deadline = Clock::now() + rdbTimeout;
    const std::string answer = readLine(deadline);
    std::istringstream words(answer);
    std::string verb;
    words >> verb;
    SyncStart result;
    if (verb == "+CONTINUE") {
        result.kind = SyncStart::Kind::Continue;
        words >> result.position.replicationId;
        if (result.position.replicationId.empty()) result.position.replicationId = from.replicationId;
        result.position.offset = from.offset;
        return result;
    }
    if (verb != "+FULLRESYNC") throw RedisError(ErrorKind::Reply, "PSYNC at " + upstream_.str() + ": " + answer);
    result.kind = SyncStart::Kind::FullResync;
    words >> result.position.replicationId >> result.position.offset;
    // The RDB as "$<length>\r\n<bytes>" (no EOF capability announced, so never the diskless marker form).
    const std::string header = readLine(deadline);
    if (header.size() < 2 || header[0] != '$') throw RedisError(ErrorKind::Reply, "full sync from " + upstream_.str() + ": bad RDB header");
    readExactly(std::stoull(header.substr(1)), deadline);
    return result;
}

void ReplicationLink::ack(std::uint64_t offset) { writeAll(encodeCommand({"REPLCONF", "ACK", std::to_string(offset)})); }

}  // namespace redisdr::archive
