#include "http_api.hpp"

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "api_auth.hpp"
#include "counter_increment.hpp"
#include "http_failure.hpp"
#include "log.hpp"
#include "redis_pipeline.hpp"
#include "work_queue.hpp"

namespace redisdr {

namespace {

namespace http = boost::beast::http;
using json = nlohmann::json;

// A response, and the kind of failure it reports (empty for a success), for the metrics; and
// what went wrong in detail, for the log only.
struct Answer {
    HttpResponse response;
    std::string failureKind;
    std::string detail;
};

std::string_view view(boost::beast::string_view v) { return {v.data(), v.size()}; }

HttpResponse jsonResponse(int status, const json& body, unsigned version = 11) {
    HttpResponse res{static_cast<http::status>(status), version};
    res.set(http::field::content_type, "application/json");
    res.body() = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return res;
}

// JSON {"error", "kind", ...extra}, with Retry-After where waiting helps.
Answer failureAnswer(const HttpFailure& failure, json extra = json::object(), unsigned version = 11) {
    extra["error"] = failure.message;
    extra["kind"] = failure.kind;
    Answer answer{jsonResponse(failure.status, extra, version), failure.kind, ""};
    if (failure.retryAfterSeconds > 0) answer.response.set(http::field::retry_after, std::to_string(failure.retryAfterSeconds));
    return answer;
}

Answer badRequest(const std::string& why) { return failureAnswer({400, "bad_request", why, 0}); }

// Keys and counter names: bounded length, no control characters.
std::optional<std::string> invalidName(const std::string& name, std::size_t maxBytes) {
    if (name.empty()) return "empty name";
    if (name.size() > maxBytes) return "name longer than " + std::to_string(maxBytes) + " bytes";
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7f) return "name contains a control character";
    }
    return std::nullopt;
}

// The path of a request target, percent-decoded; nothing if it is not a valid origin-form path.
std::optional<std::string> decodedPath(std::string_view target) {
    target = target.substr(0, target.find('?'));
    if (target.empty() || target.front() != '/') return std::nullopt;
    std::string path;
    path.reserve(target.size());
    const auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < target.size(); ++i) {
        if (target[i] != '%') {
            path += target[i];
            continue;
        }
        if (i + 2 >= target.size() || hex(target[i + 1]) < 0 || hex(target[i + 2]) < 0) return std::nullopt;
        path += static_cast<char>(hex(target[i + 1]) * 16 + hex(target[i + 2]));
        i += 2;
    }
    return path;
}

enum class Route { Readyz, Kv, Counter, Healthz, Metrics };

struct RouteSpec {
    const char* method;
    const char* pattern;  // "{name}" matches one non-empty path segment
    Route route;
};

// The routes of each listener. app/README.md lists them; test/readme.test.ts holds the two equal.
constexpr RouteSpec kPublicRoutes[] = {
    {"GET", "/kv/{key}", Route::Kv},
    {"PUT", "/kv/{key}", Route::Kv},
    {"POST", "/counter/{name}/incr", Route::Counter},
    {"GET", "/readyz", Route::Readyz},
};
constexpr RouteSpec kProbeRoutes[] = {
    {"GET", "/healthz", Route::Healthz},
    {"GET", "/readyz", Route::Readyz},
    {"GET", "/metrics", Route::Metrics},
};

// Whether PATH fits PATTERN; the one {parameter}'s value goes to PARAMETER.
bool fits(std::string_view pattern, std::string_view path, std::string& parameter) {
    const auto open = pattern.find('{');
    if (open == std::string_view::npos) return pattern == path;
    const auto suffix = pattern.substr(pattern.find('}') + 1);
    if (path.size() <= open + suffix.size() || path.substr(0, open) != pattern.substr(0, open) ||
        path.substr(path.size() - suffix.size()) != suffix) {
        return false;
    }
    const auto value = path.substr(open, path.size() - open - suffix.size());
    if (value.find('/') != std::string_view::npos) return false;
    parameter.assign(value);
    return true;
}

struct Match {
    const RouteSpec* spec = nullptr;  // nothing: no route, or not with this method
    std::string parameter;
    std::string allow;  // the methods the path takes, when it matched with another method
};

template <std::size_t N>
Match match(const RouteSpec (&routes)[N], std::string_view method, const std::string& path) {
    Match m;
    std::string parameter;
    for (const auto& spec : routes) {
        if (!fits(spec.pattern, path, parameter)) continue;
        if (method == spec.method) return {&spec, parameter, ""};
        m.allow += (m.allow.empty() ? "" : ", ") + std::string(spec.method);
    }
    return m;
}

// Why a listener refuses a request for its route and method alone, or nothing (and the match).
template <std::size_t N>
std::optional<HttpFailure> routeRefusal(const RouteSpec (&routes)[N], const HttpRequestHead& head, Match& m) {
    const auto path = decodedPath(view(head.target()));
    if (!path) return HttpFailure{400, "bad_request", "invalid request target", 0};
    m = match(routes, view(head.method_string()), *path);
    if (m.spec) return std::nullopt;
    if (m.allow.empty()) return HttpFailure{404, "not_found", "no such route", 0};
    return HttpFailure{405, "method_not_allowed", "method not allowed", 0};
}

// Any Transfer-Encoding frames a body (RFC 9112 6.1).
bool hasBody(const HttpRequestHead& head) {
    return head.count(http::field::transfer_encoding) > 0 ||
           (head.count(http::field::content_length) > 0 && head[http::field::content_length] != "0");
}

// Why the public listener refuses a request on its head alone, or nothing to let it through.
std::optional<HttpFailure> admit(const HttpRequestHead& head, const ServiceConfig& config, const ApiTokens& tokens, Match& m) {
    if (auto refusal = routeRefusal(kPublicRoutes, head, m)) return refusal;
    if (m.spec->route == Route::Readyz) return std::nullopt;  // the NodeBalancer's check has no token
    const auto method = head.method();
    if (!tokens.authorizes(std::string(head[http::field::authorization]))) {
        return HttpFailure{401, "unauthorized", "missing or invalid bearer token", 0};
    }
    if (method != http::verb::put) {
        if (hasBody(head)) return HttpFailure{413, "too_large", "this route takes no request body", 0};
        return std::nullopt;
    }
    const auto encoding = head[http::field::content_encoding];
    if (!encoding.empty() && encoding != "identity") {
        return HttpFailure{415, "unsupported_encoding", "values are stored as sent: no Content-Encoding", 0};
    }
    if (head.count(http::field::transfer_encoding) > 0) return std::nullopt;  // bounded while it is read
    if (head.count(http::field::content_length) == 0) {
        return HttpFailure{411, "length_required", "Content-Length or a chunked body is required", 0};
    }
    // The parser has already refused a malformed Content-Length. More than 12 digits is more
    // than any MAX_VALUE_BYTES (and than stoull's range, at 20).
    const std::string length(head[http::field::content_length]);
    if (length.size() > 12 || std::stoull(length) > config.maxValueBytes) {
        return HttpFailure{413, "too_large", "request body larger than " + std::to_string(config.maxValueBytes) + " bytes", 0};
    }
    return std::nullopt;
}

// Adds WAIT after a write when durable writes are configured.
std::vector<std::vector<std::string>> withWait(std::vector<std::string> write, const ServiceConfig& config) {
    std::vector<std::vector<std::string>> commands{std::move(write)};
    if (config.waitReplicas > 0) {
        commands.push_back({"WAIT", std::to_string(config.waitReplicas), std::to_string(config.waitTimeout.count())});
    }
    return commands;
}

// The write's replies (the command, then WAIT when durable writes are on): nothing if it was
// acknowledged as configured, else why not. A write WAIT did not confirm is not acknowledged.
std::optional<HttpFailure> writeFailure(const std::vector<Reply>& replies, const ServiceConfig& config) {
    if (replies[0].isError()) return failureForReply(replies[0].errorCode());
    if (config.waitReplicas == 0 || replies.size() < 2) return std::nullopt;
    if (replies[1].isError()) return failureForReply(replies[1].errorCode());
    if (replies[1].integer < config.waitReplicas) return notReplicated(replies[1].integer, config.waitReplicas);
    return std::nullopt;
}

void addDurability(json& body, const std::vector<Reply>& replies, const ServiceConfig& config) {
    if (config.waitReplicas == 0 || replies.size() < 2) return;
    body["replicas"] = replies[1].integer;
}

// One admitted request on its way through Redis: what to send, and how to read the replies.
struct Job {
    std::shared_ptr<const HttpRequest> request;
    std::string route;
    std::chrono::steady_clock::time_point started;
    std::vector<std::vector<std::string>> commands;
    Idempotency idempotency = Idempotency::Safe;
    std::function<Answer(std::vector<Reply>&)> answer;
    HttpCompletion complete;
};

// The I/O thread's own pipelined connection to the master (set as the thread starts), if any.
thread_local std::shared_ptr<RedisPipeline> threadPipeline;

class Api {
public:
    Api(const ServiceConfig& config, MasterClient& client, ServiceMetrics& metrics, ServiceState& state, WorkQueue& work)
        : config_(config), client_(client), metrics_(metrics), state_(state), work_(work), tokens_(config.apiTokens) {}

    std::optional<HttpResponse> admitHead(const HttpRequestHead& head) const {
        Match m;
        const auto refusal = admit(head, config_, tokens_, m);
        if (!refusal) return std::nullopt;
        Answer answer = failureAnswer(*refusal, json::object(), head.version());
        if (refusal->status == 401) answer.response.set(http::field::www_authenticate, "Bearer realm=\"redis-dr\"");
        if (refusal->status == 405) answer.response.set(http::field::allow, m.allow);
        metrics_.countRequest("refused", std::string(head.method_string()), refusal->status, 0);
        metrics_.countFailure(refusal->kind);
        return std::move(answer.response);
    }

    // On an I/O thread: answers at once what needs no Redis; the rest goes to the master pipelined
    // with other requests (its first attempt), and any retry runs on a worker, since it may wait
    // out back-off and rediscovery.
    void handle(std::shared_ptr<const HttpRequest> req, HttpCompletion complete) const {
        auto job = std::make_shared<Job>();
        job->started = std::chrono::steady_clock::now();
        const Match m = match(kPublicRoutes, view(req->method_string()), decodedPath(view(req->target())).value_or(""));
        job->route = m.spec ? m.spec->pattern : "unknown";
        job->request = std::move(req);
        job->complete = std::move(complete);
        if (auto answer = plan(*job, m)) return finish(*job, std::move(*answer));
        const auto deadline = client_.deadlineFromNow();
        if (client_.pipelining()) {
            auto first = [this, job, deadline](Attempt attempt) {
                if (!attempt.error) return finish(*job, guarded([&] { return job->answer(attempt.replies); }));
                retryOnWorker(job, std::move(attempt), deadline);
            };
            // This thread's own connection first; the carriers while it connects or after it is retired.
            if (threadPipeline && threadPipeline->submit(job->commands, deadline, first)) return;
            if (!client_.submit(job->commands, deadline, std::move(first))) finish(*job, overloaded());
            return;
        }
        retryOnWorker(job, std::nullopt, deadline);
    }

private:
    static Answer overloaded() { return failureAnswer({503, "overloaded", "the service is at its queue limit; retry", 1}); }

    // What the request sends to Redis and how its replies become an answer; or its answer now.
    std::optional<Answer> plan(Job& job, const Match& m) const {
        if (!m.spec) return failureAnswer({404, "not_found", "no such route", 0});
        switch (m.spec->route) {
            case Route::Readyz: {
                const bool ready = state_.ready && !state_.draining;
                return Answer{jsonResponse(ready ? 200 : 503, {{"ready", ready}}), "", ""};
            }
            case Route::Kv:
                return job.request->method() == http::verb::put ? planPut(job, m.parameter) : planGet(job, m.parameter);
            case Route::Counter:
                return planIncrement(job, m.parameter);
            default:
                return failureAnswer({404, "not_found", "no such route", 0});
        }
    }

    std::optional<Answer> planPut(Job& job, const std::string& key) const {
        if (auto why = invalidName(key, config_.maxKeyBytes)) return badRequest(*why);
        job.commands = withWait({"SET", "kv:" + key, job.request->body()}, config_);
        job.answer = [this, key](std::vector<Reply>& replies) {
            if (auto failure = writeFailure(replies, config_)) return failureAnswer(*failure, {{"key", key}});
            json body = {{"key", key}, {"stored", true}};
            addDurability(body, replies, config_);
            return Answer{jsonResponse(200, body), "", ""};
        };
        return std::nullopt;
    }

    std::optional<Answer> planGet(Job& job, const std::string& key) const {
        if (auto why = invalidName(key, config_.maxKeyBytes)) return badRequest(*why);
        job.commands = {{"GET", "kv:" + key}};
        job.answer = [](std::vector<Reply>& replies) {
            Reply& reply = replies.front();
            if (reply.isError()) return failureAnswer(failureForReply(reply.errorCode()));
            if (reply.isNil()) return failureAnswer({404, "not_found", "no such key", 0});
            HttpResponse res{http::status::ok, 11};
            res.set(http::field::content_type, "application/octet-stream");
            res.body() = std::move(reply.str);
            return Answer{std::move(res), "", ""};
        };
        return std::nullopt;
    }

    std::optional<Answer> planIncrement(Job& job, const std::string& name) const {
        if (auto why = invalidName(name, config_.maxKeyBytes)) return badRequest(*why);
        std::vector<std::string> keys;
        for (auto [it, end] = job.request->equal_range("Idempotency-Key"); it != end; ++it) keys.emplace_back(view(it->value()));
        const auto header = parseIdempotencyKey(keys);
        if (!header.problem.empty()) return badRequest(header.problem);
        // A bare INCR is never retried once it may have reached Redis; with a key a retry
        // finds the first attempt's outcome, so it may be retried like a read.
        job.idempotency = header.key ? Idempotency::Safe : Idempotency::Unsafe;
        job.commands = withWait(incrementCommand(name, header.key, config_.idempotencyKeep), config_);
        job.answer = [this, name](std::vector<Reply>& replies) {
            const auto counted = readIncrement(replies[0]);
            if (auto failure = writeFailure(replies, config_)) {
                // The increment may have happened: say so, since retrying it without a key counts again.
                json extra = {{"name", name}};
                if (counted) extra["value"] = counted->value;
                return failureAnswer(*failure, extra);
            }
            if (!counted) return failureAnswer({500, "internal", "internal error", 0});
            json body = {{"name", name}, {"value", counted->value}};
            addDurability(body, replies, config_);
            Answer answer{jsonResponse(200, body), "", ""};
            if (counted->replayed) answer.response.set("Idempotent-Replayed", "true");
            return answer;
        };
        return std::nullopt;
    }

    // The rest of a request after FIRST (or all of it, without pipelining), on a worker.
    void retryOnWorker(const std::shared_ptr<Job>& job, std::optional<Attempt> first, Clock::time_point deadline) const {
        const bool queued = work_.tryPush([this, job, first = std::move(first), deadline] {
            finish(*job, guarded([&] {
                auto replies = first ? client_.executeAfter(*first, job->commands, job->idempotency, deadline)
                                     : client_.execute(job->commands, job->idempotency);
                return job->answer(replies);
            }));
        });
        if (!queued) finish(*job, overloaded());
    }

    // A Redis failure becomes its HttpFailure, anything else a bare 500. The detail (addresses,
    // Redis's text) is logged, never sent.
    template <typename Run>
    Answer guarded(Run&& run) const {
        try {
            return run();
        } catch (const RedisError& e) {
            Answer answer = failureAnswer(failureFor(e.kind()));
            answer.detail = e.what();
            return answer;
        } catch (const std::exception& e) {
            Answer answer = failureAnswer({500, "internal", "internal error", 0});
            answer.detail = e.what();
            return answer;
        }
    }

    // Counts, logs a server-side failure, and answers.
    void finish(Job& job, Answer answer) const {
        const auto& req = *job.request;
        answer.response.version(req.version());
        const int status = static_cast<int>(answer.response.result_int());
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - job.started).count();
        const std::string method(req.method_string());
        metrics_.countRequest(job.route, method, status, seconds);
        if (!answer.failureKind.empty()) metrics_.countFailure(answer.failureKind);
        if (status >= 500) {
            logLine("warn", "request failed", {{"route", job.route}, {"method", method}, {"status", status}, {"kind", answer.failureKind},
                                               {"detail", answer.detail}, {"ms", static_cast<long long>(seconds * 1000)}});
        }
        job.complete(std::move(answer.response));
    }

    const ServiceConfig& config_;
    MasterClient& client_;
    ServiceMetrics& metrics_;
    ServiceState& state_;
    WorkQueue& work_;
    const ApiTokens tokens_;
};

// A refusal the server itself makes (limits, overload, timeouts), counted like the API's own.
std::function<HttpResponse(const HttpFailure&, const std::string&)> counted(ServiceMetrics& metrics) {
    return [&metrics](const HttpFailure& failure, const std::string& method) {
        metrics.countRequest("refused", method, failure.status, 0);
        metrics.countFailure(failure.kind);
        return std::move(failureAnswer(failure).response);
    };
}

}  // namespace

HttpRoutes apiRoutes(const ServiceConfig& config, MasterClient& client, ServiceMetrics& metrics, ServiceState& state, WorkQueue& work) {
    auto api = std::make_shared<Api>(config, client, metrics, state, work);
    HttpRoutes routes;
    if (client.pipelining()) {
        routes.threadStarted = [&client, &work](boost::asio::io_context& loop) {
            threadPipeline = std::make_shared<RedisPipeline>(loop, client, work);
        };
    }
    routes.admit = [api](const HttpRequestHead& head) { return api->admitHead(head); };
    routes.handle = [api](std::shared_ptr<const HttpRequest> req, HttpCompletion complete) { api->handle(std::move(req), std::move(complete)); };
    routes.refuse = counted(metrics);
    // While draining, clients are told to reconnect (through the load balancer, elsewhere).
    routes.draining = [&state] { return state.draining.load(); };
    return routes;
}

HttpRoutes probeRoutes(MasterClient& client, ServiceMetrics& metrics, ServiceState& state) {
    HttpRoutes routes;
    routes.admit = [&metrics](const HttpRequestHead& head) -> std::optional<HttpResponse> {
        Match m;
        auto refusal = routeRefusal(kProbeRoutes, head, m);
        if (!refusal && hasBody(head)) refusal = HttpFailure{413, "too_large", "probes take no request body", 0};
        if (!refusal) return std::nullopt;
        metrics.countFailure(refusal->kind);
        Answer answer = failureAnswer(*refusal, json::object(), head.version());
        if (!m.allow.empty()) answer.response.set(http::field::allow, m.allow);
        return std::move(answer.response);
    };
    routes.handle = [&client, &metrics, &state](std::shared_ptr<const HttpRequest> request, HttpCompletion complete) {
        const HttpRequest& req = *request;
        const Match m = match(kProbeRoutes, view(req.method_string()), decodedPath(view(req.target())).value_or(""));
        HttpResponse res;
        switch (m.spec ? m.spec->route : Route::Healthz) {
            case Route::Readyz: {
                const auto master = client.currentMaster();
                const bool ready = state.ready && !state.draining;
                res = jsonResponse(ready ? 200 : 503, {{"ready", ready}, {"draining", state.draining.load()},
                                                       {"master", master ? master->str() : ""}});
                break;
            }
            case Route::Metrics:
                res = HttpResponse{http::status::ok, 11};
                res.set(http::field::content_type, "text/plain; version=0.0.4");
                res.body() = metrics.render(client.currentMaster(), client.lastMasterChange());
                break;
            default:
                // Liveness: the process and its HTTP loop only. Never Redis: a failover must not restart app pods.
                res = jsonResponse(200, {{"status", "ok"}});
        }
        res.version(req.version());
        complete(std::move(res));
    };
    routes.refuse = counted(metrics);
    routes.draining = [&state] { return state.draining.load(); };
    return routes;
}

HttpLimits apiLimits(const ServiceConfig& config) {
    HttpLimits limits;
    limits.maxConnections = config.httpMaxConnections;
    limits.maxHeaderBytes = config.httpMaxHeaderBytes;
    limits.maxHeaderCount = config.httpMaxHeaderCount;
    limits.maxTargetBytes = config.httpMaxUrlBytes;
    limits.maxBodyBytes = config.maxValueBytes;
    limits.bodyBufferBytes = config.httpBodyBufferBytes;
    limits.readTimeout = config.httpReadTimeout;
    limits.writeTimeout = config.httpReadTimeout;
    return limits;
}

HttpLimits probeLimits() {
    HttpLimits limits;
    limits.maxConnections = 64;
    limits.maxHeaderBytes = 8192;
    limits.maxHeaderCount = 32;
    limits.maxTargetBytes = 256;
    limits.maxBodyBytes = 0;
    limits.bodyBufferBytes = 0;
    limits.readTimeout = std::chrono::seconds(5);
    limits.writeTimeout = std::chrono::seconds(5);
    return limits;
}

}  // namespace redisdr
