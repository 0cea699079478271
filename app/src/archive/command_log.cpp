#include "archive/command_log.hpp"

#include <algorithm>
#include <fnmatch.h>
#include <limits>
#include <strings.h>
#include <vector>

#include "archive/command_keys.hpp"
#include "archive/restore_plan.hpp"
#include "archive/stream_units.hpp"

namespace redisdr::archive {

namespace {

struct Line {
    std::int64_t atMs;
    std::uint64_t offset;
    int db;
    std::vector<std::string> argv;
};

class LogPrinter {
public:
    LogPrinter(const LogFilter& filter, RedisConnection& keyServer, std::ostream& out) : filter_(filter), keyServer_(keyServer), out_(out) {}

    void add(const StreamUnit& unit) {
        if (filter_.sinceMs && unit.atMs < *filter_.sinceMs) return;
        if (filter_.untilMs && unit.atMs > *filter_.untilMs) return;
        for (const auto& c : unit.commands) {
            if (!isFraming(c.command)) pending_.push_back({unit.atMs, unit.endOffset, c.db, c.command.argv});
        }
        if (pending_.size() >= 1000) flush();
    }

    void flush() {
        std::vector<const std::vector<std::string>*> commands;
        for (const auto& line : pending_) commands.push_back(&line.argv);
        const auto keys = keysOf(keyServer_, commands);
        for (std::size_t i = 0; i < pending_.size(); i++) {
            const Line& line = pending_[i];
            if (!matches(line.argv[0], keys[i])) continue;
            std::string name = line.argv[0];
            std::transform(name.begin(), name.end(), name.begin(), ::toupper);
            out_ << formatMs(line.atMs) << '\t' << line.offset << '\t' << line.db << '\t' << name << '\t';
            for (std::size_t k = 0; k < keys[i].size(); k++) out_ << (k ? " " : "") << printable(keys[i][k]);
            out_ << '\n';
            printed++;
        }
        pending_.clear();
    }

    std::uint64_t printed = 0;

private:
    bool matches(const std::string& name, const std::vector<std::string>& keys) const {
        if (filter_.match.empty() || strcasecmp(name.c_str(), filter_.match.c_str()) == 0) return true;
        return std::any_of(keys.begin(), keys.end(), [&](const std::string& key) { return fnmatch(filter_.match.c_str(), key.c_str(), 0) == 0; });
    }

    const LogFilter& filter_;
    RedisConnection& keyServer_;
    std::ostream& out_;
    std::vector<Line> pending_;
};

}  // namespace

std::uint64_t printCommandLog(const std::string& directory, const LogFilter& filter, RedisConnection& keyServer, std::ostream& out) {
    auto segments = listSegments(directory);
    std::sort(segments.begin(), segments.end(), [](const auto& a, const auto& b) { return a.startOffset < b.startOffset; });
    // Only segments that may hold a command in the time range are read.
    segments.erase(std::remove_if(segments.begin(), segments.end(),
                                  [&](const SegmentInfo& s) {
                                      return (filter.sinceMs && s.lastAtMs < *filter.sinceMs) || (filter.untilMs && s.firstAtMs > *filter.untilMs);
                                  }),
                   segments.end());
    out << "time\toffset\tdb\tcommand\tkeys\n";
    LogPrinter printer(filter, keyServer, out);
    forEachUnit(segments, directory, 0, std::numeric_limits<std::uint64_t>::max(), [&](StreamUnit& unit) { printer.add(unit); });
    printer.flush();
    return printer.printed;
}

}  // namespace redisdr::archive
