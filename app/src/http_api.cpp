#include "http_api.hpp"

#include <httplib.h>

#include <chrono>
#include <optional>
#include <nlohmann/json.hpp>

#include "api_auth.hpp"
#include "http_failure.hpp"
#include "log.hpp"

namespace redisdr {

namespace {

using json = nlohmann::json;

void sendJson(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void sendError(httplib::Response& res, int status, const std::string& message, const std::string& kind = "") {
    json body = {{"error", message}};
    if (!kind.empty()) body["kind"] = kind;
    sendJson(res, status, body);
}

// Keys and counter names: bounded length, no control characters.
bool validName(const std::string& name, std::size_t maxBytes, std::string& why) {
    if (name.empty()) {
        why = "empty name";
        return false;
    }
    if (name.size() > maxBytes) {
        why = "name longer than " + std::to_string(maxBytes) + " bytes";
        return false;
    }
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7f) {
            why = "name contains a control character";
            return false;
        }
    }
    return true;
}

// Adds WAIT after a write when durable writes are configured; returns the replicas that acknowledged.
std::vector<std::vector<std::string>> withWait(std::vector<std::string> write, const ServiceConfig& config) {
    std::vector<std::vector<std::string>> commands{std::move(write)};
    if (config.waitReplicas > 0) {
        commands.push_back({"WAIT", std::to_string(config.waitReplicas), std::to_string(config.waitTimeout.count())});
    }
    return commands;
}

// Sends a failure as JSON {"error", "kind", ...extra} with Retry-After where waiting helps.
void sendFailure(httplib::Response& res, const HttpFailure& failure, json extra = json::object()) {
    if (failure.retryAfterSeconds > 0) res.set_header("Retry-After", std::to_string(failure.retryAfterSeconds));
    extra["error"] = failure.message;
    extra["kind"] = failure.kind;
    sendJson(res, failure.status, extra);
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

HttpFailure tooLargeFailure(const ServiceConfig& config) {
    return {413, "too_large", "request body larger than " + std::to_string(config.maxValueBytes) + " bytes", 0};
}

// Any Transfer-Encoding frames a body (RFC 9112 6.1; cpp-httplib decodes chunked).
bool isChunked(const httplib::Request& req) { return req.has_header("Transfer-Encoding"); }

bool hasBody(const httplib::Request& req) {
    return isChunked(req) || (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

enum class Route { Readyz, Kv, Counter, Unknown };

Route routeOf(const std::string& path) {
    if (path == "/readyz") return Route::Readyz;
    const auto tail = [&](const std::string& prefix) { return path.compare(0, prefix.size(), prefix) == 0 ? path.substr(prefix.size()) : std::string(); };
    const std::string key = tail("/kv/");
    if (!key.empty() && key.find('/') == std::string::npos) return Route::Kv;
    const std::string counter = tail("/counter/");
    const std::string suffix = "/incr";
    if (counter.size() > suffix.size() && counter.compare(counter.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        counter.find('/') == counter.size() - suffix.size()) {
        return Route::Counter;
    }
    return Route::Unknown;
}

std::string allowedMethods(const std::string& path) {
    switch (routeOf(path)) {
        case Route::Kv: return "GET, PUT";
        case Route::Counter: return "POST";
        default: return "GET";
    }
}

// Why the public listener refuses a request on its headers alone, or nothing to let it through.
std::optional<HttpFailure> admit(const httplib::Request& req, const ServiceConfig& config, const ApiTokens& tokens) {
    const Route route = routeOf(req.path);
    const std::string& m = req.method;
    if (route == Route::Unknown) return HttpFailure{404, "not_found", "no such route", 0};
    const bool allowed = (route == Route::Readyz && m == "GET") || (route == Route::Kv && (m == "GET" || m == "PUT")) ||
                         (route == Route::Counter && m == "POST");
    if (!allowed) return HttpFailure{405, "method_not_allowed", "method not allowed", 0};
    if (route == Route::Readyz) return std::nullopt;
    if (!tokens.authorizes(req.get_header_value("Authorization"))) {
        return HttpFailure{401, "unauthorized", "missing or invalid bearer token", 0};
    }
    if (m != "PUT") {
        if (hasBody(req)) return HttpFailure{413, "too_large", "this route takes no request body", 0};
        return std::nullopt;
    }
    const std::string encoding = req.get_header_value("Content-Encoding");
    if (!encoding.empty() && encoding != "identity") {
        return HttpFailure{415, "unsupported_encoding", "values are stored as sent: no Content-Encoding", 0};
    }
    if (isChunked(req)) return std::nullopt;  // bounded while it is read
    if (!req.has_header("Content-Length")) return HttpFailure{411, "length_required", "Content-Length or a chunked body is required", 0};
    const std::string length = req.get_header_value("Content-Length");
    if (length.empty() || length.find_first_not_of("0123456789") != std::string::npos) {
        return HttpFailure{400, "bad_request", "invalid Content-Length", 0};
    }
    // More than 12 digits is more than any MAX_VALUE_BYTES (and than stoull's range, at 20).
    if (length.size() > 12 || std::stoull(length) > config.maxValueBytes) return tooLargeFailure(config);
    return std::nullopt;
}

// Runs a handler for one request and counts it. A Redis failure becomes its HttpFailure; anything
// else a bare 500. The detail (addresses, Redis's text) is logged, never sent.
template <typename Handler>
void measured(const std::string& route, ServiceMetrics& metrics, const httplib::Request& req, httplib::Response& res,
              Handler&& handler) {
    const auto started = std::chrono::steady_clock::now();
    std::string detail;
    try {
        handler(req, res);
    } catch (const RedisError& e) {
        detail = e.what();
        sendFailure(res, failureFor(e.kind()));
    } catch (const std::exception& e) {
        detail = e.what();
        sendFailure(res, {500, "internal", "internal error", 0});
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    metrics.countRequest(route, req.method, res.status, seconds);
    if (res.status >= 400 && res.status != 404) {
        const auto body = json::parse(res.body, nullptr, false);
        const std::string kind = body.is_object() && body.contains("kind") ? body["kind"].get<std::string>() : "client";
        metrics.countFailure(kind);
        if (res.status >= 500) {
            logLine("warn", "request failed", {{"route", route}, {"method", req.method}, {"status", res.status}, {"kind", kind},
                                               {"detail", detail}, {"ms", static_cast<long long>(seconds * 1000)}});
        }
    }
}

// A route handler that is measured() on every request.
template <typename Handler>
httplib::Server::Handler instrumented(const std::string& route, ServiceMetrics& metrics, Handler handler) {
    return [route, &metrics, handler](const httplib::Request& req, httplib::Response& res) { measured(route, metrics, req, res, handler); };
}

void installErrorHandlers(httplib::Server& server) {
    // An exception escaping a handler outside instrumented(): httplib would put its text in a header.
    server.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
        std::string detail = "unknown";
        try {
            if (error) std::rethrow_exception(error);
        } catch (const std::exception& e) {
            detail = e.what();
        } catch (...) {
        }
        logLine("error", "unhandled exception", {{"path", req.path}, {"detail", detail}});
        sendError(res, 500, "internal error", "internal");
    });

    // JSON bodies for errors httplib produces itself (404, 405, 413, 400 on malformed requests).
    server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return;
        const char* reason = res.status == 413 ? "request body too large"
                             : res.status == 404 ? "no such route"
                             : res.status == 405 ? "method not allowed"
                                                 : "bad request";
        sendError(res, res.status, reason);
    });
}

}  // namespace

void installApiRoutes(httplib::Server& server, const ServiceConfig& config, MasterClient& client,
                      ServiceMetrics& metrics, ServiceState& state) {
    // The value is read through a bounded receiver: whatever the framing, no more than
    // MAX_VALUE_BYTES is ever held (the gate already refused a larger Content-Length).
    server.Put(R"(/kv/([^/]+))", [&config, &client, &metrics](const httplib::Request& req, httplib::Response& res,
                                                              const httplib::ContentReader& read) {
        std::string value;
        bool tooLarge = false;
        const bool complete = read([&](const char* data, std::size_t length) {
            if (value.size() + length > config.maxValueBytes) {
                tooLarge = true;
                return false;
            }
            value.append(data, length);
            return true;
        });
        measured("/kv/{key}", metrics, req, res, [&](const httplib::Request& r, httplib::Response& out) {
            if (!complete) {
                out.set_header("Connection", "close");
                return sendFailure(out, tooLarge ? tooLargeFailure(config) : HttpFailure{400, "bad_request", "incomplete request body", 0});
            }
            const std::string key = r.matches[1];
            std::string why;
            if (!validName(key, config.maxKeyBytes, why)) return sendError(out, 400, why, "bad_request");
            auto replies = client.execute(withWait({"SET", "kv:" + key, value}, config), Idempotency::Safe);
            if (auto failure = writeFailure(replies, config)) return sendFailure(out, *failure, {{"key", key}});
            json body = {{"key", key}, {"stored", true}};
            addDurability(body, replies, config);
            sendJson(out, 200, body);
        });
    });

    server.Get(R"(/kv/([^/]+))", instrumented("/kv/{key}", metrics, [&](const httplib::Request& req, httplib::Response& res) {
        const std::string key = req.matches[1];
        std::string why;
        if (!validName(key, config.maxKeyBytes, why)) return sendError(res, 400, why, "bad_request");
        Reply reply = client.execute({"GET", "kv:" + key}, Idempotency::Safe);
        if (reply.isError()) return sendFailure(res, failureForReply(reply.errorCode()));
        if (reply.isNil()) return sendError(res, 404, "no such key");
        res.status = 200;
        res.set_content(reply.str, "application/octet-stream");
    }));

    server.Post(R"(/counter/([^/]+)/incr)", instrumented("/counter/{name}/incr", metrics, [&](const httplib::Request& req, httplib::Response& res) {
        const std::string name = req.matches[1];
        std::string why;
        if (!validName(name, config.maxKeyBytes, why)) return sendError(res, 400, why, "bad_request");
        // INCR is not idempotent: it is never retried once it may have reached Redis.
        auto replies = client.execute(withWait({"INCR", "counter:" + name}, config), Idempotency::Unsafe);
        if (auto failure = writeFailure(replies, config)) {
            // The increment may have happened: say so, since retrying it counts again.
            json extra = {{"name", name}};
            if (!replies[0].isError()) extra["value"] = replies[0].integer;
            return sendFailure(res, *failure, extra);
        }
        json body = {{"name", name}, {"value", replies[0].integer}};
        addDurability(body, replies, config);
        sendJson(res, 200, body);
    }));

    // Everything a request can be refused for is decided here, on its headers, before any body
    // is read: unknown routes, missing tokens, bodies the route does not take or cannot fit.
    server.set_pre_routing_handler([&config, &metrics, tokens = ApiTokens(config.apiTokens)](const httplib::Request& req, httplib::Response& res) {
        const auto refusal = admit(req, config, tokens);
        if (!refusal) return httplib::Server::HandlerResponse::Unhandled;
        if (refusal->status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"redis-dr\"");
        if (refusal->status == 405) res.set_header("Allow", allowedMethods(req.path));
        // A body may follow that nobody will read: the connection cannot carry another request.
        if (hasBody(req)) res.set_header("Connection", "close");
        sendFailure(res, *refusal);
        metrics.countRequest("refused", req.method, refusal->status, 0);
        metrics.countFailure(refusal->kind);
        return httplib::Server::HandlerResponse::Handled;
    });

    // The NodeBalancer's check: ready or not, nothing about pods or addresses.
    server.Get("/readyz", [&](const httplib::Request&, httplib::Response& res) {
        const bool ready = state.ready && !state.draining;
        sendJson(res, ready ? 200 : 503, {{"ready", ready}});
    });

    // While draining, clients are told to reconnect (through the load balancer, elsewhere).
    server.set_post_routing_handler([&state](const httplib::Request&, httplib::Response& res) {
        if (state.draining) res.set_header("Connection", "close");
    });

    installErrorHandlers(server);
}

void installProbeRoutes(httplib::Server& server, MasterClient& client, ServiceMetrics& metrics, ServiceState& state) {
    // Liveness: the process and its HTTP loop only. Never Redis: a failover must not restart app pods.
    server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { sendJson(res, 200, {{"status", "ok"}}); });

    server.Get("/readyz", [&](const httplib::Request&, httplib::Response& res) {
        const auto master = client.currentMaster();
        json body = {{"ready", state.ready && !state.draining}, {"draining", state.draining.load()},
                     {"master", master ? master->str() : ""}};
        sendJson(res, state.ready && !state.draining ? 200 : 503, body);
    });

    server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics.render(client.currentMaster(), client.lastMasterChange()), "text/plain; version=0.0.4");
    });

    installErrorHandlers(server);
}

}  // namespace redisdr
