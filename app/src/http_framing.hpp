#pragma once

#include <boost/beast/core/flat_buffer.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "http_failure.hpp"
#include "http_server.hpp"

namespace redisdr {

// Why a request's head does not frame its body unambiguously (RFC 9112 section 6), or nothing.
// Refused: a Transfer-Encoding whose final coding is not chunked, chunked twice, or from an
// HTTP/1.0 client (400); a coding other than chunked (501); Transfer-Encoding with
// Content-Length, or a Content-Length list (400); a folded field line in RAW_HEAD (400,
// RFC 9112 5.2). Beast 1.74 accepts each of these: it unfolds obs-fold into one space, reads a
// body of length 0 after a non-chunked Transfer-Encoding (so the body's bytes would be read as
// the next request), and takes "3, 3" as 3. The caller answers and closes the connection.
std::optional<HttpFailure> framingRefusal(const HttpRequestHead& head, std::string_view rawHead);

// A flat_buffer that keeps a copy of what the parser consumes while recording, up to a cap:
// the request head exactly as it came, which Beast's parsed head no longer shows.
class HeadRecordingBuffer : public boost::beast::flat_buffer {
public:
    HeadRecordingBuffer(std::size_t maxSize, std::size_t recordCap) : boost::beast::flat_buffer(maxSize), recordCap_(recordCap) {}

    void startRecording() {
        recorded_.clear();
        recording_ = true;
    }
    std::string_view stopRecording() {
        recording_ = false;
        return recorded_;
    }
    // Hides flat_buffer::consume: Beast's read algorithms call it on this type.
    void consume(std::size_t n);

private:
    const std::size_t recordCap_;
    std::string recorded_;
    bool recording_ = false;
};

}  // namespace redisdr
