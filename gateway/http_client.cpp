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

template <class Stream>
asio::awaitable<http_client::outcome> exchange(Stream& stream, http::request<http::string_body>& req) {
    beast::error_code ec;
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        co_return http_client::outcome{std::nullopt,
                                       ec == beast::error::timeout ? "timeout" : "write failed"};
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_response_body);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        co_return http_client::outcome{std::nullopt, ec == beast::error::timeout ? "timeout" : "read failed"};
    }
    auto res = parser.release();
    handlers::http_response out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
        out.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    }
    out.body = std::move(res.body());
    co_return http_client::outcome{std::move(out), ""};
}

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

http_client::http_client(asio::any_io_executor ex)
    : ex_(std::move(ex)), tls_(asio::ssl::context::tls_client) {
    tls_.set_default_verify_paths();
    tls_.set_verify_mode(asio::ssl::verify_peer);
    SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION);
}

asio::awaitable<http_client::outcome> http_client::request(const handlers::send_request& r,
                                                           std::chrono::milliseconds timeout) {
    const auto url = parse_url(r.url);
    if (!url) {
        co_return outcome{std::nullopt, "invalid URL"};
    }
    http::request<http::string_body> req;
    req.method(http::string_to_verb(r.method));
    req.target(url->target);
    req.version(11);
    const bool default_port = url->port == (url->tls ? "443" : "80");
    const std::string host_header =
        (url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host) +
        (default_port ? "" : ":" + url->port);
    req.set(http::field::host, host_header);
    req.set(http::field::user_agent, "flowgate/0.1");
    for (const auto& h : r.headers) {
        req.set(h.name, h.value);
    }
    req.body() = r.body;
    req.prepare_payload();
    req.keep_alive(false);

    beast::error_code ec;
    tcp::resolver resolver(ex_);
    const auto endpoints =
        co_await resolver.async_resolve(url->host, url->port, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        co_return outcome{std::nullopt, "cannot resolve host"};
    }
    if (!url->tls) {
        beast::tcp_stream stream(ex_);
        stream.expires_after(timeout);
        co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            co_return outcome{std::nullopt, ec == beast::error::timeout ? "timeout" : "connection failed"};
        }
        auto out = co_await exchange(stream, req);
        stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        co_return out;
    }
    beast::ssl_stream<beast::tcp_stream> stream(ex_, tls_);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), url->host.c_str())) {
        co_return outcome{std::nullopt, "TLS setup failed"};
    }
    stream.set_verify_callback(asio::ssl::host_name_verification(url->host));
    beast::get_lowest_layer(stream).expires_after(timeout);
    co_await beast::get_lowest_layer(stream).async_connect(endpoints,
                                                           asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        co_return outcome{std::nullopt, ec == beast::error::timeout ? "timeout" : "connection failed"};
    }
    co_await stream.async_handshake(asio::ssl::stream_base::client,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        co_return outcome{std::nullopt, "TLS handshake failed"};
    }
    auto out = co_await exchange(stream, req);
    co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
    co_return out;
}

}  // namespace flowgate::gateway
