#include "api_routes.hpp"

namespace redisdr {

namespace http = boost::beast::http;

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

}  // namespace redisdr
