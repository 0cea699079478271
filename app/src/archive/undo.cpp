#include "archive/undo.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "archive/command_keys.hpp"
#include "archive/replayer.hpp"
#include "archive/stream_units.hpp"
#include "scripts/UndoApply.hpp"

namespace redisdr::archive {

namespace {

using DbKey = std::pair<int, std::string>;

// What a key holds, as DUMP serializes it.
struct KeyState {
    bool exists = false;
    std::string dump;
    long long ttlMs = 0;
    // The payload without the RDB version and CRC64 that end every DUMP (rdb.c
    // createDumpPayload): servers of two versions agree on equal values.
    std::string_view value() const { return std::string_view(dump).substr(0, dump.size() - 10); }
};

std::vector<Reply> run(RedisConnection& server, const std::vector<std::vector<std::string>>& commands) {
    std::vector<const std::vector<std::string>*> pointers;
    for (const auto& c : commands) pointers.push_back(&c);
    std::vector<Reply> replies;
    server.pipeline(pointers, replies);
    return replies;
}

// Each key's state, read with SELECTs of our own between databases.
std::vector<KeyState> readKeys(RedisConnection& server, const std::vector<DbKey>& keys) {
    constexpr std::size_t kBatch = 500;
    std::vector<KeyState> out;
    for (std::size_t first = 0; first < keys.size(); first += kBatch) {
        std::vector<std::vector<std::string>> commands;
        std::vector<std::size_t> dumpAt;
        int db = -1;
        for (std::size_t i = first; i < keys.size() && i < first + kBatch; i++) {
            if (keys[i].first != db) commands.push_back({"SELECT", std::to_string(db = keys[i].first)});
            dumpAt.push_back(commands.size());
            commands.push_back({"DUMP", keys[i].second});
            commands.push_back({"PTTL", keys[i].second});
        }
        const auto replies = run(server, commands);
        for (const std::size_t at : dumpAt) {
            const Reply& dump = replies[at];
            if (dump.isError()) throw std::runtime_error("DUMP failed on " + server.endpoint().host + ": " + dump.str);
            KeyState state;
            state.exists = dump.type == Reply::Type::String && dump.str.size() >= 10;
            if (state.exists) {
                state.dump = dump.str;
                state.ttlMs = replies[at + 1].integer > 0 ? replies[at + 1].integer : 0;
            }
            out.push_back(std::move(state));
        }
    }
    return out;
}

bool same(const KeyState& a, const KeyState& b) { return a.exists == b.exists && (!a.exists || a.value() == b.value()); }

void scanKeys(RedisConnection& server, std::set<DbKey>& into) {
    const Reply info = server.command({"INFO", "keyspace"});
    std::size_t at = 0;
    while ((at = info.str.find("\ndb", at)) != std::string::npos) {
        const int db = std::stoi(info.str.substr(at + 3));
        at += 3;
        server.command({"SELECT", std::to_string(db)});
        std::string cursor = "0";
        do {
            const Reply page = server.command({"SCAN", cursor, "COUNT", "1000"});
            if (page.type != Reply::Type::Array || page.elements.size() != 2) throw std::runtime_error("SCAN failed: " + page.str);
            cursor = page.elements[0].str;
            for (const Reply& key : page.elements[1].elements) into.insert({db, key.str});
        } while (cursor != "0");
    }
}

std::uint64_t masterOffset(RedisConnection& live) {
    const Reply info = live.command({"INFO", "replication"});
    const auto at = info.str.find("master_repl_offset:");
    if (info.isError() || at == std::string::npos) throw std::runtime_error("INFO replication on the live master: " + info.str);
    return std::stoull(info.str.substr(at + 19));
}

// The keys named by the units from the first undone one on: only they can differ.
class CandidateKeys {
public:
    explicit CandidateKeys(std::uint64_t firstSkipped) : first_(firstSkipped) {}
    void add(const StreamUnit& unit) {
        if (unit.endOffset < first_) return;
        for (const auto& c : unit.commands) {
            if (isFraming(c.command)) continue;
            if (touchesUnnamedKeys(c.command)) {
                unnamed = true;
            } else {
                pending_.push_back(c.command.argv);
                pendingDb_.push_back(c.db);
            }
        }
    }
    void resolveInto(RedisConnection& server, std::set<DbKey>& into) {
        std::vector<const std::vector<std::string>*> commands;
        for (const auto& argv : pending_) commands.push_back(&argv);
        const auto keys = keysOf(server, commands);
        for (std::size_t i = 0; i < keys.size(); i++) {
            for (const auto& key : keys[i]) into.insert({pendingDb_[i], key});
        }
        pending_.clear();
        pendingDb_.clear();
    }
    bool unnamed = false;  // a FLUSHALL or the like: every key may differ

private:
    std::uint64_t first_;
    std::vector<std::vector<std::string>> pending_;
    std::vector<int> pendingDb_;
};

std::optional<timespec> modifiedAt(const std::string& directory) {
    struct stat status {};
    if (::stat(directory.c_str(), &status) != 0) return std::nullopt;
    return status.st_mtim;
}

std::runtime_error notCaughtUp(std::uint64_t live, std::chrono::milliseconds waited, std::uint64_t reached) {
    return std::runtime_error("the archive did not reach the live master's offset " + std::to_string(live) + " within " + std::to_string(waited.count()) +
                              " ms (it holds up to " + std::to_string(reached) + "): is the archiver running? Nothing was changed");
}

}  // namespace

UndoResult undo(const UndoRequest& request, const UndoServers& servers, const std::function<void(const std::string&)>& log) {
    const auto began = std::chrono::steady_clock::now();
    const auto elapsed = [&] { return " (" + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began).count()) + " ms in)"; };
    if (request.skip.empty()) throw std::invalid_argument("undo needs the offset of at least one archived command");
    const std::uint64_t firstSkipped = *request.skip.begin();
    if (firstSkipped <= request.base.position.offset) {
        throw RestoreRefused("offset " + std::to_string(firstSkipped) + " is inside the base backup (offset " + std::to_string(request.base.position.offset) +
                             "): undo needs a base from before it");
    }
    UndoResult result;
    CandidateKeys candidates(firstSkipped);
    std::set<std::uint64_t> found;
    const auto none = [](const ReplayProgress&) {};
    RestorePlan plan = planRestore(listSegments(request.directory), listGaps(request.directory), request.base, std::nullopt);
    result.skippedCommands = replay(plan, request.directory, servers.without, request.skip, none, [&](const StreamUnit& unit, bool skipped) {
                                 candidates.add(unit);
                                 if (skipped) found.insert(unit.endOffset);
                             }).skipped;
    for (const auto offset : request.skip) {
        if (found.count(offset) == 0) {
            throw RestoreRefused("offset " + std::to_string(offset) + " is not where an archived command ends after the base (backup.sh log lists them)");
        }
    }
    replay(plan, request.directory, servers.with, {}, none);
    StreamPosition reached{plan.segments.back().replicationId, plan.stopOffset};
    log("replayed the archive to offset " + std::to_string(reached.offset) + " with and without " + std::to_string(result.skippedCommands) + " command(s)" + elapsed());

    std::set<DbKey> keys;
    bool scanned = false;
    for (result.attempts = 1; result.attempts <= request.attempts; result.attempts++) {
        const std::uint64_t live = masterOffset(servers.live);
        const auto deadline = std::chrono::steady_clock::now() + request.catchUpWait;
        std::optional<timespec> seen;
        auto lookedAt = std::chrono::steady_clock::now();
        while (reached.offset < live) {
            // Reading every manifest again is the cost of a look: only when a sync linked new
            // files in, which changes the directory's modification time, or after a second (a
            // link within the same clock tick as the last look leaves the time as it was).
            const auto changed = modifiedAt(request.directory);
            const auto now = std::chrono::steady_clock::now();
            if (seen && changed && seen->tv_sec == changed->tv_sec && seen->tv_nsec == changed->tv_nsec && now - lookedAt < std::chrono::seconds(1)) {
                if (now > deadline) throw notCaughtUp(live, request.catchUpWait, reached.offset);
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                continue;
            }
            seen = changed;
            lookedAt = now;
            try {
                const RestorePlan more = planRestore(listSegments(request.directory), listGaps(request.directory), BasePoint{reached}, std::nullopt);
                if (more.window.endOffset >= live) {
                    replay(more, request.directory, servers.without, {}, none, [&](const StreamUnit& unit, bool) { candidates.add(unit); });
                    replay(more, request.directory, servers.with, {}, none);
                    reached = {more.segments.back().replicationId, more.stopOffset};
                    break;
                }
            } catch (const RestoreRefused&) {
                // Nothing archived after `reached` yet.
            }
            if (std::chrono::steady_clock::now() > deadline) throw notCaughtUp(live, request.catchUpWait, reached.offset);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        candidates.resolveInto(servers.without, keys);
        if (candidates.unnamed && !scanned) {
            scanKeys(servers.without, keys);
            scanKeys(servers.with, keys);
            scanned = true;
        }
        log("caught up with the live master at offset " + std::to_string(reached.offset) + "; comparing " + std::to_string(keys.size()) + " candidate key(s)" + elapsed());
        const std::vector<DbKey> all(keys.begin(), keys.end());
        const auto wanted = readKeys(servers.without, all);
        const auto current = readKeys(servers.with, all);
        std::vector<DbKey> changed;
        std::vector<KeyState> target, expected;
        for (std::size_t i = 0; i < all.size(); i++) {
            if (same(wanted[i], current[i])) continue;
            changed.push_back(all[i]);
            target.push_back(wanted[i]);
            expected.push_back(current[i]);
        }
        result.throughOffset = reached.offset;
        if (changed.empty()) return result;

        log(std::to_string(changed.size()) + " key(s) differ; applying them on the live master" + elapsed());
        bool overtaken = false;
        for (std::size_t from = 0; from < changed.size() && !overtaken; from += request.batchKeys) {
            const std::size_t to = std::min(changed.size(), from + request.batchKeys);
            std::vector<std::string> apply{"EVAL", scripts::kUndoApply, std::to_string(to - from)};
            for (std::size_t i = from; i < to; i++) apply.push_back(changed[i].second);
            for (std::size_t i = from; i < to; i++) {
                apply.push_back(std::to_string(changed[i].first));
                apply.push_back(expected[i].exists ? std::string(expected[i].value()) : "");
                apply.push_back(target[i].exists ? "set" : "del");
                apply.push_back(std::to_string(target[i].ttlMs));
                apply.push_back(target[i].exists ? target[i].dump : "");
            }
            const auto sent = std::chrono::steady_clock::now();
            const Reply done = servers.live.command(apply);
            result.roundTrip += std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent);
            // Batches before this one stay applied: running the undo again compares afresh and sends only the rest.
            const auto applied = [&] { return " (" + std::to_string(result.keysSet + result.keysDeleted) + " key(s) applied before it; running the undo again applies the rest)"; };
            if (done.isError()) throw std::runtime_error("the script that applies the undo failed: " + done.str + applied());
            if (done.type != Reply::Type::Array || done.elements.size() < 2) throw std::runtime_error("the script that applies the undo answered " + done.str + applied());
            if (done.elements[0].integer == 0) {
                const auto& moved = changed.at(from + static_cast<std::size_t>(done.elements[1].integer - 1));
                log("key " + printable(moved.second) + " (db " + std::to_string(moved.first) + ") was written after offset " + std::to_string(reached.offset) + "; " +
                    std::to_string(from) + " of " + std::to_string(changed.size()) + " key(s) applied, catching up with the archive" + elapsed());
                overtaken = true;
                continue;
            }
            result.scripts++;
            result.keysSet += static_cast<std::size_t>(done.elements[1].integer);
            result.keysDeleted += done.elements.size() > 2 ? static_cast<std::size_t>(done.elements[2].integer) : 0;
            const auto held = std::chrono::milliseconds(done.elements.size() > 3 ? done.elements[3].integer / 1000 : 0);
            result.held = std::max(result.held, held);
            result.heldTotal += held;
        }
        if (overtaken) continue;
        // A script that runs longer than Sentinel's down-after goes unanswered: PINGs wait, then
        // get -BUSY, and only PONG, LOADING and MASTERDOWN count as the instance being available
        // (sentinelPingReplyCallback, sentinel.c). The Sentinels may then fail over to a replica
        // that never got these writes; only a replica's acknowledgement makes them safe.
        std::string unconfirmed;
        try {
            const Reply acked = servers.live.command({"WAIT", "1", std::to_string(request.replicatedWait.count())});
            result.replicasConfirmed = acked.type == Reply::Type::Integer ? acked.integer : 0;
            if (result.replicasConfirmed < 1) unconfirmed = "no replica confirmed them within " + std::to_string(request.replicatedWait.count()) + " ms";
        } catch (const std::exception& e) {
            // A master demoted by a failover drops the clients it blocks (WAIT among them).
            unconfirmed = std::string("the master dropped the connection waiting for a replica (") + e.what() + ")";
        }
        if (!unconfirmed.empty()) {
            throw std::runtime_error("the undo's " + std::to_string(result.keysSet + result.keysDeleted) + " key(s) were written on the master in " + std::to_string(result.scripts) +
                                     " script(s), the longest holding it " + std::to_string(result.held.count()) + " ms, but " + unconfirmed +
                                     ": a failover meanwhile loses them; check the keys on the current master and run the undo again if they are gone");
        }
        return result;
    }
    throw std::runtime_error("the keys to change kept being written on the live master; gave up after " + std::to_string(request.attempts) + " attempts, with " +
                             std::to_string(result.keysSet + result.keysDeleted) + " key(s) applied (running the undo again applies the rest)");
}

}  // namespace redisdr::archive
