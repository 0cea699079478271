// redis-dr-archiver: the continuous archive of the Redis tier's replication stream.
//
//   redis-dr-archiver follow
//       follow a replica's stream into segments in ARCHIVE_SPOOL_DIR until SIGTERM
//   redis-dr-archiver replay --dir DIR --base-replid ID --base-offset N [--until-ms MS | --until-offset N] [--skip END,...] [--allow-gap] [--plan-only]
//       replay the segments in DIR that continue a base onto the server at REPLAY_TARGET
//       (which already holds the base), up to the last command received at or before MS
//       (or exactly to offset N: where a later backup stands), leaving out the units that
//       end at the --skip offsets
//   redis-dr-archiver log --dir DIR [--since-ms MS] [--until-ms MS] [--match NAME|GLOB]
//       list the archived commands (command_log.hpp); KEYS_TARGET answers COMMAND GETKEYS
//   redis-dr-archiver undo --dir DIR --base-replid ID --base-offset N --skip END,...
//       put LIVE_TARGET into the state without those units (undo.hpp); REPLAY_TARGET and
//       REFERENCE_TARGET hold the base; UNDO_CATCH_UP_MS bounds the wait for the archive
//
// Environment: REDIS_NODES (host[:port],...), ARCHIVER_USER, REDIS_PASSWORD, ARCHIVE_SPOOL_DIR,
// ARCHIVE_SEGMENT_MS, ARCHIVE_IDLE_SEGMENT_MS, ARCHIVE_SEGMENT_MAX_BYTES; each server named X_TARGET (host:port or a
// Unix socket's path) with X_USER and X_PASSWORD. Passwords come only from the environment,
// never from argv.
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "archive/archiver.hpp"
#include "archive/command_log.hpp"
#include "archive/replayer.hpp"
#include "archive/restore_plan.hpp"
#include "archive/undo.hpp"
#include "env_reader.hpp"
#include "log.hpp"
#include "redisdr/errors.hpp"

using namespace redisdr;
using namespace redisdr::archive;

namespace {

std::atomic<bool> stopRequested{false};

void onSignal(int) { stopRequested.store(true); }

const char* envLookup(const char* name) { return std::getenv(name); }

int follow() {
    EnvReader env(envLookup);
    ArchiverSettings settings;
    try {
        settings.nodes = parseEndpointList(env.text("REDIS_NODES", "", true), 6379);
    } catch (const std::invalid_argument& e) {
        env.problems.push_back(std::string("REDIS_NODES: ") + e.what());
    }
    settings.user = env.text("ARCHIVER_USER", "archiver");
    settings.password = env.text("REDIS_PASSWORD", "", true);
    settings.spoolDirectory = env.text("ARCHIVE_SPOOL_DIR", "", true);
    settings.interval = env.millis("ARCHIVE_SEGMENT_MS", 500, 50, 600000);
    settings.idleInterval = env.millis("ARCHIVE_IDLE_SEGMENT_MS", 10000, 50, 600000);
    settings.maxSegmentBytes = env.size("ARCHIVE_SEGMENT_MAX_BYTES", 64 * 1024 * 1024, 1024, 1024LL * 1024 * 1024);
    env.check();
    std::signal(SIGTERM, onSignal);
    std::signal(SIGINT, onSignal);
    ArchiverEvents events;
    events.log = [](const std::string& message) { logLine("info", message); };
    events.segmentClosed = [](const SegmentInfo& s) {
        logLine("info", "segment closed", {{"segment", s.name}, {"commands", s.commands}, {"endOffset", s.endOffset}});
    };
    events.gap = [](const GapInfo& g) {
        logLine("error", "archive gap: the upstream answered with a full resync",
                {{"fromOffset", g.from.offset}, {"fromReplicationId", g.from.replicationId}, {"toOffset", g.to.offset}, {"toReplicationId", g.to.replicationId}});
    };
    Archiver archiver(settings, events);
    archiver.run(stopRequested);
    logLine("info", "archiver stopped");
    return 0;
}

std::map<std::string, std::string> options(int argc, char** argv, int first) {
    std::map<std::string, std::string> out;
    for (int i = first; i < argc; i++) {
        std::string name = argv[i];
        if (name.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument " + name);
        if (name == "--plan-only" || name == "--allow-gap") {
            out[name] = "1";
            continue;
        }
        if (i + 1 >= argc) throw std::invalid_argument(name + " needs a value");
        out[name] = argv[++i];
    }
    for (const auto& [name, value] : out) {
        static const std::set<std::string> known{"--dir", "--base-replid", "--base-offset", "--since-ms", "--until-ms", "--until-offset", "--skip", "--match", "--plan-only", "--allow-gap"};
        if (known.count(name) == 0) throw std::invalid_argument("unknown option " + name);
    }
    return out;
}

std::set<std::uint64_t> offsets(const std::string& list) {
    std::set<std::uint64_t> out;
    std::stringstream in(list);
    std::string item;
    while (std::getline(in, item, ',')) {
        if (!item.empty()) out.insert(std::stoull(item));
    }
    return out;
}

// The server X_TARGET names (host:port, or a path: a Unix socket, as backup.sh's scratch servers
// listen on only), logged in as X_USER with X_PASSWORD.
std::unique_ptr<RedisConnection> openServer(const std::string& prefix) {
    EnvReader env(envLookup);
    std::vector<Endpoint> target;
    const std::string text = env.text((prefix + "_TARGET").c_str(), "", true);
    try {
        target = text.find('/') != std::string::npos ? std::vector<Endpoint>{{text, 0}} : parseEndpointList(text, 6379);
    } catch (const std::invalid_argument& e) {
        env.problems.push_back(prefix + "_TARGET: " + e.what());
    }
    const std::string user = env.text((prefix + "_USER").c_str(), "");
    const std::string password = env.text((prefix + "_PASSWORD").c_str(), "");
    env.check();
    if (target.size() != 1) throw std::invalid_argument(prefix + "_TARGET must name one server");
    return RedisConnection::open(target.front(), Timeouts{std::chrono::milliseconds(2000), std::chrono::milliseconds(120000)}, password, false, user);
}

BasePoint basePoint(const std::map<std::string, std::string>& opts) {
    for (const char* required : {"--dir", "--base-replid", "--base-offset"}) {
        if (opts.count(required) == 0) throw std::invalid_argument(std::string("this command needs ") + required);
    }
    return BasePoint{{opts.at("--base-replid"), std::stoull(opts.at("--base-offset"))}};
}

int replayCommand(int argc, char** argv) {
    const auto opts = options(argc, argv, 2);
    const std::string dir = opts.at("--dir");
    const BasePoint base = basePoint(opts);
    std::optional<std::int64_t> until;
    if (opts.count("--until-ms") != 0) until = std::stoll(opts.at("--until-ms"));
    if (until && opts.count("--until-offset") != 0) throw std::invalid_argument("replay takes --until-ms or --until-offset, not both");
    const GapPolicy gaps = opts.count("--allow-gap") != 0 ? GapPolicy::Cross : GapPolicy::End;
    RestorePlan plan = planRestore(listSegments(dir), listGaps(dir), base, until, gaps);
    if (opts.count("--until-offset") != 0) plan = cutAtOffset(std::move(plan), std::stoull(opts.at("--until-offset")));
    std::cout << "plan: " << plan.segments.size() << " segments from offset " << base.position.offset << " to " << plan.stopOffset;
    if (plan.stopAtMs > 0) std::cout << " (received " << formatMs(plan.stopAtMs) << ")";
    std::cout << "; window: offsets " << plan.window.startOffset << ".." << plan.window.endOffset;
    if (plan.window.endAtMs > 0) std::cout << " up to " << formatMs(plan.window.endAtMs);
    std::cout << ", ends at " << plan.window.endsBecause << std::endl;
    for (const auto& gap : plan.crossedGaps) std::cout << "warning: " << describeCrossedGap(gap) << std::endl;
    if (opts.count("--plan-only") != 0) return 0;

    auto connection = openServer("REPLAY");
    const auto skip = offsets(opts.count("--skip") ? opts.at("--skip") : "");
    const ReplayProgress done = replay(plan, dir, *connection, skip, [](const ReplayProgress& p) {
        std::cout << "replayed " << p.segments << " segments, " << p.commands << " commands, offset " << p.offset << std::endl;
    });
    std::cout << "restored to offset " << done.offset;
    if (plan.stopAtMs > 0) std::cout << ", the last command received at " << formatMs(plan.stopAtMs);
    std::cout << ": " << done.commands << " commands replayed, " << done.skipped << " skipped, from " << done.segments << " segments";
    if (!plan.crossedGaps.empty()) std::cout << "; across " << plan.crossedGaps.size() << " recorded gap(s), whose writes are missing";
    std::cout << std::endl;
    return 0;
}


int logCommand(int argc, char** argv) {
    const auto opts = options(argc, argv, 2);
    if (opts.count("--dir") == 0) throw std::invalid_argument("log needs --dir");
    LogFilter filter;
    if (opts.count("--since-ms") != 0) filter.sinceMs = std::stoll(opts.at("--since-ms"));
    if (opts.count("--until-ms") != 0) filter.untilMs = std::stoll(opts.at("--until-ms"));
    if (opts.count("--match") != 0) filter.match = opts.at("--match");
    auto keyServer = openServer("KEYS");
    const auto printed = printCommandLog(opts.at("--dir"), filter, *keyServer, std::cout);
    std::cerr << printed << " archived command(s) listed" << std::endl;
    return 0;
}

int undoCommand(int argc, char** argv) {
    const auto opts = options(argc, argv, 2);
    UndoRequest request;
    request.base = basePoint(opts);
    request.directory = opts.at("--dir");
    request.skip = offsets(opts.count("--skip") ? opts.at("--skip") : "");
    EnvReader env(envLookup);
    request.catchUpWait = std::chrono::milliseconds(env.millis("UNDO_CATCH_UP_MS", 30000, 1000, 600000));
    request.replicatedWait = std::chrono::milliseconds(env.millis("UNDO_REPLICATED_MS", 30000, 1000, 600000));
    request.batchKeys = static_cast<std::size_t>(env.integer("UNDO_BATCH_KEYS", 10000, 1, 1000000));
    env.check();
    auto without = openServer("REPLAY");
    auto with = openServer("REFERENCE");
    auto live = openServer("LIVE");
    const UndoResult done = undo(request, UndoServers{*without, *with, *live}, [](const std::string& line) { std::cout << line << std::endl; });
    std::cout << "undone at offset " << done.throughOffset << ": " << done.skippedCommands << " command(s) left out; " << done.keysSet << " key(s) set and " << done.keysDeleted
              << " deleted in " << done.scripts << " script(s) of at most " << request.batchKeys << " keys; the longest held writes for " << done.held.count() << " ms (all "
              << done.heldTotal.count() << " ms; sent and answered in " << done.roundTrip.count() << " ms; attempt " << done.attempts << "); every other key untouched; confirmed by "
              << done.replicasConfirmed << " replica(s)" << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string command = argc > 1 ? argv[1] : "";
    try {
        if (command == "follow" && argc == 2) return follow();
        if (command == "replay") return replayCommand(argc, argv);
        if (command == "log") return logCommand(argc, argv);
        if (command == "undo") return undoCommand(argc, argv);
        std::cerr << "usage: redis-dr-archiver follow | replay --dir DIR --base-replid ID --base-offset N [--until-ms MS | --until-offset N] [--skip END,...] [--allow-gap] [--plan-only]\n"
                     "       | log --dir DIR [--since-ms MS] [--until-ms MS] [--match NAME|GLOB] | undo --dir DIR --base-replid ID --base-offset N --skip END,...\n";
        return 2;
    } catch (const RestoreRefused& e) {
        std::cerr << "refused: " << e.what() << std::endl;
        return 3;
    } catch (const ConfigError& e) {
        std::cerr << e.what() << std::endl;
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "failed: " << e.what() << std::endl;
        return 1;
    }
}
