#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace redisdr::archive {

// One command of a replication stream and where it ends in the master's replication offset.
struct StreamCommand {
    std::vector<std::string> argv;
    std::uint64_t endOffset = 0;  // the offset once this command is applied
    std::size_t bytes = 0;        // its length in the stream (RESP)
};

// Splits the bytes of a replication stream into whole commands, counting offsets exactly.
// A master writes its stream to replicas as RESP arrays of bulk strings only (replicationFeedSlaves
// in redis/redis src/replication.c); anything else is a protocol error, thrown as
// std::runtime_error. Bytes of an unfinished command stay buffered until the rest arrives.
class CommandStream {
public:
    explicit CommandStream(std::uint64_t startOffset) : offset_(startOffset) {}

    void feed(const char* data, std::size_t size);
    // The next whole command, if one has arrived.
    bool next(StreamCommand& out);
    // The offset after the last whole command returned.
    std::uint64_t offset() const { return offset_; }
    // Bytes received but not yet part of a whole command.
    std::size_t pending() const { return buffer_.size() - position_; }

private:
    bool readLine(std::size_t& cursor, std::string& line) const;
    std::string buffer_;
    std::size_t position_ = 0;
    std::uint64_t offset_;
};

// The RESP encoding of argv exactly as a master writes it into the stream.
std::string encodeCommand(const std::vector<std::string>& argv);

// Commands that carry the link itself, not data: replayed nowhere.
bool isLinkCommand(const std::vector<std::string>& argv);

}  // namespace redisdr::archive
