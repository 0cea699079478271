#include "http_api.hpp"

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "api_auth.hpp"
#include "api_routes.hpp"
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
        const Match m = match(kPublicRoutes, stringView(req->method_string()), decodedPath(stringView(req->target())).value_or(""));
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
        for (auto [it, end] = job.request->equal_range("Idempotency-Key"); it != end; ++it) keys.emplace_back(stringView(it->value()));
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
        const Match m = match(kProbeRoutes, stringView(req.method_string()), decodedPath(stringView(req.target())).value_or(""));
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
