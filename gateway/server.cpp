#include "gateway/server.hpp"

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <limits>

#include "gateway/log.hpp"

namespace flowgate::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct server::connection {
    explicit connection(tcp::socket s) : stream(std::move(s)) {}
    beast::tcp_stream stream;
    bool busy = false;  // between a request's first byte and its response; touched on the strand only
};

namespace {

http_response plain(http::status status, std::string_view reason, bool close) {
    http_response res{status, 11};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = std::string(reason) + "\n";
    res.keep_alive(!close);
    res.prepare_payload();
    return res;
}

}  // namespace

server::server(asio::io_context& ioc, const config::server_config& cfg, http_handler& handler)
    : ioc_(ioc), cfg_(cfg), handler_(handler), acceptor_(asio::make_strand(ioc)) {}

server::~server() = default;

std::uint16_t server::listen() {
    const tcp::endpoint ep(asio::ip::make_address(cfg_.host), cfg_.port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    return acceptor_.local_endpoint().port();
}

void server::start() { asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached); }

asio::awaitable<void> server::accept_loop() {
    for (;;) {
        beast::error_code ec;
        tcp::socket socket = co_await acceptor_.async_accept(asio::make_strand(ioc_),
                                                             asio::redirect_error(asio::use_awaitable, ec));
        if (stopping_) {
            co_return;
        }
        if (ec) {
            if (ec == asio::error::operation_aborted) {
                co_return;
            }
            // Out of file descriptors and the like: log, keep accepting.
            log::warn("http", "accept failed: " + ec.message());
            continue;
        }
        auto conn = std::make_shared<connection>(std::move(socket));
        {
            std::lock_guard lock(mutex_);
            connections_.insert(conn);
        }
        asio::co_spawn(conn->stream.get_executor(), serve(conn), asio::detached);
    }
}

void server::forget(const std::shared_ptr<connection>& conn) {
    std::lock_guard lock(mutex_);
    connections_.erase(conn);
    if (connections_.empty() && drained_) {
        asio::post(drained_->get_executor(), [t = drained_] { t->cancel(); });
    }
}

asio::awaitable<void> server::serve(std::shared_ptr<connection> conn) {
    auto& stream = conn->stream;
    beast::flat_buffer buffer;
    bool first = true;
    bool linger = false;
    try {
        while (!stopping_) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(cfg_.header_limit));
            // The route's own limit is applied once the header is read; until then Beast must not
            // judge Content-Length against a default of its own.
            parser.body_limit(std::numeric_limits<std::uint64_t>::max());
            // The first request must arrive within the header deadline; later ones may idle longer.
            stream.expires_after(first ? cfg_.header_timeout : cfg_.idle_timeout);
            first = false;
            beast::error_code ec;
            co_await http::async_read_header(
                stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
            conn->busy = true;
            std::optional<http_response> early;
            if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
                ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
                ec == asio::error::eof) {
                break;
            } else if (ec == http::error::header_limit) {
                early = plain(http::status::request_header_fields_too_large, "header too large", true);
            } else if (ec == http::error::body_limit) {
                early = plain(http::status::payload_too_large, "body too large", true);
            } else if (ec) {
                early = plain(http::status::bad_request, "malformed request", true);
            } else {
                const std::size_t limit = handler_.body_limit(parser.get());
                const auto length = parser.content_length();
                if (length && *length > limit) {
                    // Refused before a single body byte is read.
                    early = plain(http::status::payload_too_large, "body too large", true);
                } else {
                    parser.body_limit(limit);
                    if (parser.get()[http::field::expect] == "100-continue") {
                        http::response<http::empty_body> cont{http::status::continue_, 11};
                        stream.expires_after(cfg_.body_timeout);
                        co_await http::async_write(
                            stream, cont, asio::redirect_error(asio::use_awaitable, ec));
                        if (ec) {
                            break;
                        }
                    }
                    stream.expires_after(cfg_.body_timeout);
                    co_await http::async_read(
                        stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
                    if (ec == http::error::body_limit) {
                        early = plain(http::status::payload_too_large, "body too large", true);
                    } else if (ec == beast::error::timeout || ec == http::error::end_of_stream ||
                               ec == asio::error::connection_reset || ec == asio::error::eof) {
                        break;
                    } else if (ec) {
                        early = plain(http::status::bad_request, "malformed request", true);
                    }
                }
            }
            http_response res;
            bool keep_alive = false;
            if (early) {
                linger = true;
                handler_.count_rejected(static_cast<int>(early->result_int()));
                res = std::move(*early);
            } else {
                http_request req = parser.release();
                keep_alive = req.keep_alive();
                stream.expires_never();  // the handler may wait for the store; it has its own bounds
                res = co_await handler_.handle(std::move(req));
                keep_alive = keep_alive && res.keep_alive();
            }
            keep_alive = keep_alive && !stopping_;
            res.keep_alive(keep_alive);
            stream.expires_after(cfg_.body_timeout);
            co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
            conn->busy = false;
            if (ec || !keep_alive) {
                break;
            }
        }
    } catch (const std::exception& e) {
        log::error("http", std::string("connection ended by an error: ") + e.what());
    }
    beast::error_code ignored;
    if (linger) {
        // The client may still be sending a body we refused. Closing with unread bytes would reset
        // the connection and could destroy our response before the client reads it, so stop
        // sending, then discard what arrives for a short while (as nginx's lingering close).
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream.expires_after(std::chrono::seconds(2));
        std::size_t drained = 0;
        char sink[4096];
        while (drained < 1024 * 1024) {
            const std::size_t n = co_await stream.async_read_some(
                asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ignored));
            if (ignored) {
                break;
            }
            drained += n;
        }
    }
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    forget(conn);
}

asio::awaitable<void> server::shutdown() {
    stopping_ = true;
    co_await asio::dispatch(acceptor_.get_executor(), asio::use_awaitable);
    beast::error_code ec;
    acceptor_.close(ec);
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
    timer->expires_after(cfg_.shutdown_grace);
    std::vector<std::shared_ptr<connection>> open;
    {
        std::lock_guard lock(mutex_);
        drained_ = timer;
        open.assign(connections_.begin(), connections_.end());
    }
    // Idle connections (waiting for a request) close now; busy ones close after their response.
    for (auto& c : open) {
        asio::post(c->stream.get_executor(), [c] {
            if (!c->busy) {
                c->stream.cancel();
            }
        });
    }
    bool empty;
    {
        std::lock_guard lock(mutex_);
        empty = connections_.empty();
    }
    if (!empty) {
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    std::lock_guard lock(mutex_);
    if (!connections_.empty()) {
        log::warn("http",
                  std::to_string(connections_.size()) + " connections still open after the grace period");
        for (auto& c : connections_) {
            asio::post(c->stream.get_executor(), [c] { c->stream.cancel(); });
        }
    }
}

}  // namespace flowgate::gateway
