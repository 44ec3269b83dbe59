#include "gateway/server.hpp"

#include <utility>

#include <openssl/ssl.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <unordered_map>

#include "gateway/log.hpp"

namespace flowgate::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct server::connection {
    connection(tcp::socket s, std::string k, bool ex, ssl::context* ctx) : key(std::move(k)), exempt(ex) {
        if (ctx != nullptr) {
            tls.emplace(beast::tcp_stream(std::move(s)), *ctx);
        } else {
            plain.emplace(std::move(s));
        }
    }
    beast::tcp_stream& lowest() { return tls ? tls->next_layer() : *plain; }

    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    const std::string key;  // the client's address (an IPv6 one by its /64), for the per-address limits
    const bool exempt;      // in server.per_ip_exempt
    bool busy = false;      // between a request's first byte and its response; touched on the strand only
};

// A token bucket per client address: `burst` requests at once, then `rate` a second.
class server::rate_limiter {
   public:
    rate_limiter(double rate, double burst) : rate_(rate), burst_(burst) {}

    // Zero when the request may go; otherwise how long until the address has a token again.
    std::chrono::seconds take(const std::string& key) {
        const auto now = std::chrono::steady_clock::now();
        std::lock_guard lock(mutex_);
        if (buckets_.size() >= prune_at && now - last_prune_ >= std::chrono::seconds(1)) {
            prune(now);
        }
        auto [it, inserted] = buckets_.try_emplace(key, bucket{burst_, now});
        bucket& b = it->second;
        b.tokens = std::min(burst_, b.tokens + rate_ * seconds_between(b.last, now));
        b.last = now;
        if (b.tokens >= 1) {
            b.tokens -= 1;
            return std::chrono::seconds(0);
        }
        const double wait = std::ceil((1 - b.tokens) / rate_);
        return std::chrono::seconds(std::max<std::int64_t>(1, static_cast<std::int64_t>(wait)));
    }

   private:
    struct bucket {
        double tokens;
        std::chrono::steady_clock::time_point last;
    };
    static constexpr std::size_t prune_at = 65536;

    static double seconds_between(std::chrono::steady_clock::time_point a,
                                  std::chrono::steady_clock::time_point b) {
        return std::chrono::duration<double>(b - a).count();
    }

    // Forgets addresses whose bucket has filled up again: they are as good as new. When that frees
    // too little (requests from a great many addresses), everyone starts afresh rather than the
    // table growing without bound: no per-address limit holds against that many addresses anyway.
    void prune(std::chrono::steady_clock::time_point now) {
        last_prune_ = now;
        for (auto it = buckets_.begin(); it != buckets_.end();) {
            const double tokens = it->second.tokens + rate_ * seconds_between(it->second.last, now);
            it = tokens >= burst_ ? buckets_.erase(it) : std::next(it);
        }
        if (buckets_.size() >= prune_at * 4) {
            buckets_.clear();
        }
    }

    const double rate_;
    const double burst_;
    std::mutex mutex_;
    std::unordered_map<std::string, bucket> buckets_;
    std::chrono::steady_clock::time_point last_prune_{};
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

// The TLS 1.2 suites: forward secret (ECDHE) and authenticated encryption (AES-GCM, ChaCha20) only.
// TLS 1.3's own suites are all of that kind and stay at OpenSSL's defaults.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::unique_ptr<ssl::context> make_tls_context(const config::tls_config& tls) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    // tls_server alone would allow TLS 1.0; a fixed-version context would turn TLS 1.3 off.
    if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(native, tls12_ciphers) != 1) {
        throw std::runtime_error("cannot configure TLS");
    }
    // No compression (CRIME), no renegotiation (a client-driven CPU drain, and old attacks), the
    // server's order of suites, and no session tickets: a ticket key that lives as long as the
    // process would undo forward secrecy for TLS 1.2 sessions.
    SSL_CTX_set_options(native,
                        SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                            SSL_OP_NO_TICKET | SSL_OP_SINGLE_ECDH_USE);
    ctx->use_certificate_chain(asio::buffer(tls.certificate));
    ctx->use_private_key(asio::buffer(tls.key), ssl::context::pem);
    if (SSL_CTX_check_private_key(native) != 1) {
        throw std::runtime_error("the TLS key does not match the certificate");
    }
    return ctx;
}

// The client's address as the per-address limits count it: IPv4 as is (also when it arrives
// IPv4-mapped), IPv6 by its /64, since one machine usually holds a whole /64.
std::string client_key(const asio::ip::address& address,
                       std::array<unsigned char, 16>& bytes,
                       std::size_t& size) {
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        return client_key(asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()), bytes, size);
    }
    if (address.is_v4()) {
        const auto b = address.to_v4().to_bytes();
        std::copy(b.begin(), b.end(), bytes.begin());
        size = 4;
        return address.to_string();
    }
    const auto b = address.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), bytes.begin());
    size = 16;
    auto prefix = b;
    std::fill(prefix.begin() + 8, prefix.end(), 0);
    return asio::ip::address_v6(prefix).to_string() + "/64";
}

bool timed_out(const beast::error_code& ec) { return ec == beast::error::timeout; }

bool peer_gone(const beast::error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
           ec == asio::error::connection_reset || ec == asio::error::eof ||
           ec == ssl::error::stream_truncated || ec == asio::error::broken_pipe;
}

}  // namespace

server::server(asio::io_context& ioc, const config::server_config& cfg, http_handler& handler)
    : ioc_(ioc), cfg_(cfg), handler_(handler), acceptor_(asio::make_strand(ioc)) {
    if (cfg_.tls) {
        tls_ = make_tls_context(*cfg_.tls);
    }
    if (cfg_.rate_limit_per_second > 0) {
        limiter_ = std::make_unique<rate_limiter>(cfg_.rate_limit_per_second,
                                                  static_cast<double>(cfg_.rate_limit_burst));
    }
}

server::~server() = default;

std::uint16_t server::listen() {
    // Each connection is a file descriptor: make room for the cap if the hard limit allows it.
    const rlim_t wanted = cfg_.max_connections + 256;
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < wanted) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, rl.rlim_max);
        setrlimit(RLIMIT_NOFILE, &rl);
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < wanted) {
            log::warn("http",
                      "the open-file limit (" + std::to_string(rl.rlim_cur) +
                          ") is below server.max_connections + 256; raise it (systemd LimitNOFILE=)");
        }
    }
    const tcp::endpoint ep(asio::ip::make_address(cfg_.host), cfg_.port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    return acceptor_.local_endpoint().port();
}

void server::start() { asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached); }

asio::awaitable<void> server::accept_loop() {
    asio::steady_timer pause(acceptor_.get_executor());
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
            // Out of file descriptors and the like: log, wait a moment (the error would come back
            // at once and spin), keep accepting.
            log::warn("http", "accept failed: " + ec.message());
            pause.expires_after(std::chrono::milliseconds(100));
            co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        const char* refused = nullptr;
        auto conn = admit(socket, refused);
        if (!conn) {
            // Over a cap: closed at once, before a byte is read, so the connections in progress
            // keep their share. (A 503 would need the request read first.)
            if (refused != nullptr) {
                handler_.count_dropped(refused);
            }
            socket.close(ec);
            continue;
        }
        asio::co_spawn(conn->lowest().get_executor(), serve(conn), asio::detached);
    }
}

std::shared_ptr<server::connection> server::admit(tcp::socket& socket, const char*& refused) {
    beast::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    if (ec) {
        return nullptr;  // already gone
    }
    std::array<unsigned char, 16> bytes{};
    std::size_t size = 0;
    std::string key = client_key(peer.address(), bytes, size);
    const bool exempt = std::any_of(cfg_.per_ip_exempt.begin(),
                                    cfg_.per_ip_exempt.end(),
                                    [&](const auto& net) { return net.contains(bytes.data(), size); });
    std::lock_guard lock(mutex_);
    if (connections_.size() >= cfg_.max_connections) {
        refused = "max_connections";
        return nullptr;
    }
    auto& from_here = per_ip_[key];
    if (!exempt && cfg_.max_connections_per_ip > 0 && from_here >= cfg_.max_connections_per_ip) {
        refused = "max_connections_per_ip";
        if (from_here == 0) {
            per_ip_.erase(key);
        }
        return nullptr;
    }
    ++from_here;
    auto conn = std::make_shared<connection>(std::move(socket), std::move(key), exempt, tls_.get());
    connections_.insert(conn);
    return conn;
}

void server::forget(const std::shared_ptr<connection>& conn) {
    std::lock_guard lock(mutex_);
    connections_.erase(conn);
    if (const auto it = per_ip_.find(conn->key); it != per_ip_.end() && --it->second == 0) {
        per_ip_.erase(it);
    }
    if (connections_.empty() && drained_) {
        asio::post(drained_->get_executor(), [t = drained_] { t->cancel(); });
    }
}

template <class Stream>
asio::awaitable<bool> server::serve_requests(std::shared_ptr<connection> conn,
                                             Stream& stream,
                                             beast::flat_buffer& buffer) {
    auto& lowest = conn->lowest();
    bool first = true;
    bool linger = false;
    while (!stopping_) {
        beast::error_code ec;
        if (!first && buffer.size() == 0) {
            // Between keep-alive requests the connection may idle for idle_timeout; once a request's
            // first byte is here, its whole header must follow within header_timeout.
            lowest.expires_after(cfg_.idle_timeout);
            const std::size_t n = co_await stream.async_read_some(
                buffer.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                break;
            }
            buffer.commit(n);
        }
        first = false;
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(cfg_.header_limit));
        // The route's own limit is applied once the header is read; until then Beast must not
        // judge Content-Length against a default of its own.
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        // One deadline for the whole header, however slowly its bytes trickle in (slowloris).
        lowest.expires_after(cfg_.header_timeout);
        co_await http::async_read_header(
            stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        conn->busy = true;
        std::optional<http_response> early;
        if (timed_out(ec)) {
            handler_.count_dropped("header_timeout");
            break;
        } else if (peer_gone(ec)) {
            break;
        } else if (ec == http::error::header_limit) {
            early = plain(http::status::request_header_fields_too_large, "header too large", true);
        } else if (ec == http::error::body_limit) {
            early = plain(http::status::payload_too_large, "body too large", true);
        } else if (ec) {
            early = plain(http::status::bad_request, "malformed request", true);
        } else if (parser.get().count(http::field::transfer_encoding) > 0 && !parser.chunked()) {
            // A Transfer-Encoding whose last coding is not chunked leaves the body's end unknown
            // (RFC 9112 §6.3): guessing would let a request hide inside another.
            early = plain(http::status::bad_request, "unsupported transfer encoding", true);
        } else if (std::chrono::seconds wait{0};
                   limiter_ && !conn->exempt && handler_.rate_limited(parser.get()) &&
                   (wait = limiter_->take(conn->key)) > std::chrono::seconds(0)) {
            early = plain(http::status::too_many_requests, "too many requests", true);
            early->set(http::field::retry_after, std::to_string(wait.count()));
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
                    lowest.expires_after(cfg_.body_timeout);
                    co_await http::async_write(stream, cont, asio::redirect_error(asio::use_awaitable, ec));
                    if (ec) {
                        break;
                    }
                }
                // One deadline for the whole body: a Content-Length larger than what is sent ends here.
                lowest.expires_after(cfg_.body_timeout);
                co_await http::async_read(
                    stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
                if (ec == http::error::body_limit) {
                    early = plain(http::status::payload_too_large, "body too large", true);
                } else if (timed_out(ec)) {
                    handler_.count_dropped("body_timeout");
                    break;
                } else if (peer_gone(ec)) {
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
            lowest.expires_never();  // the handler may wait for the store; it has its own bounds
            res = co_await handler_.handle(std::move(req));
            keep_alive = keep_alive && res.keep_alive();
        }
        keep_alive = keep_alive && !stopping_;
        res.keep_alive(keep_alive);
        lowest.expires_after(cfg_.body_timeout);
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        conn->busy = false;
        if (ec || !keep_alive) {
            break;
        }
    }
    co_return linger;
}

namespace {

// After a refused request the client may still be sending its body. Closing with unread bytes
// would reset the connection and could destroy our response before the client reads it, so
// discard what arrives for a short while (as nginx's lingering close).
template <class Stream>
asio::awaitable<void> drain(Stream& stream, beast::tcp_stream& lowest) {
    beast::error_code ignored;
    lowest.expires_after(std::chrono::seconds(2));
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

}  // namespace

asio::awaitable<void> server::serve(std::shared_ptr<connection> conn) {
    auto& lowest = conn->lowest();
    // Bounded: a header, then what a chunk header line or a read needs. A chunk extension that
    // never ends fills it and is refused instead of growing the buffer without end.
    beast::flat_buffer buffer(cfg_.header_limit + 64 * 1024);
    bool linger = false;
    bool secured = false;  // the TLS handshake is done
    beast::error_code ec;
    try {
        if (conn->tls) {
            lowest.expires_after(cfg_.header_timeout);
            const std::size_t n = co_await lowest.async_read_some(
                buffer.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
            buffer.commit(n);
            const auto* bytes = static_cast<const unsigned char*>(buffer.data().data());
            if (ec) {
                if (timed_out(ec)) {
                    handler_.count_dropped("header_timeout");
                }
            } else if (bytes[0] != 0x16) {
                // Not a TLS handshake record. A plain HTTP request is told so in plain text.
                handler_.count_dropped("plain_http_on_tls");
                if (bytes[0] >= 'A' && bytes[0] <= 'Z') {
                    static constexpr std::string_view answer =
                        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Connection: close\r\nContent-Length: 23\r\n\r\nthis port speaks HTTPS\n";
                    co_await asio::async_write(
                        lowest.socket(), asio::buffer(answer), asio::redirect_error(asio::use_awaitable, ec));
                    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
                    co_await drain(lowest, lowest);
                }
            } else {
                co_await conn->tls->async_handshake(
                    ssl::stream_base::server, buffer.data(), asio::redirect_error(asio::use_awaitable, ec));
                buffer.consume(buffer.size());
                if (ec) {
                    handler_.count_dropped(timed_out(ec) ? "header_timeout" : "tls_handshake");
                } else {
                    secured = true;
                    linger = co_await serve_requests(conn, *conn->tls, buffer);
                }
            }
        } else {
            linger = co_await serve_requests(conn, *conn->plain, buffer);
        }
    } catch (const std::exception& e) {
        log::error("http", std::string("connection ended by an error: ") + e.what());
    }
    beast::error_code ignored;
    if (secured) {
        if (linger) {
            co_await drain(*conn->tls, lowest);
        }
        // close_notify, waiting briefly for the client's: most clients simply close.
        lowest.expires_after(std::chrono::seconds(1));
        co_await conn->tls->async_shutdown(asio::redirect_error(asio::use_awaitable, ignored));
    } else if (linger) {
        lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
        co_await drain(lowest, lowest);
    }
    lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest.close();
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
        asio::post(c->lowest().get_executor(), [c] {
            if (!c->busy) {
                c->lowest().cancel();
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
            asio::post(c->lowest().get_executor(), [c] { c->lowest().cancel(); });
        }
    }
}

}  // namespace flowgate::gateway
