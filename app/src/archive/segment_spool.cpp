#include "archive/segment_spool.hpp"
#include "archive/stream_units.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <stdexcept>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace redisdr::archive {

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

void syncPath(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags);
    if (fd < 0) fail("open " + path);
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) fail("fsync " + path);
}

// Replaces `path` with `text` so that a reader (or a crash) sees the old file or the new one.
void writeDurably(const std::string& directory, const std::string& name, const std::string& text) {
    const std::string path = directory + "/" + name, temporary = path + ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out.flush()) fail("write " + temporary);
    }
    syncPath(temporary, O_RDONLY);
    if (::rename(temporary.c_str(), path.c_str()) != 0) fail("rename " + temporary);
    syncPath(directory, O_RDONLY | O_DIRECTORY);
}

json toJson(const SegmentInfo& s) {
    json marks = json::array();
    for (const auto& m : s.marks) marks.push_back({m.offset, m.atMs});
    return {{"name", s.name},
            {"replicationId", s.replicationId},
            {"previousReplicationId", s.previousReplicationId},
            {"startOffset", s.startOffset},
            {"endOffset", s.endOffset},
            {"firstAtMs", s.firstAtMs},
            {"lastAtMs", s.lastAtMs},
            {"commands", s.commands},
            {"dbAtStart", s.dbAtStart},
            {"dbAtEnd", s.dbAtEnd},
            {"bytes", s.endOffset - s.startOffset},
            {"sha256", s.sha256},
            {"marks", marks}};
}

std::vector<std::string> filesEndingWith(const std::string& directory, const std::string& suffix) {
    std::vector<std::string> names;
    DIR* dir = ::opendir(directory.c_str());
    if (dir == nullptr) return names;
    while (const dirent* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) names.push_back(name);
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

std::string segmentName(std::uint64_t startOffset, const std::string& replicationId) {
    std::ostringstream name;
    name << std::setw(20) << std::setfill('0') << startOffset << '-' << replicationId;
    return name.str();
}

SegmentInfo readSegmentInfo(const std::string& jsonPath) {
    std::ifstream in(jsonPath);
    if (!in) fail("open " + jsonPath);
    const json j = json::parse(in);
    SegmentInfo s;
    s.name = j.at("name");
    s.replicationId = j.at("replicationId");
    s.previousReplicationId = j.at("previousReplicationId");
    s.startOffset = j.at("startOffset");
    s.endOffset = j.at("endOffset");
    s.firstAtMs = j.at("firstAtMs");
    s.lastAtMs = j.at("lastAtMs");
    s.commands = j.at("commands");
    s.dbAtStart = j.at("dbAtStart");
    s.dbAtEnd = j.at("dbAtEnd");
    s.sha256 = j.at("sha256");
    for (const auto& m : j.at("marks")) s.marks.push_back({m.at(0).get<std::uint64_t>(), m.at(1).get<std::int64_t>()});
    return s;
}

std::vector<SegmentInfo> listSegments(const std::string& directory) {
    std::vector<SegmentInfo> segments;
    for (const auto& name : filesEndingWith(directory, ".json")) {
        if (name.rfind("gap-", 0) == 0 || name == "position.json") continue;
        segments.push_back(readSegmentInfo(directory + "/" + name));
    }
    return segments;
}

std::vector<GapInfo> listGaps(const std::string& directory) {
    std::vector<GapInfo> gaps;
    for (const auto& name : filesEndingWith(directory, ".json")) {
        if (name.rfind("gap-", 0) != 0) continue;
        std::ifstream in(directory + "/" + name);
        const json j = json::parse(in);
        gaps.push_back({{j.at("fromReplicationId"), j.at("fromOffset")}, {j.at("toReplicationId"), j.at("toOffset")}, j.at("atMs")});
    }
    return gaps;
}

SegmentSpool::SegmentSpool(std::string directory) : directory_(std::move(directory)) {
    if (::mkdir(directory_.c_str(), 0700) != 0 && errno != EEXIST) fail("mkdir " + directory_);
    std::ifstream in(directory_ + "/position.json");
    if (in) {
        const json j = json::parse(in);
        position_ = StreamPosition{j.at("replicationId"), j.at("offset")};
        db_ = j.at("db");
    }
    for (const auto& stale : filesEndingWith(directory_, ".part")) ::unlink((directory_ + "/" + stale).c_str());
}

SegmentSpool::~SegmentSpool() {
    if (file_ != nullptr) std::fclose(file_);
}

void SegmentSpool::writePosition() {
    writeDurably(directory_, "position.json",
                 json{{"replicationId", position_->replicationId}, {"offset", position_->offset}, {"db", db_}}.dump() + "\n");
}

void SegmentSpool::begin(const StreamPosition& at, const std::string& previousReplicationId) {
    if (open_) throw std::logic_error("begin with a segment open");
    if (position_ && (position_->offset != at.offset)) throw std::logic_error("stream continues at " + std::to_string(at.offset) + ", spool is at " + std::to_string(position_->offset));
    replicationId_ = at.replicationId;
    previousReplicationId_ = previousReplicationId;
    position_ = at;
}

void SegmentSpool::recordGap(const StreamPosition& to, std::int64_t atMs) {
    if (open_) throw std::logic_error("gap with a segment open");
    const StreamPosition from = position_.value_or(StreamPosition{});
    json gap{{"fromReplicationId", from.replicationId}, {"fromOffset", from.offset},
             {"toReplicationId", to.replicationId},     {"toOffset", to.offset},
             {"atMs", atMs}};
    writeDurably(directory_, "gap-" + segmentName(to.offset, to.replicationId) + ".json", gap.dump() + "\n");
    position_ = to;
    // A full sync starts in database 0; the master SELECTs before its first command (slaveseldb = -1).
    db_ = 0;
    writePosition();
}

void SegmentSpool::append(const std::vector<StreamCommand>& unit, std::int64_t receivedAtMs) {
    if (!position_) throw std::logic_error("append before begin");
    if (unit.empty()) return;
    if (!open_) {
        SegmentInfo s;
        s.startOffset = position_->offset;
        s.replicationId = replicationId_;
        s.previousReplicationId = previousReplicationId_;
        s.name = segmentName(s.startOffset, s.replicationId);
        s.endOffset = s.startOffset;
        s.firstAtMs = receivedAtMs;
        s.dbAtStart = db_;
        const std::string path = directory_ + "/" + s.name + ".part";
        file_ = std::fopen(path.c_str(), "wb");
        if (file_ == nullptr) fail("open " + path);
        open_ = s;
        openSinceMs_ = receivedAtMs;
        firstWriteAtMs_.reset();
        openBytes_ = 0;
    }
    for (const auto& command : unit) {
        const std::string bytes = encodeCommand(command.argv);
        if (bytes.size() != command.bytes) throw std::runtime_error("replication stream: a command's bytes differ from its canonical encoding");
        if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) fail("write " + open_->name);
        hash_.update(bytes.data(), bytes.size());
        openBytes_ += bytes.size();
        if (!firstWriteAtMs_ && changesData(command)) firstWriteAtMs_ = receivedAtMs;
        open_->commands++;
        if (strcasecmp(command.argv[0].c_str(), "SELECT") == 0 && command.argv.size() == 2) db_ = std::stoi(command.argv[1]);
    }
    const std::uint64_t end = unit.back().endOffset;
    open_->endOffset = end;
    open_->dbAtEnd = db_;
    open_->lastAtMs = receivedAtMs;
    if (!open_->marks.empty() && open_->marks.back().atMs == receivedAtMs) open_->marks.back().offset = end;
    else open_->marks.push_back({end, receivedAtMs});
    position_->offset = end;
}

std::optional<SegmentInfo> SegmentSpool::close() {
    if (!open_) return std::nullopt;
    const std::string part = directory_ + "/" + open_->name + ".part";
    if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) fail("flush " + part);
    std::fclose(file_);
    file_ = nullptr;
    const std::string data = directory_ + "/" + open_->name + ".resp";
    if (::rename(part.c_str(), data.c_str()) != 0) fail("rename " + part);
    open_->sha256 = hash_.hexDigest();
    const std::string manifest = toJson(*open_).dump() + "\n";
    // sha256sum's format ("SUM  FILE"): the shipper signs each upload with these.
    writeDurably(directory_, open_->name + ".sha256", open_->sha256 + "  " + open_->name + ".resp\n" + sha256Hex(manifest) + "  " + open_->name + ".json\n");
    writeDurably(directory_, open_->name + ".json", manifest);
    writePosition();
    SegmentInfo closed = std::move(*open_);
    open_.reset();
    return closed;
}

}  // namespace redisdr::archive
