#include "archive/replayer.hpp"

#include <algorithm>
#include <stdexcept>


namespace redisdr::archive {

namespace {

constexpr std::size_t kBatch = 1000;

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
                      const std::function<void(const ReplayProgress&)>& onSegment,
                      const std::function<void(const StreamUnit&, bool skipped)>& onUnit) {
    ReplayProgress progress;
    progress.offset = plan.base.position.offset;
    BatchSender sender(target);
    // Our own SELECTs, sent when the next command runs in another database than the target has
    // selected: the stream's SELECT may lie in a skipped unit or before the base.
    int targetDb = -1;
    forEachUnit(
        plan.segments, directory, plan.base.position.offset, plan.stopOffset,
        [&](StreamUnit& unit) {
            const bool skip = skipEnds.count(unit.endOffset) != 0;
            if (skip) {
                progress.skipped += unit.commands.size();
            } else {
                for (auto& c : unit.commands) {
                    if (isCommand(c.command, "SELECT") || isLinkCommand(c.command.argv)) continue;
                    if (targetDb != c.db) {
                        sender.add({"SELECT", std::to_string(c.db)});
                        targetDb = c.db;
                    }
                    sender.add(c.command.argv);
                    progress.commands++;
                }
            }
            progress.offset = unit.endOffset;
            if (onUnit) onUnit(unit, skip);
        },
        [&] {
            sender.flush();
            progress.segments++;
            onSegment(progress);
        });
    sender.flush();
    return progress;
}

}  // namespace redisdr::archive
