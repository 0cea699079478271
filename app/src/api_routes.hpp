#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api_auth.hpp"
#include "http_failure.hpp"
#include "http_server.hpp"
#include "service_config.hpp"

// The routes of the two listeners and what is refused on a request's head alone.
namespace redisdr {

inline std::string_view stringView(boost::beast::string_view v) { return {v.data(), v.size()}; }

// The path of a request target, percent-decoded; nothing if it is not a valid origin-form path.
std::optional<std::string> decodedPath(std::string_view target);

enum class Route { Readyz, Kv, Counter, Healthz, Metrics };

struct RouteSpec {
    const char* method;
    const char* pattern;  // "{name}" matches one non-empty path segment
    Route route;
};

// The routes of each listener. app/README.md lists them; test/readme.test.ts holds the two equal.
inline constexpr RouteSpec kPublicRoutes[] = {
    {"GET", "/kv/{key}", Route::Kv},
    {"PUT", "/kv/{key}", Route::Kv},
    {"POST", "/counter/{name}/incr", Route::Counter},
    {"GET", "/readyz", Route::Readyz},
};
inline constexpr RouteSpec kProbeRoutes[] = {
    {"GET", "/healthz", Route::Healthz},
    {"GET", "/readyz", Route::Readyz},
    {"GET", "/metrics", Route::Metrics},
};

// Whether PATH fits PATTERN; the one {parameter}'s value goes to PARAMETER.
bool fits(std::string_view pattern, std::string_view path, std::string& parameter);

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
    const auto path = decodedPath(stringView(head.target()));
    if (!path) return HttpFailure{400, "bad_request", "invalid request target", 0};
    m = match(routes, stringView(head.method_string()), *path);
    if (m.spec) return std::nullopt;
    if (m.allow.empty()) return HttpFailure{404, "not_found", "no such route", 0};
    return HttpFailure{405, "method_not_allowed", "method not allowed", 0};
}

// Any Transfer-Encoding frames a body (RFC 9112 6.1).
bool hasBody(const HttpRequestHead& head);

// Why the public listener refuses a request on its head alone, or nothing to let it through.
std::optional<HttpFailure> admit(const HttpRequestHead& head, const ServiceConfig& config, const ApiTokens& tokens, Match& m);

}  // namespace redisdr
