#pragma once
// The Beast HTTP server: one coroutine per connection, a fresh parser per request with header and
// body limits (the body limit chosen per route after the header), deadlines on every read and
// write, keep-alive, and a graceful shutdown that finishes in-flight requests. Against hostile
// clients: connection caps (global and per client address), a per-address rate limit, and
// optionally HTTPS only (docs/security.md, "Hostile HTTP").

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace flowgate::gateway {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

// What the server asks of the application (routes.hpp implements it).
class http_handler {
   public:
    virtual ~http_handler() = default;
    // The body limit for a request, decided from its header before any body byte is read.
    virtual std::size_t body_limit(const http_request& header) const = 0;
    virtual boost::asio::awaitable<http_response> handle(http_request request) = 0;
    // A request the server answered itself (413, 431, 429, 400 before routing), for metrics.
    virtual void count_rejected(int status) {}
    // Whether a request costs a token of its client address's rate limit (server.rate_limit),
    // decided from its header. Nothing is limited unless the application says so.
    virtual bool rate_limited(const http_request& header) const { return false; }
    // A connection closed without an answer (over a cap, a failed TLS handshake, a timeout).
    virtual void count_dropped(std::string_view reason) {}
};

class server {
   public:
    server(boost::asio::io_context& ioc, const config::server_config& cfg, http_handler& handler);
    ~server();

    // Binds and listens; throws boost::system::system_error on failure. Returns the bound port.
    std::uint16_t listen();
    void start();
    // Stops accepting, closes idle connections, lets in-flight requests finish (up to the grace
    // period), then returns.
    boost::asio::awaitable<void> shutdown();

    struct connection;
    class rate_limiter;

   private:
    boost::asio::awaitable<void> accept_loop();
    // Admits a new connection under the caps, or says why not.
    std::shared_ptr<connection> admit(boost::asio::ip::tcp::socket& socket, const char*& refused);
    boost::asio::awaitable<void> serve(std::shared_ptr<connection> conn);
    // The request loop over a plain or a TLS stream; true when the connection should linger
    // (a request was refused and its body may still be arriving).
    template <class Stream>
    boost::asio::awaitable<bool> serve_requests(std::shared_ptr<connection> conn,
                                                Stream& stream,
                                                boost::beast::flat_buffer& buffer);
    void forget(const std::shared_ptr<connection>& conn);

    boost::asio::io_context& ioc_;
    const config::server_config& cfg_;
    http_handler& handler_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::unique_ptr<boost::asio::ssl::context> tls_;  // set: HTTPS only
    std::unique_ptr<rate_limiter> limiter_;
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::set<std::shared_ptr<connection>> connections_;
    std::map<std::string, std::size_t> per_ip_;  // open connections by client address
    std::shared_ptr<boost::asio::steady_timer> drained_;
};

}  // namespace flowgate::gateway
