#include "archive/stream_units.hpp"

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <strings.h>

namespace redisdr::archive {

bool isCommand(const StreamCommand& command, const char* name) { return strcasecmp(command.argv[0].c_str(), name) == 0; }

bool isFraming(const StreamCommand& command) {
    return isCommand(command, "SELECT") || isCommand(command, "MULTI") || isCommand(command, "EXEC") || isLinkCommand(command.argv);
}

bool changesData(const StreamCommand& command) {
    return !isFraming(command) && !isCommand(command, "PUBLISH") && !isCommand(command, "SPUBLISH");
}

bool touchesUnnamedKeys(const StreamCommand& command) {
    return isCommand(command, "FLUSHALL") || isCommand(command, "FLUSHDB") || isCommand(command, "SWAPDB");
}

namespace {

std::int64_t arrivalOf(const SegmentInfo& segment, std::uint64_t endOffset) {
    for (const auto& mark : segment.marks) {
        if (mark.offset >= endOffset) return mark.atMs;
    }
    return segment.lastAtMs;
}

}  // namespace

void forEachUnit(const std::vector<SegmentInfo>& segments, const std::string& directory, std::uint64_t fromOffset, std::uint64_t stopOffset,
                 const std::function<void(StreamUnit&)>& onUnit, const std::function<void()>& onSegment) {
    for (const auto& segment : segments) {
        if (segment.startOffset >= stopOffset) break;
        if (segment.endOffset <= fromOffset) continue;
        int db = segment.dbAtStart;
        std::ifstream in(directory + "/" + segment.name + ".resp", std::ios::binary);
        if (!in) throw std::runtime_error("segment " + segment.name + ".resp is missing");
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (bytes.size() != segment.endOffset - segment.startOffset) {
            throw std::runtime_error("segment " + segment.name + " holds " + std::to_string(bytes.size()) + " bytes, its manifest says " +
                                     std::to_string(segment.endOffset - segment.startOffset));
        }
        CommandStream stream(segment.startOffset);
        stream.feed(bytes.data(), bytes.size());
        StreamUnit unit;
        StreamCommand command;
        while (stream.next(command) && command.endOffset <= stopOffset) {
            const bool opensOrContinues = !unit.commands.empty() || isCommand(command, "MULTI");
            if (isCommand(command, "SELECT") && command.argv.size() == 2) db = std::stoi(command.argv[1]);
            unit.commands.push_back({std::move(command), db});
            if (opensOrContinues && !isCommand(unit.commands.back().command, "EXEC")) continue;
            unit.endOffset = unit.commands.back().command.endOffset;
            if (unit.endOffset > fromOffset) {
                unit.atMs = arrivalOf(segment, unit.endOffset);
                onUnit(unit);
            }
            unit = StreamUnit{};
        }
        if (onSegment) onSegment();
    }
}

}  // namespace redisdr::archive
