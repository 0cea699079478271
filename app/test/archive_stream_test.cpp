#include <gtest/gtest.h>

#include "archive/command_stream.hpp"
#include "archive/restore_plan.hpp"

using namespace redisdr::archive;

namespace {

std::string streamOf(const std::vector<std::vector<std::string>>& commands) {
    std::string out;
    for (const auto& c : commands) out += encodeCommand(c);
    return out;
}

SegmentInfo segment(std::uint64_t start, std::uint64_t end, const std::string& id, std::vector<TimeMark> marks, const std::string& previous = "") {
    SegmentInfo s;
    s.name = segmentName(start, id);
    s.replicationId = id;
    s.previousReplicationId = previous;
    s.startOffset = start;
    s.endOffset = end;
    s.firstAtMs = marks.front().atMs;
    s.lastAtMs = marks.back().atMs;
    s.marks = std::move(marks);
    return s;
}

}  // namespace

TEST(CommandStream, CountsOffsetsExactlyWhateverTheBytesArriveIn) {
    const std::string bytes = streamOf({{"SELECT", "0"}, {"SET", "k", std::string("v\r\n\0x", 5)}, {"PING"}});
    for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, bytes.size()}) {
        CommandStream stream(100);
        std::vector<StreamCommand> seen;
        for (std::size_t at = 0; at < bytes.size(); at += chunk) {
            stream.feed(bytes.data() + at, std::min(chunk, bytes.size() - at));
            StreamCommand command;
            while (stream.next(command)) seen.push_back(command);
        }
        ASSERT_EQ(seen.size(), 3u) << "chunk " << chunk;
        EXPECT_EQ(seen[1].argv[2], std::string("v\r\n\0x", 5));
        EXPECT_EQ(seen[0].endOffset, 100 + encodeCommand({"SELECT", "0"}).size());
        EXPECT_EQ(seen[2].endOffset, 100 + bytes.size());
        EXPECT_EQ(stream.pending(), 0u);
    }
}

TEST(CommandStream, HoldsBackAnUnfinishedCommand) {
    const std::string bytes = encodeCommand({"SET", "key", "value"});
    CommandStream stream(0);
    stream.feed(bytes.data(), bytes.size() - 1);
    StreamCommand command;
    EXPECT_FALSE(stream.next(command));
    EXPECT_EQ(stream.offset(), 0u);
    stream.feed(bytes.data() + bytes.size() - 1, 1);
    EXPECT_TRUE(stream.next(command));
    EXPECT_EQ(stream.offset(), bytes.size());
}

TEST(CommandStream, RejectsWhatNoMasterSends) {
    CommandStream inline_(0);
    inline_.feed("PING\r\n", 6);
    StreamCommand command;
    EXPECT_THROW(inline_.next(command), std::runtime_error);
    CommandStream unterminated(0);
    unterminated.feed("*1\r\n$4\r\nPINGxx", 14);
    EXPECT_THROW(unterminated.next(command), std::runtime_error);
}

TEST(RestorePlan, CutsAtTheLastCommandReceivedByTheTimeAcrossAFailover) {
    const std::vector<SegmentInfo> segments{
        segment(1000, 1200, "A", {{1100, 10'000}, {1200, 10'400}}),
        segment(1200, 1500, "B", {{1300, 11'000}, {1500, 12'000}}, "A"),
    };
    const RestorePlan plan = planRestore(segments, {}, BasePoint{{"A", 1100}}, 11'500);
    EXPECT_EQ(plan.stopOffset, 1300u);
    EXPECT_EQ(plan.stopAtMs, 11'000);
    EXPECT_EQ(plan.segments.size(), 2u);
    EXPECT_EQ(plan.window.endOffset, 1500u);
    const RestorePlan newest = planRestore(segments, {}, BasePoint{{"A", 1100}}, std::nullopt);
    EXPECT_EQ(newest.stopOffset, 1500u);
}

TEST(RestorePlan, CutsExactlyAtAnOffsetAcrossAFailoverAndRefusesOneOutsideTheWindow) {
    const std::vector<SegmentInfo> segments{
        segment(1000, 1200, "A", {{1100, 10'000}, {1200, 10'400}}),
        segment(1200, 1500, "B", {{1300, 11'000}, {1500, 12'000}}, "A"),
        segment(1500, 1600, "B", {{1600, 13'000}}),
    };
    const RestorePlan whole = planRestore(segments, {}, BasePoint{{"A", 1100}}, std::nullopt);
    const RestorePlan cut = cutAtOffset(whole, 1300);
    EXPECT_EQ(cut.stopOffset, 1300u);
    EXPECT_EQ(cut.stopAtMs, 11'000);
    EXPECT_EQ(cut.segments.size(), 2u);
    EXPECT_EQ(cutAtOffset(whole, 1100).stopOffset, 1100u);
    EXPECT_THROW(cutAtOffset(whole, 1000), RestoreRefused);
    try {
        cutAtOffset(whole, 1700);
        FAIL() << "an offset past the archive was accepted";
    } catch (const RestoreRefused& e) {
        EXPECT_NE(std::string(e.what()).find("offsets 1100..1600"), std::string::npos) << e.what();
    }
}

TEST(RestorePlan, RefusesATimePastTheWindowAndNamesIt) {
    const std::vector<SegmentInfo> segments{segment(1000, 1200, "A", {{1200, 10'000}})};
    try {
        planRestore(segments, {}, BasePoint{{"A", 1000}}, 20'000);
        FAIL() << "a time past the archive was accepted";
    } catch (const RestoreRefused& e) {
        EXPECT_NE(std::string(e.what()).find("offsets 1000..1200, up to 1970-01-01T00:00:10.000Z"), std::string::npos) << e.what();
    }
}

TEST(RestorePlan, EndsTheWindowAtAGapAndRefusesAnotherHistory) {
    const std::vector<SegmentInfo> segments{
        segment(1000, 1200, "A", {{1200, 10'000}}),
        segment(5000, 5100, "C", {{5100, 30'000}}),
    };
    const std::vector<GapInfo> gaps{{{"A", 1200}, {"C", 5000}, 20'000}};
    const RestorePlan plan = planRestore(segments, gaps, BasePoint{{"A", 1000}}, std::nullopt);
    EXPECT_EQ(plan.stopOffset, 1200u);
    EXPECT_NE(plan.window.endsBecause.find("gap"), std::string::npos) << plan.window.endsBecause;
    EXPECT_THROW(planRestore(segments, gaps, BasePoint{{"A", 1200}}, 25'000), RestoreRefused);
    EXPECT_THROW(planRestore(segments, gaps, BasePoint{{"X", 1000}}, std::nullopt), RestoreRefused);
    EXPECT_THROW(planRestore(segments, gaps, BasePoint{{"A", 900}}, std::nullopt), RestoreRefused);
}

TEST(RestorePlan, CrossesARecordedGapOnlyWhenToldAndNamesWhatIsMissing) {
    const std::vector<SegmentInfo> segments{
        segment(1000, 1200, "A", {{1200, 10'000}}),
        segment(5000, 5100, "C", {{5100, 30'000}}),
    };
    const std::vector<GapInfo> gaps{{{"A", 1200}, {"C", 5000}, 20'000}};
    EXPECT_THROW(planRestore(segments, gaps, BasePoint{{"A", 1000}}, 30'000), RestoreRefused);
    const RestorePlan crossed = planRestore(segments, gaps, BasePoint{{"A", 1000}}, 30'000, GapPolicy::Cross);
    EXPECT_EQ(crossed.stopOffset, 5100u);
    EXPECT_EQ(crossed.segments.size(), 2u);
    ASSERT_EQ(crossed.crossedGaps.size(), 1u);
    EXPECT_EQ(crossed.crossedGaps[0].lastOffset, 1200u);
    EXPECT_EQ(crossed.crossedGaps[0].resumeOffset, 5000u);
    const std::string told = describeCrossedGap(crossed.crossedGaps[0]);
    EXPECT_NE(told.find("from offset 1200 (the last command before it, received at 1970-01-01T00:00:10.000Z) to offset 5000"), std::string::npos) << told;
    // A time before anything after the gap arrived stops before it: no gap crossed.
    const RestorePlan before = planRestore(segments, gaps, BasePoint{{"A", 1000}}, 25'000, GapPolicy::Cross);
    EXPECT_EQ(before.stopOffset, 1200u);
    EXPECT_TRUE(before.crossedGaps.empty());
    // Segments missing with no gap recorded are never crossed.
    const RestorePlan unrecorded = planRestore(segments, {}, BasePoint{{"A", 1000}}, std::nullopt, GapPolicy::Cross);
    EXPECT_EQ(unrecorded.stopOffset, 1200u);
    EXPECT_NE(unrecorded.window.endsBecause.find("does not follow"), std::string::npos) << unrecorded.window.endsBecause;
}

TEST(RestorePlan, RefusesABaseThatAlreadyHoldsCommandsFromAfterTheTime) {
    const std::vector<SegmentInfo> segments{segment(1000, 1400, "A", {{1100, 10'000}, {1200, 12'000}, {1400, 13'000}})};
    EXPECT_THROW(planRestore(segments, {}, BasePoint{{"A", 1200}}, 11'000), RestoreRefused);
    EXPECT_EQ(planRestore(segments, {}, BasePoint{{"A", 1100}}, 11'000).stopOffset, 1100u);
}
