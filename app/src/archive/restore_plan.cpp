#include "archive/restore_plan.hpp"

#include <algorithm>
#include <ctime>
#include <iomanip>
#include <sstream>

namespace redisdr::archive {

std::string formatMs(std::int64_t epochMs) {
    const std::time_t seconds = static_cast<std::time_t>(epochMs / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    std::ostringstream out;
    out << std::put_time(&utc, "%Y-%m-%dT%H:%M:%S") << '.' << std::setw(3) << std::setfill('0') << (epochMs % 1000) << 'Z';
    return out.str();
}

namespace {

std::string describe(const CoveredWindow& w) {
    std::string text = "the archive covers offsets " + std::to_string(w.startOffset) + ".." + std::to_string(w.endOffset);
    if (w.endAtMs > 0) text += ", up to " + formatMs(w.endAtMs);
    return text + " (" + w.endsBecause + ")";
}

}  // namespace

std::string describeCrossedGap(const CrossedGap& gap) {
    return "crossed a gap (a full resync recorded at " + formatMs(gap.recordedAtMs) + "): nothing is archived from offset " +
           std::to_string(gap.lastOffset) + " (the last command before it, received at " + formatMs(gap.lastAtMs) + ") to offset " +
           std::to_string(gap.resumeOffset) + " (the next, at " + formatMs(gap.resumeAtMs) +
           "): writes received between are missing, and later commands on their keys were replayed without them";
}

RestorePlan planRestore(std::vector<SegmentInfo> segments, const std::vector<GapInfo>& gaps, const BasePoint& base,
                        std::optional<std::int64_t> untilMs, GapPolicy gapPolicy) {
    std::sort(segments.begin(), segments.end(), [](const auto& a, const auto& b) { return a.startOffset < b.startOffset; });
    RestorePlan plan;
    plan.base = base;
    const std::uint64_t from = base.position.offset;
    auto it = std::find_if(segments.begin(), segments.end(), [&](const auto& s) { return s.endOffset > from; });
    if (it == segments.end() || it->startOffset > from) {
        const std::string next = it == segments.end() ? "none after it" : "the next starts at " + std::to_string(it->startOffset);
        throw RestoreRefused("no archived segment continues the base at offset " + std::to_string(from) + " (" + next + ")");
    }
    const bool sameHistory = it->replicationId == base.position.replicationId ||
                             (it->startOffset == from && it->previousReplicationId == base.position.replicationId);
    if (!sameHistory) {
        throw RestoreRefused("the segment holding offset " + std::to_string(from) + " belongs to replication id " + it->replicationId +
                             ", not the base's " + base.position.replicationId);
    }
    plan.window = {from, from, 0, "the newest segment"};
    std::vector<CrossedGap> crossed;
    for (; it != segments.end(); ++it) {
        if (!plan.segments.empty()) {
            const SegmentInfo& last = plan.segments.back();
            const bool follows = it->startOffset == last.endOffset &&
                                 (it->replicationId == last.replicationId || it->previousReplicationId == last.replicationId);
            if (!follows) {
                const auto gap = std::find_if(gaps.begin(), gaps.end(), [&](const GapInfo& g) { return g.from.offset >= last.endOffset; });
                // Where the archiver continued after this gap: the segment it began there.
                const bool resumesHere = gap != gaps.end() && gap->to.offset == it->startOffset && gap->to.replicationId == it->replicationId &&
                                         it->startOffset > last.endOffset;
                if (gapPolicy == GapPolicy::Cross && resumesHere) {
                    crossed.push_back({last.endOffset, last.lastAtMs, it->startOffset, it->firstAtMs, gap->atMs});
                } else {
                    plan.window.endsBecause = gap != gaps.end() ? "a gap: full resync at " + formatMs(gap->atMs)
                                                                : "segment " + it->name + " does not follow " + last.name;
                    break;
                }
            }
        }
        plan.segments.push_back(*it);
        plan.window.endOffset = it->endOffset;
        plan.window.endAtMs = it->lastAtMs;
    }
    plan.stopOffset = from;
    if (untilMs) {
        // The base holds every command up to its offset: if one of them arrived after the time
        // asked for, this base is too new for it (an older base may do).
        for (const auto& segment : plan.segments) {
            for (const auto& mark : segment.marks) {
                if (mark.offset <= from && mark.atMs > *untilMs) {
                    throw RestoreRefused("the base at offset " + std::to_string(from) + " already holds a command received at " + formatMs(mark.atMs) +
                                         ", after " + formatMs(*untilMs) + ": restore from an older base");
                }
            }
        }
    }
    for (const auto& segment : plan.segments) {
        for (const auto& mark : segment.marks) {
            if (mark.offset <= from) continue;
            if (untilMs && mark.atMs > *untilMs) break;
            plan.stopOffset = mark.offset;
            plan.stopAtMs = mark.atMs;
        }
    }
    if (untilMs && *untilMs > plan.window.endAtMs) {
        const bool atGap = plan.window.endsBecause.rfind("a gap", 0) == 0;
        throw RestoreRefused("cannot restore to " + formatMs(*untilMs) + ": " + describe(plan.window) +
                             (atGap ? "; --allow-gap replays across it, without what it left out" : ""));
    }
    while (!plan.segments.empty() && plan.segments.back().startOffset >= plan.stopOffset && plan.segments.size() > 1) plan.segments.pop_back();
    for (const auto& gap : crossed) {
        if (gap.resumeOffset < plan.stopOffset) plan.crossedGaps.push_back(gap);
    }
    return plan;
}

RestorePlan cutAtOffset(RestorePlan plan, std::uint64_t offset) {
    if (offset < plan.base.position.offset) {
        throw RestoreRefused("offset " + std::to_string(offset) + " lies before the base at " + std::to_string(plan.base.position.offset));
    }
    if (offset > plan.window.endOffset) throw RestoreRefused("cannot replay to offset " + std::to_string(offset) + ": " + describe(plan.window));
    plan.stopOffset = offset;
    plan.stopAtMs = 0;
    for (const auto& segment : plan.segments) {
        for (const auto& mark : segment.marks) {
            if (mark.offset > offset) break;
            plan.stopAtMs = mark.atMs;
        }
    }
    while (plan.segments.size() > 1 && plan.segments.back().startOffset >= offset) plan.segments.pop_back();
    return plan;
}

}  // namespace redisdr::archive
