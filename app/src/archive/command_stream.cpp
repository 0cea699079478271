#include "archive/command_stream.hpp"

#include <stdexcept>
#include <strings.h>

namespace redisdr::archive {

namespace {

// Bulk lengths beyond this are not a stream we understand (Redis' proto-max-bulk-len is 512 MB).
constexpr long long kMaxBulk = 512LL * 1024 * 1024;
constexpr long long kMaxArgs = 1024LL * 1024;

long long parseLength(const std::string& line, char marker, long long limit) {
    if (line.size() < 2 || line[0] != marker) {
        throw std::runtime_error("replication stream: expected '" + std::string(1, marker) + "', got '" + line.substr(0, 32) + "'");
    }
    long long value = 0;
    for (std::size_t i = 1; i < line.size(); i++) {
        if (line[i] < '0' || line[i] > '9') throw std::runtime_error("replication stream: bad length '" + line.substr(0, 32) + "'");
        value = value * 10 + (line[i] - '0');
        if (value > limit) throw std::runtime_error("replication stream: length " + line.substr(1, 32) + " is out of range");
    }
    return value;
}

}  // namespace

void CommandStream::feed(const char* data, std::size_t size) {
    if (position_ > 0 && position_ >= buffer_.size() / 2) {
        buffer_.erase(0, position_);
        position_ = 0;
    }
    buffer_.append(data, size);
}

bool CommandStream::readLine(std::size_t& cursor, std::string& line) const {
    const auto end = buffer_.find("\r\n", cursor);
    if (end == std::string::npos) return false;
    line.assign(buffer_, cursor, end - cursor);
    cursor = end + 2;
    return true;
}

bool CommandStream::next(StreamCommand& out) {
    std::size_t cursor = position_;
    std::string line;
    if (!readLine(cursor, line)) return false;
    const long long count = parseLength(line, '*', kMaxArgs);
    std::vector<std::string> argv;
    argv.reserve(static_cast<std::size_t>(count));
    for (long long i = 0; i < count; i++) {
        if (!readLine(cursor, line)) return false;
        const auto length = static_cast<std::size_t>(parseLength(line, '$', kMaxBulk));
        if (buffer_.size() < cursor + length + 2) return false;
        if (buffer_.compare(cursor + length, 2, "\r\n") != 0) throw std::runtime_error("replication stream: bulk string not ended by CRLF");
        argv.emplace_back(buffer_, cursor, length);
        cursor += length + 2;
    }
    if (argv.empty()) throw std::runtime_error("replication stream: empty command");
    out.bytes = cursor - position_;
    offset_ += out.bytes;
    out.endOffset = offset_;
    out.argv = std::move(argv);
    position_ = cursor;
    return true;
}

std::string encodeCommand(const std::vector<std::string>& argv) {
    std::string out = "*" + std::to_string(argv.size()) + "\r\n";
    for (const auto& arg : argv) {
        out += "$" + std::to_string(arg.size()) + "\r\n";
        out += arg;
        out += "\r\n";
    }
    return out;
}

bool isLinkCommand(const std::vector<std::string>& argv) {
    return !argv.empty() && (strcasecmp(argv[0].c_str(), "PING") == 0 || strcasecmp(argv[0].c_str(), "REPLCONF") == 0);
}

}  // namespace redisdr::archive
