#include "http_server.hpp"

#include "http_framing.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>

#include <sstream>
#include <thread>
#include <vector>


namespace redisdr {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kReadChunk = 16384;
// A refused request's unread body is read and dropped for this long (or this much) before the
// socket closes, so the kernel does not answer it with a reset that destroys our response.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr std::size_t kLingerBytes = 1 << 20;

HttpFailure limitFailure(int status, const char* kind, const char* message) { return {status, kind, message, 0}; }

// Bytes of request bodies held at once, across every connection of a listener.
class BodyBudget {
public:
    explicit BodyBudget(std::size_t capacity) : capacity_(capacity) {}

    class Lease {
    public:
        Lease() = default;
        Lease(BodyBudget* budget, std::size_t bytes) : budget_(budget), bytes_(bytes) {}
        Lease(Lease&& other) noexcept : budget_(std::exchange(other.budget_, nullptr)), bytes_(other.bytes_) {}
        Lease& operator=(Lease&& other) noexcept {
            release();
            budget_ = std::exchange(other.budget_, nullptr);
            bytes_ = other.bytes_;
            return *this;
        }
        ~Lease() { release(); }
        void release() {
            if (budget_) budget_->held_ -= bytes_;
            budget_ = nullptr;
        }

    private:
        BodyBudget* budget_ = nullptr;
        std::size_t bytes_ = 0;
    };

    std::optional<Lease> reserve(std::size_t bytes) {
        std::size_t held = held_.load();
        do {
            if (held + bytes > capacity_) return std::nullopt;
        } while (!held_.compare_exchange_weak(held, held + bytes));
        return Lease(this, bytes);
    }

private:
    const std::size_t capacity_;
    std::atomic<std::size_t> held_{0};
};

}  // namespace

struct HttpListenerState {
    HttpListenerState(HttpLimits limits, HttpRoutes routes)
        : limits_(limits), routes_(std::move(routes)), budget_(limits.bodyBufferBytes),
          acceptor_(ioc_), retryAccept_(ioc_) {}

    const HttpLimits limits_;
    const HttpRoutes routes_;
    std::atomic<std::size_t> open_{0};
    BodyBudget budget_;
    // Declared after what sessions touch: sessions still pending die with the io_contexts.
    // The first loop also runs the acceptor; start() adds one loop per further I/O thread.
    net::io_context ioc_{1};
    std::vector<std::unique_ptr<net::io_context>> moreLoops_;
    std::vector<net::executor_work_guard<net::io_context::executor_type>> keepRunning_;
    std::size_t nextLoop_ = 0;
    tcp::acceptor acceptor_;
    net::steady_timer retryAccept_;
    std::vector<std::thread> threads_;

    net::io_context& loop(std::size_t i) { return i == 0 ? ioc_ : *moreLoops_[i - 1]; }
    std::size_t loops() const { return moreLoops_.size() + 1; }

    void accept();
    void refuseConnection(tcp::socket socket);
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, HttpListenerState& server)
        : stream_(std::move(socket)), server_(server), limits_(server.limits_),
          buffer_(std::max(limits_.maxHeaderBytes, kReadChunk) + kReadChunk, limits_.maxHeaderBytes), readDeadline_(stream_.get_executor()) {
        ++server_.open_;
    }
    ~Session() { --server_.open_; }

    void start() {
        net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->readHeader(); });
    }

private:
    void readHeader() {
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(limits_.maxHeaderBytes));
        parser_->body_limit(limits_.maxBodyBytes);
        lease_.reset();
        startReadDeadline();
        buffer_.startRecording();
        http::async_read_header(stream_, buffer_, *parser_,
                                [self = shared_from_this()](beast::error_code ec, std::size_t) { self->onHeader(ec); });
    }

    // One deadline for the whole request, head and body. On expiry the read is cancelled, not the
    // socket closed (as tcp_stream's own timeout would), so the client can still be told 408.
    void startReadDeadline() {
        stream_.expires_never();
        timedOut_ = false;
        readDeadline_.expires_after(limits_.readTimeout);
        readDeadline_.async_wait([self = shared_from_this(), generation = ++readGeneration_](beast::error_code ec) {
            if (ec || generation != self->readGeneration_) return;
            self->timedOut_ = true;
            beast::error_code ignored;
            self->stream_.socket().cancel(ignored);
        });
    }

    void stopReadDeadline() {
        ++readGeneration_;
        readDeadline_.cancel();
    }

    void onHeader(beast::error_code ec) {
        const auto rawHead = buffer_.stopRecording();
        if (ec) return onReadError(ec);
        const HttpRequestHead& head = parser_->get();
        // Before anything else: a request whose body length is in doubt gets nothing more read.
        if (auto refusal = framingRefusal(head, rawHead)) return refuse(*refusal, true);
        const bool bodyFollows = !parser_->is_done();
        if (head.target().size() > limits_.maxTargetBytes) {
            return refuse(limitFailure(414, "uri_too_long", "request target too long"), true);
        }
        if (static_cast<std::size_t>(std::distance(head.begin(), head.end())) > limits_.maxHeaderCount) {
            return refuse(limitFailure(431, "headers_too_large", "too many request header fields"), true);
        }
        if (auto refusal = server_.routes_.admit(head)) return respond(std::move(*refusal), !bodyFollows && parser_->get().keep_alive());
        if (!bodyFollows) {
            stopReadDeadline();
            return dispatch();
        }
        // A body is held in memory until its request is answered: it must fit the listener's budget.
        const auto length = parser_->content_length();
        auto lease = server_.budget_.reserve(length ? static_cast<std::size_t>(*length) : limits_.maxBodyBytes);
        if (!lease) return refuse({503, "overloaded", "the service holds too many request bodies; retry", 1}, true);
        lease_ = std::move(*lease);
        http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code readEc, std::size_t) {
            if (readEc) return self->onReadError(readEc);
            self->stopReadDeadline();
            self->dispatch();
        });
    }

    void onReadError(beast::error_code ec) {
        stopReadDeadline();
        if (timedOut_) ec = beast::error::timeout;
        if (ec == http::error::body_limit) return refuse(limitFailure(413, "too_large", "request body too large"), true);
        if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
            // The limit counts the request line too. The parser sets the target once it has the
            // whole line: without one, the line alone was past the limit, so its target is.
            if (parser_->get().target().empty()) return refuse(limitFailure(414, "uri_too_long", "request target too long"), true);
            return refuse(limitFailure(431, "headers_too_large", "request header fields too large"), true);
        }
        if (ec == beast::error::timeout) {
            // Only a client that began a request is owed an answer; an idle keep-alive one is just closed.
            if (parser_->got_some()) return refuse(limitFailure(408, "request_timeout", "request not received in time"), true);
            return close();
        }
        if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
            ec == net::error::operation_aborted) {
            return close();
        }
        // Anything else is a request the parser could not accept: bad syntax, or framing it cannot
        // trust (a Content-Length that is not one 64-bit number, two framings): 400 and close, as
        // RFC 9112 section 6.3 requires of a server.
        refuse(limitFailure(400, "bad_request", "malformed request"), true);
    }

    void dispatch() {
        auto request = std::make_shared<const HttpRequest>(parser_->release());
        const bool keepAlive = request->keep_alive();
        server_.routes_.handle(std::move(request), [self = shared_from_this(), keepAlive](HttpResponse response) {
            net::post(self->stream_.get_executor(), [self, keepAlive, response = std::move(response)]() mutable {
                self->respond(std::move(response), keepAlive);
            });
        });
    }

    void refuse(const HttpFailure& failure, bool closeAfter) {
        const std::string method = parser_ && parser_->is_header_done() ? std::string(parser_->get().method_string()) : "";
        respond(server_.routes_.refuse(failure, method), !closeAfter);
    }

    void respond(HttpResponse response, bool keepAlive) {
        stopReadDeadline();
        ++served_;
        const bool keep = keepAlive && served_ < limits_.keepAliveRequests && !server_.routes_.draining();
        response.keep_alive(keep);
        response.prepare_payload();
        response_ = std::make_shared<HttpResponse>(std::move(response));
        stream_.expires_after(limits_.writeTimeout);
        http::async_write(stream_, *response_, [self = shared_from_this(), keep](beast::error_code ec, std::size_t) {
            self->response_.reset();
            self->lease_.reset();
            if (ec) return;
            if (keep) return self->readHeader();
            self->lingeringClose();
        });
    }

    // Half-closes, then reads and drops what the client still sends, briefly and boundedly.
    void lingeringClose() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_.expires_after(kLingerTime);
        drain();
    }

    void drain() {
        stream_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
            self->drained_ += n;
            if (!ec && self->drained_ < kLingerBytes) return self->drain();
            self->close();
        });
    }

    void close() {
        beast::error_code ignored;
        stream_.socket().close(ignored);
    }

    beast::tcp_stream stream_;
    HttpListenerState& server_;
    const HttpLimits& limits_;
    HeadRecordingBuffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::optional<BodyBudget::Lease> lease_;
    std::shared_ptr<HttpResponse> response_;
    unsigned served_ = 0;
    std::array<char, 4096> discard_{};
    std::size_t drained_ = 0;
    net::steady_timer readDeadline_;
    std::uint64_t readGeneration_ = 0;
    bool timedOut_ = false;
};

}  // namespace

void HttpListenerState::accept() {
    net::io_context& next = loop(nextLoop_++ % loops());
    acceptor_.async_accept(next, [this](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
        if (ec) {
            // Out of descriptors (or a transient error): back off instead of spinning on accept.
            retryAccept_.expires_after(std::chrono::milliseconds(50));
            retryAccept_.async_wait([this](beast::error_code waitEc) {
                if (!waitEc) accept();
            });
            return;
        }
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        if (open_ >= limits_.maxConnections) {
            refuseConnection(std::move(socket));
        } else {
            std::make_shared<Session>(std::move(socket), *this)->start();
        }
        accept();
    });
}

// Over the connection cap: one best-effort write of a 503, then close. Nothing is read or held.
void HttpListenerState::refuseConnection(tcp::socket socket) {
    HttpResponse response = routes_.refuse({503, "overloaded", "the service is at its connection limit; retry", 1}, "");
    response.keep_alive(false);
    response.prepare_payload();
    std::ostringstream text;
    text << response;
    const std::string bytes = text.str();
    beast::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(net::buffer(bytes), ignored);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
}

HttpServer::HttpServer(HttpLimits limits, HttpRoutes routes)
    : impl_(std::make_unique<HttpListenerState>(limits, std::move(routes))) {}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::listen(const std::string& bind, int port, std::string& error) {
    beast::error_code ec;
    const auto address = net::ip::make_address(bind, ec);
    if (ec) {
        error = "invalid bind address: " + ec.message();
        return false;
    }
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
    auto& acceptor = impl_->acceptor_;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        error = ec.message();
        return false;
    }
    return true;
}

void HttpServer::start(std::size_t ioThreads) {
    auto* impl = impl_.get();
    for (std::size_t i = 1; i < ioThreads; ++i) impl->moreLoops_.push_back(std::make_unique<net::io_context>(1));
    for (std::size_t i = 0; i < impl->loops(); ++i) impl->keepRunning_.push_back(net::make_work_guard(impl->loop(i)));
    net::post(impl->acceptor_.get_executor(), [impl] { impl->accept(); });
    for (std::size_t i = 0; i < impl->loops(); ++i) {
        impl->threads_.emplace_back([impl, i] {
            if (impl->routes_.threadStarted) impl->routes_.threadStarted(impl->loop(i));
            impl->loop(i).run();
        });
    }
}

void HttpServer::stopAccepting() {
    net::post(impl_->acceptor_.get_executor(), [impl = impl_.get()] {
        beast::error_code ignored;
        impl->acceptor_.close(ignored);
        impl->retryAccept_.cancel();
    });
}

void HttpServer::stop() {
    impl_->keepRunning_.clear();
    for (std::size_t i = 0; i < impl_->loops(); ++i) impl_->loop(i).stop();
    for (auto& thread : impl_->threads_) {
        if (thread.joinable()) thread.join();
    }
    impl_->threads_.clear();
}


}  // namespace redisdr
