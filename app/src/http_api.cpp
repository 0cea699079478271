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

// Runs a handler and counts the request. A Redis failure becomes its HttpFailure; anything else
// a bare 500. The detail (addresses, Redis's text) is logged, never sent.
template <typename Handler>
httplib::Server::Handler instrumented(const std::string& route, ServiceMetrics& metrics, Handler handler) {
    return [route, &metrics, handler](const httplib::Request& req, httplib::Response& res) {
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
    };
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
    server.Put(R"(/kv/([^/]+))", instrumented("/kv/{key}", metrics, [&](const httplib::Request& req, httplib::Response& res) {
        const std::string key = req.matches[1];
        std::string why;
        if (!validName(key, config.maxKeyBytes, why)) return sendError(res, 400, why);
        auto replies = client.execute(withWait({"SET", "kv:" + key, req.body}, config), Idempotency::Safe);
        if (auto failure = writeFailure(replies, config)) return sendFailure(res, *failure, {{"key", key}});
        json body = {{"key", key}, {"stored", true}};
        addDurability(body, replies, config);
        sendJson(res, 200, body);
    }));

    server.Get(R"(/kv/([^/]+))", instrumented("/kv/{key}", metrics, [&](const httplib::Request& req, httplib::Response& res) {
        const std::string key = req.matches[1];
        std::string why;
        if (!validName(key, config.maxKeyBytes, why)) return sendError(res, 400, why);
        Reply reply = client.execute({"GET", "kv:" + key}, Idempotency::Safe);
        if (reply.isError()) return sendFailure(res, failureForReply(reply.errorCode()));
        if (reply.isNil()) return sendError(res, 404, "no such key");
        res.status = 200;
        res.set_content(reply.str, "application/octet-stream");
    }));

    server.Post(R"(/counter/([^/]+)/incr)", instrumented("/counter/{name}/incr", metrics, [&](const httplib::Request& req, httplib::Response& res) {
        const std::string name = req.matches[1];
        std::string why;
        if (!validName(name, config.maxKeyBytes, why)) return sendError(res, 400, why);
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

    // Every route but the NodeBalancer's /readyz needs a bearer token; checked before the body is read.
    server.set_pre_routing_handler([&metrics, tokens = ApiTokens(config.apiTokens)](const httplib::Request& req, httplib::Response& res) {
        if (req.path == "/readyz" || tokens.authorizes(req.get_header_value("Authorization"))) {
            return httplib::Server::HandlerResponse::Unhandled;
        }
        res.set_header("WWW-Authenticate", "Bearer realm=\"redis-dr\"");
        sendFailure(res, {401, "unauthorized", "missing or invalid bearer token", 0});
        metrics.countRequest("unauthorized", req.method, 401, 0);
        metrics.countFailure("unauthorized");
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
