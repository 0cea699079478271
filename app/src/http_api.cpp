#include "http_api.hpp"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>

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

void addDurability(json& body, const std::vector<Reply>& replies, const ServiceConfig& config) {
    if (config.waitReplicas == 0 || replies.size() < 2) return;
    body["replicas"] = replies[1].integer;
    body["durable"] = replies[1].integer >= config.waitReplicas;
}

// Runs a handler, turning Redis failures into 503 with the error kind, and counts the request.
template <typename Handler>
httplib::Server::Handler instrumented(const std::string& route, ServiceMetrics& metrics, Handler handler) {
    return [route, &metrics, handler](const httplib::Request& req, httplib::Response& res) {
        const auto started = std::chrono::steady_clock::now();
        try {
            handler(req, res);
        } catch (const RedisError& e) {
            res.set_header("Retry-After", "1");
            sendError(res, 503, e.what(), errorKindName(e.kind()));
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        metrics.countRequest(route, req.method, res.status, seconds);
        if (res.status >= 500) {
            logLine("warn", "request failed", {{"route", route}, {"method", req.method}, {"status", res.status},
                                               {"ms", static_cast<long long>(seconds * 1000)}});
        }
    };
}

}  // namespace

void installRoutes(httplib::Server& server, const ServiceConfig& config, MasterClient& client,
                   ServiceMetrics& metrics, ServiceState& state) {
    server.Put(R"(/kv/([^/]+))", instrumented("/kv/{key}", metrics, [&](const httplib::Request& req, httplib::Response& res) {
        const std::string key = req.matches[1];
        std::string why;
        if (!validName(key, config.maxKeyBytes, why)) return sendError(res, 400, why);
        auto replies = client.execute(withWait({"SET", "kv:" + key, req.body}, config), Idempotency::Safe);
        if (replies[0].isError()) return sendError(res, 502, replies[0].str, "reply");
        json body = {{"key", key}, {"stored", true}};
        addDurability(body, replies, config);
        sendJson(res, 200, body);
    }));

    server.Get(R"(/kv/([^/]+))", instrumented("/kv/{key}", metrics, [&](const httplib::Request& req, httplib::Response& res) {
        const std::string key = req.matches[1];
        std::string why;
        if (!validName(key, config.maxKeyBytes, why)) return sendError(res, 400, why);
        Reply reply = client.execute({"GET", "kv:" + key}, Idempotency::Safe);
        if (reply.isError()) return sendError(res, 502, reply.str, "reply");
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
        if (replies[0].isError()) return sendError(res, 409, replies[0].str, "reply");
        json body = {{"name", name}, {"value", replies[0].integer}};
        addDurability(body, replies, config);
        sendJson(res, 200, body);
    }));

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

}  // namespace redisdr
