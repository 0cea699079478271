#include "archive/archiver.hpp"

#include <strings.h>
#include <thread>

#include "archive/command_stream.hpp"
#include "redisdr/errors.hpp"
#include "redisdr/redis_connection.hpp"

namespace redisdr::archive {

namespace {

using namespace std::chrono_literals;

std::int64_t wallMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string infoField(const std::string& info, const std::string& name) {
    const std::string key = "\n" + name + ":";
    const auto at = ("\n" + info).find(key);
    if (at == std::string::npos) return "";
    const auto start = at + key.size() - 1;
    return info.substr(start, info.find_first_of("\r\n", start) - start);
}

bool named(const StreamCommand& command, const char* name) { return strcasecmp(command.argv[0].c_str(), name) == 0; }

// The longest a replica's stream may be silent: the master PINGs its replicas every
// repl-ping-replica-period (10 s by default) and a replica passes the PINGs on.
constexpr auto kSilence = 30s;
// After a read that emptied the socket, the archiver waits this long before the next, so that
// under steady writes it wakes a hundred times a second instead of once per write the upstream
// forwards: on a loaded node each wake-up takes a core from the master, the replicas and the
// service, which is most of what archiving costs their throughput (docs/archive.md, "Cost").
// A read that filled its chunk goes on at once, so catching up runs at full speed.
constexpr auto kCoalesce = 10ms;
// How long to wait for a replica to reach our position before taking one that is behind
// (which, unless it catches up first, answers with a full resync: a gap).
constexpr auto kBehindPatience = 15s;

}  // namespace

Archiver::Archiver(ArchiverSettings settings, ArchiverEvents events)
    : settings_(std::move(settings)), events_(std::move(events)), spool_(settings_.spoolDirectory) {}

std::optional<Endpoint> Archiver::chooseUpstream() {
    std::optional<Endpoint> best;
    std::uint64_t bestOffset = 0;
    for (const auto& node : settings_.nodes) {
        try {
            auto connection = RedisConnection::open(node, Timeouts{settings_.timeout, settings_.timeout}, settings_.password, false, settings_.user);
            const Reply info = connection->command({"INFO", "replication"});
            if (info.isError()) continue;
            if (infoField(info.str, "role") != "slave" || infoField(info.str, "master_link_status") != "up" ||
                infoField(info.str, "master_sync_in_progress") != "0") {
                continue;
            }
            const std::uint64_t offset = std::stoull(infoField(info.str, "slave_repl_offset"));
            if (!best || offset > bestOffset) {
                best = node;
                bestOffset = offset;
            }
        } catch (const std::exception&) {
            // Not reachable or not answering: another node may be.
        }
    }
    const auto position = spool_.position();
    if (!best || !position || bestOffset >= position->offset) {
        behindSince_.reset();
        return best;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!behindSince_) behindSince_ = now;
    if (now - *behindSince_ < kBehindPatience) return std::nullopt;
    events_.log("no replica reached offset " + std::to_string(position->offset) + " within " +
                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kBehindPatience).count()) + "s; following " + best->str());
    behindSince_.reset();
    return best;
}

void Archiver::closeSegment() {
    if (auto closed = spool_.close()) events_.segmentClosed(*closed);
}

void Archiver::followOnce(const Endpoint& upstream, const std::atomic<bool>& stop) {
    auto link = ReplicationLink::open(upstream, settings_.user, settings_.password, settings_.timeout);
    const StreamPosition from = spool_.position().value_or(StreamPosition{});
    const SyncStart start = link->start(from, settings_.rdbTimeout);
    if (start.kind == SyncStart::Kind::FullResync) {
        const GapInfo gap{from, start.position, wallMs()};
        spool_.recordGap(start.position, gap.atMs);
        events_.gap(gap);
        spool_.begin(start.position, "");
    } else {
        const bool newHistory = !from.replicationId.empty() && from.replicationId != start.position.replicationId;
        spool_.begin(start.position, newHistory ? from.replicationId : "");
        if (newHistory) events_.log("history continues under " + start.position.replicationId + " at offset " + std::to_string(from.offset));
    }
    events_.log("following " + upstream.str() + " from offset " + std::to_string(start.position.offset));

    CommandStream stream(start.position.offset);
    std::vector<StreamCommand> transaction;
    auto lastData = std::chrono::steady_clock::now(), lastAck = lastData;
    bool drained = true;
    try {
        while (!stop.load()) {
            std::string bytes;
            const bool got = link->read(bytes, 100ms);
            const auto now = std::chrono::steady_clock::now();
            const std::int64_t nowMs = wallMs();
            if (got) {
                lastData = now;
                drained = bytes.size() < ReplicationLink::kReadChunk;
                stream.feed(bytes.data(), bytes.size());
                StreamCommand command;
                while (stream.next(command)) {
                    // A transaction goes into the spool whole, so no restore can cut it in half.
                    if (!transaction.empty() || named(command, "MULTI")) {
                        const bool ends = named(command, "EXEC");
                        transaction.push_back(std::move(command));
                        if (ends) {
                            spool_.append(transaction, nowMs);
                            transaction.clear();
                        }
                    } else {
                        spool_.append({command}, nowMs);
                    }
                }
            } else if (now - lastData > kSilence) {
                throw RedisError(ErrorKind::Io, "replication link to " + upstream.str() + " silent for 30s");
            }
            if (spool_.hasOpenSegment()) {
                const auto write = spool_.firstWriteAtMs();
                if ((write && nowMs - *write >= settings_.interval.count()) || nowMs - spool_.openSinceMs() >= settings_.idleInterval.count() ||
                    spool_.openBytes() >= settings_.maxSegmentBytes) {
                    closeSegment();
                }
            }
            if (now - lastAck >= 1s) {
                link->ack(spool_.position()->offset);
                lastAck = now;
            }
            if (got && drained) std::this_thread::sleep_for(kCoalesce);
        }
    } catch (...) {
        closeSegment();
        throw;
    }
    closeSegment();
}

void Archiver::run(const std::atomic<bool>& stop) {
    while (!stop.load()) {
        const auto upstream = chooseUpstream();
        if (upstream) {
            try {
                followOnce(*upstream, stop);
            } catch (const std::exception& e) {
                events_.log(std::string("replication link ended: ") + e.what());
            }
        }
        if (!stop.load()) std::this_thread::sleep_for(upstream ? 200ms : 500ms);
    }
}

}  // namespace redisdr::archive
