// redis-dr-archiver: the continuous archive of the Redis tier's replication stream.
//
//   redis-dr-archiver follow
//       follow a replica's stream into segments in ARCHIVE_SPOOL_DIR until SIGTERM
//   redis-dr-archiver replay --dir DIR --base-replid ID --base-offset N [--until-ms MS] [--skip END,...] [--plan-only]
//       replay the segments in DIR that continue a base onto the server at REPLAY_TARGET
//       (which already holds the base), up to the last command received at or before MS
//
// Environment: REDIS_NODES (host[:port],...), ARCHIVER_USER, REDIS_PASSWORD, ARCHIVE_SPOOL_DIR,
// ARCHIVE_SEGMENT_MS, ARCHIVE_SEGMENT_MAX_BYTES; for replay REPLAY_TARGET (host:port or a Unix
// socket's path), REPLAY_USER and
// REPLAY_PASSWORD. Passwords come only from the environment, never from argv.
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "archive/archiver.hpp"
#include "archive/replayer.hpp"
#include "archive/restore_plan.hpp"
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
        if (name == "--plan-only") {
            out[name] = "1";
            continue;
        }
        if (i + 1 >= argc) throw std::invalid_argument(name + " needs a value");
        out[name] = argv[++i];
    }
    for (const auto& [name, value] : out) {
        static const std::set<std::string> known{"--dir", "--base-replid", "--base-offset", "--until-ms", "--skip", "--plan-only"};
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

int replayCommand(int argc, char** argv) {
    const auto opts = options(argc, argv, 2);
    for (const char* required : {"--dir", "--base-replid", "--base-offset"}) {
        if (opts.count(required) == 0) throw std::invalid_argument(std::string("replay needs ") + required);
    }
    const std::string dir = opts.at("--dir");
    BasePoint base{{opts.at("--base-replid"), std::stoull(opts.at("--base-offset"))}};
    std::optional<std::int64_t> until;
    if (opts.count("--until-ms") != 0) until = std::stoll(opts.at("--until-ms"));
    const RestorePlan plan = planRestore(listSegments(dir), listGaps(dir), base, until);
    std::cout << "plan: " << plan.segments.size() << " segments from offset " << base.position.offset << " to " << plan.stopOffset;
    if (plan.stopAtMs > 0) std::cout << " (received " << formatMs(plan.stopAtMs) << ")";
    std::cout << "; window: offsets " << plan.window.startOffset << ".." << plan.window.endOffset;
    if (plan.window.endAtMs > 0) std::cout << " up to " << formatMs(plan.window.endAtMs);
    std::cout << ", ends at " << plan.window.endsBecause << std::endl;
    if (opts.count("--plan-only") != 0) return 0;

    EnvReader env(envLookup);
    std::vector<Endpoint> target;
    const std::string targetText = env.text("REPLAY_TARGET", "", true);
    try {
        // A path is a Unix socket (backup.sh's scratch server listens on one only).
        target = targetText.find('/') != std::string::npos ? std::vector<Endpoint>{{targetText, 0}} : parseEndpointList(targetText, 6379);
    } catch (const std::invalid_argument& e) {
        env.problems.push_back(std::string("REPLAY_TARGET: ") + e.what());
    }
    const std::string user = env.text("REPLAY_USER", "");
    const std::string password = env.text("REPLAY_PASSWORD", "");
    env.check();
    if (target.size() != 1) throw std::invalid_argument("REPLAY_TARGET must name one server");
    auto connection = RedisConnection::open(target.front(), Timeouts{std::chrono::milliseconds(2000), std::chrono::milliseconds(60000)}, password, false, user);
    const auto skip = offsets(opts.count("--skip") ? opts.at("--skip") : "");
    const ReplayProgress done = replay(plan, dir, *connection, skip, [](const ReplayProgress& p) {
        std::cout << "replayed " << p.segments << " segments, " << p.commands << " commands, offset " << p.offset << std::endl;
    });
    std::cout << "restored to offset " << done.offset;
    if (plan.stopAtMs > 0) std::cout << ", the last command received at " << formatMs(plan.stopAtMs);
    std::cout << ": " << done.commands << " commands replayed, " << done.skipped << " skipped, from " << done.segments << " segments" << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string command = argc > 1 ? argv[1] : "";
    try {
        if (command == "follow" && argc == 2) return follow();
        if (command == "replay") return replayCommand(argc, argv);
        std::cerr << "usage: redis-dr-archiver follow | replay --dir DIR --base-replid ID --base-offset N [--until-ms MS] [--skip END,...] [--plan-only]\n";
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
