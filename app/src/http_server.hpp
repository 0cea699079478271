#pragma once

#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "http_failure.hpp"

namespace boost::asio {
class io_context;
}

namespace redisdr {

using HttpRequestHead = boost::beast::http::request_header<>;
using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

struct HttpListenerState;

// What one listener lets a client do. Every limit applies before the request is handed on, and
// the memory a listener holds is bounded by them whatever clients send:
// maxConnections x (maxHeaderBytes + a read buffer) + bodyBufferBytes.
struct HttpLimits {
    std::size_t maxConnections = 1024;     // more are answered 503 and closed
    std::size_t maxHeaderBytes = 16384;    // request line and headers together: else 431
    std::size_t maxHeaderCount = 64;       // else 431
    std::size_t maxTargetBytes = 2048;     // the request line's target: else 414
    std::size_t maxBodyBytes = 1 << 20;    // whatever the framing: else 413
    std::size_t bodyBufferBytes = 64 << 20;  // bodies held at once across connections: else 503
    // From the moment the server waits for a request to the last byte of its body; a client
    // that is slower (or idles on a keep-alive connection) is cut off.
    std::chrono::milliseconds readTimeout{10000};
    std::chrono::milliseconds writeTimeout{10000};
    unsigned keepAliveRequests = 100;
};

// Answers a request, now or later and on any thread, by calling it once.
using HttpCompletion = std::function<void(HttpResponse)>;

// How a listener answers. Every function is called on an I/O thread and must not block: work
// that waits (on Redis) goes elsewhere and answers through the completion.
struct HttpRoutes {
    // A refusal decided on the head alone (route, method, credentials, framing), or nothing.
    std::function<std::optional<HttpResponse>(const HttpRequestHead&)> admit;
    std::function<void(std::shared_ptr<const HttpRequest>, HttpCompletion)> handle;
    // Renders, and counts, a refusal the server makes itself: limits, overload, timeouts.
    std::function<HttpResponse(const HttpFailure&, const std::string& method)> refuse;
    // While true every response says Connection: close.
    std::function<bool()> draining;
    // Optional: called on each I/O thread as it starts, with the event loop it alone runs. A
    // connection stays on one loop, so admit and handle for it are always called on that thread.
    std::function<void(boost::asio::io_context&)> threadStarted;
};

// An HTTP/1.1 listener on Boost.Beast: event-driven I/O threads, each running its own event loop
// (no locks or hand-overs between them), read, bound and answer requests and hand admitted ones
// to the routes. Connections are spread over the loops as they are accepted.
class HttpServer {
public:
    HttpServer(HttpLimits limits, HttpRoutes routes);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and listens; false (and why) if the address cannot be had.
    bool listen(const std::string& bind, int port, std::string& error);
    void start(std::size_t ioThreads);
    // Stops accepting; requests already read are still answered until stop().
    void stopAccepting();
    // Stops the I/O threads and joins them; open connections are dropped.
    void stop();

private:
    std::unique_ptr<HttpListenerState> impl_;
};

}  // namespace redisdr
