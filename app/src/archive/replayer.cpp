#include "archive/replayer.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <strings.h>

#include "archive/command_stream.hpp"

namespace redisdr::archive {

namespace {

constexpr std::size_t kBatch = 1000;

bool named(const StreamCommand& command, const char* name) { return strcasecmp(command.argv[0].c_str(), name) == 0; }

class BatchSender {
public:
    explicit BatchSender(RedisConnection& target) : target_(target) {}
    void add(std::vector<std::string> argv) {
        commands_.push_back(std::move(argv));
        if (commands_.size() >= kBatch) flush();
    }
    void flush() {
        if (commands_.empty()) return;
        std::vector<const std::vector<std::string>*> pointers;
        for (const auto& c : commands_) pointers.push_back(&c);
        std::vector<Reply> replies;
        target_.pipeline(pointers, replies);
        for (std::size_t i = 0; i < replies.size(); i++) {
            const Reply& reply = replies[i];
            const bool failed = reply.isError() ||
                                (reply.type == Reply::Type::Array && std::any_of(reply.elements.begin(), reply.elements.end(), [](const Reply& r) { return r.isError(); }));
            if (failed) {
                const std::string what = reply.isError() ? reply.str : "an error inside EXEC";
                throw std::runtime_error("replay: " + commands_[i][0] + " failed on the target: " + what);
            }
        }
        commands_.clear();
    }

private:
    RedisConnection& target_;
    std::vector<std::vector<std::string>> commands_;
};

}  // namespace

ReplayProgress replay(const RestorePlan& plan, const std::string& directory, RedisConnection& target, const std::set<std::uint64_t>& skipEnds,
                      const std::function<void(const ReplayProgress&)>& onSegment) {
    ReplayProgress progress;
    progress.offset = plan.base.position.offset;
    BatchSender sender(target);
    // The database the stream has selected, and the one the target has: a skipped SELECT or the
    // start of the replay needs a SELECT of our own before the next command sent.
    int streamDb = plan.segments.empty() ? 0 : plan.segments.front().dbAtStart;
    int targetDb = -1;
    for (const auto& segment : plan.segments) {
        if (segment.startOffset >= plan.stopOffset) break;
        std::ifstream in(directory + "/" + segment.name + ".resp", std::ios::binary);
        if (!in) throw std::runtime_error("replay: segment " + segment.name + ".resp is missing");
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (bytes.size() != segment.endOffset - segment.startOffset) {
            throw std::runtime_error("replay: segment " + segment.name + " holds " + std::to_string(bytes.size()) + " bytes, its manifest says " +
                                     std::to_string(segment.endOffset - segment.startOffset));
        }
        CommandStream stream(segment.startOffset);
        stream.feed(bytes.data(), bytes.size());
        std::vector<StreamCommand> unit;
        StreamCommand command;
        while (stream.next(command) && command.endOffset <= plan.stopOffset) {
            const bool opensOrContinues = !unit.empty() || named(command, "MULTI");
            unit.push_back(std::move(command));
            if (opensOrContinues && !named(unit.back(), "EXEC")) continue;
            const std::uint64_t end = unit.back().endOffset;
            const bool inBase = end <= plan.base.position.offset;
            const bool skip = !inBase && skipEnds.count(end) != 0;
            const bool send = !inBase && !skip;
            if (send && targetDb != streamDb) {
                sender.add({"SELECT", std::to_string(streamDb)});
                targetDb = streamDb;
            }
            for (auto& c : unit) {
                const bool select = named(c, "SELECT") && c.argv.size() == 2;
                if (select) streamDb = std::stoi(c.argv[1]);
                if (!send || isLinkCommand(c.argv)) continue;
                if (select) targetDb = streamDb;
                sender.add(std::move(c.argv));
                progress.commands++;
            }
            if (skip) progress.skipped += unit.size();
            progress.offset = end;
            unit.clear();
        }
        sender.flush();
        progress.segments++;
        onSegment(progress);
    }
    sender.flush();
    return progress;
}

}  // namespace redisdr::archive
