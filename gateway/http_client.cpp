#include "gateway/http_client.hpp"

#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <regex>

namespace flowgate::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t max_response_body = 1024 * 1024;

}  // namespace

std::optional<url_parts> parse_url(std::string_view url) {
    static const std::regex pattern(
        R"(^(https?)://(\[[0-9A-Fa-f:.]+\]|[^/:?#\s]+)(?::([0-9]{1,5}))?([/?][^\s#]*)?$)");
    std::match_results<std::string_view::const_iterator> m;
    if (!std::regex_match(url.begin(), url.end(), m, pattern)) {
        return std::nullopt;
    }
    url_parts p;
    p.tls = m[1].str() == "https";
    p.host = m[2].str();
    if (!p.host.empty() && p.host.front() == '[') {
        p.host = p.host.substr(1, p.host.size() - 2);
    }
    p.port = m[3].matched ? m[3].str() : (p.tls ? "443" : "80");
    p.target = m[4].matched ? m[4].str() : "/";
    if (p.target.front() == '?') {
        p.target = "/" + p.target;
    }
    return p;
}

struct http_client::connection {
    std::string key;
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    std::chrono::steady_clock::time_point idle_since;

    beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*secure); }
};

http_client::http_client(asio::any_io_executor ex)
    : ex_(std::move(ex)), tls_(asio::ssl::context::tls_client) {
    tls_.set_default_verify_paths();
    tls_.set_verify_mode(asio::ssl::verify_peer);
    SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION);
}

http_client::~http_client() = default;

asio::awaitable<http_client::outcome> http_client::exchange(connection& c,
                                                            const url_parts& url,
                                                            const handlers::send_request& r,
                                                            std::chrono::milliseconds timeout,
                                                            bool& reusable) {
    reusable = false;
    http::request<http::string_body> req;
    req.method(http::string_to_verb(r.method));
    req.target(url.target);
    req.version(11);
    const bool default_port = url.port == (url.tls ? "443" : "80");
    const std::string host_header =
        (url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host) +
        (default_port ? "" : ":" + url.port);
    req.set(http::field::host, host_header);
    req.set(http::field::user_agent, "flowgate/0.1");
    for (const auto& h : r.headers) {
        req.set(h.name, h.value);
    }
    req.body() = r.body;
    req.prepare_payload();
    req.keep_alive(true);

    c.lowest().expires_after(timeout);
    beast::error_code ec;
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_response_body);
    if (c.plain) {
        co_await http::async_write(*c.plain, req, asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) {
            co_await http::async_read(
                *c.plain, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        }
    } else {
        co_await http::async_write(*c.secure, req, asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) {
            co_await http::async_read(
                *c.secure, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        }
    }
    if (ec) {
        co_return outcome{std::nullopt, ec == beast::error::timeout ? "timeout" : "exchange failed"};
    }
    auto res = parser.release();
    handlers::http_response out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
        out.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    }
    out.body = std::move(res.body());
    reusable = res.keep_alive() && buffer.size() == 0;
    co_return outcome{std::move(out), ""};
}

asio::awaitable<http_client::outcome> http_client::request(const handlers::send_request& r,
                                                           std::chrono::milliseconds timeout) {
    const auto url = parse_url(r.url);
    if (!url) {
        co_return outcome{std::nullopt, "invalid URL"};
    }
    const std::string key = (url->tls ? "https://" : "http://") + url->host + ":" + url->port;

    // An idle connection to the same place, young enough to trust; older ones are closed.
    std::unique_ptr<connection> c;
    if (const auto it = idle_.find(key); it != idle_.end()) {
        auto& pool = it->second;
        const auto now = std::chrono::steady_clock::now();
        while (!pool.empty() && !c) {
            auto candidate = std::move(pool.back());
            pool.pop_back();
            if (now - candidate->idle_since < max_idle_age && candidate->lowest().socket().is_open()) {
                c = std::move(candidate);
            }
        }
    }

    beast::error_code ec;
    if (!c) {
        tcp::resolver resolver(ex_);
        const auto endpoints = co_await resolver.async_resolve(
            url->host, url->port, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            co_return outcome{std::nullopt, "cannot resolve host"};
        }
        c = std::make_unique<connection>();
        c->key = key;
        if (url->tls) {
            c->secure.emplace(ex_, tls_);
            if (!SSL_set_tlsext_host_name(c->secure->native_handle(), url->host.c_str())) {
                co_return outcome{std::nullopt, "TLS setup failed"};
            }
            c->secure->set_verify_callback(asio::ssl::host_name_verification(url->host));
        } else {
            c->plain.emplace(ex_);
        }
        c->lowest().expires_after(connect_timeout);
        co_await c->lowest().async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            co_return outcome{std::nullopt,
                              ec == beast::error::timeout ? "connect timeout" : "connection failed"};
        }
        if (c->secure) {
            co_await c->secure->async_handshake(asio::ssl::stream_base::client,
                                                asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                co_return outcome{std::nullopt, "TLS handshake failed"};
            }
        }
        ++opened_;
    }

    bool reusable = false;
    auto out = co_await exchange(*c, *url, r, timeout, reusable);
    if (reusable) {
        auto& pool = idle_[key];
        if (pool.size() < max_idle_per_host) {
            c->lowest().expires_never();
            c->idle_since = std::chrono::steady_clock::now();
            pool.push_back(std::move(c));
        }
    } else {
        c->lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    }
    co_return out;
}

}  // namespace flowgate::gateway
