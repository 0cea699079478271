#include "http_framing.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace redisdr {

namespace http = boost::beast::http;

namespace {

std::string lowercase(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// The transfer codings of every Transfer-Encoding field, in order (a list per RFC 9110 5.6.1:
// empty elements ignored, optional whitespace trimmed), lowercased; parameters are kept.
std::vector<std::string> transferCodings(const HttpRequestHead& head) {
    std::vector<std::string> codings;
    auto [field, end] = head.equal_range(http::field::transfer_encoding);
    for (; field != end; ++field) {
        const std::string_view value(field->value().data(), field->value().size());
        std::size_t start = 0;
        while (start <= value.size()) {
            const auto comma = std::min(value.find(',', start), value.size());
            auto element = value.substr(start, comma - start);
            while (!element.empty() && (element.front() == ' ' || element.front() == '\t')) element.remove_prefix(1);
            while (!element.empty() && (element.back() == ' ' || element.back() == '\t')) element.remove_suffix(1);
            if (!element.empty()) codings.push_back(lowercase(element));
            start = comma + 1;
        }
    }
    return codings;
}

// A field line that starts with whitespace continues the previous one (obs-fold).
bool hasFoldedLine(std::string_view rawHead) {
    for (auto at = rawHead.find("\r\n"); at != std::string_view::npos; at = rawHead.find("\r\n", at + 2)) {
        if (at + 2 < rawHead.size() && (rawHead[at + 2] == ' ' || rawHead[at + 2] == '\t')) return true;
    }
    return false;
}

HttpFailure badFraming(const char* message) { return {400, "bad_request", message, 0}; }

}  // namespace

std::optional<HttpFailure> framingRefusal(const HttpRequestHead& head, std::string_view rawHead) {
    if (hasFoldedLine(rawHead)) return badFraming("folded header field line");
    const auto lengths = head.count(http::field::content_length);
    if (lengths > 1 || head[http::field::content_length].find(',') != boost::beast::string_view::npos) {
        return badFraming("Content-Length must be one number");
    }
    if (head.count(http::field::transfer_encoding) == 0) return std::nullopt;
    if (lengths > 0) return badFraming("both Transfer-Encoding and Content-Length");
    if (head.version() < 11) return badFraming("Transfer-Encoding in an HTTP/1.0 request");
    const auto codings = transferCodings(head);
    if (codings.empty() || codings.back() != "chunked") return badFraming("the final transfer coding must be chunked");
    if (std::count(codings.begin(), codings.end(), "chunked") > 1) return badFraming("chunked applied more than once");
    if (codings.size() > 1) return HttpFailure{501, "not_implemented", "no transfer coding but chunked is supported", 0};
    return std::nullopt;
}

void HeadRecordingBuffer::consume(std::size_t n) {
    if (recording_ && recorded_.size() < recordCap_) {
        const auto bytes = data();
        const auto take = std::min({n, bytes.size(), recordCap_ - recorded_.size()});
        recorded_.append(static_cast<const char*>(bytes.data()), take);
    }
    boost::beast::flat_buffer::consume(n);
}

}  // namespace redisdr
