#include "tests/support/http.hpp"

#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "config/config.hpp"
#include "gateway/server.hpp"

namespace flowgate::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
std::string lower(std::string s) {
    for (char& c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}
}  // namespace

response request(std::uint16_t port,
                 const std::string& method,
                 const std::string& target,
                 const std::string& body,
                 const std::map<std::string, std::string>& headers) {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    beast::error_code ec;
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (ec) {
        return {};
    }
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) {
        req.set(k, v);
    }
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req, ec);
    if (ec) {
        return {};
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    http::read(stream, buffer, parser, ec);
    if (ec) {
        return {};
    }
    response out;
    out.status = static_cast<int>(parser.get().result_int());
    for (const auto& f : parser.get()) {
        out.headers[lower(std::string(f.name_string()))] = std::string(f.value());
    }
    out.body = parser.get().body();
    return out;
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes, std::size_t limit) {
    asio::io_context ioc;
    tcp::socket socket(ioc);
    beast::error_code ec;
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (ec) {
        return {};
    }
    asio::write(socket, asio::buffer(bytes), ec);
    std::string out;
    char buf[4096];
    while (out.size() < limit) {
        const std::size_t n = socket.read_some(asio::buffer(buf), ec);
        out.append(buf, n);
        if (ec) {
            break;
        }
    }
    return out;
}

struct fake_provider::impl final : gateway::http_handler {
    explicit impl(answer_fn a) : answer(std::move(a)) {
        cfg.host = "127.0.0.1";
        cfg.port = 0;
        cfg.shutdown_grace = std::chrono::seconds(1);
    }

    std::size_t body_limit(const gateway::http_request&) const override { return 1024 * 1024; }

    asio::awaitable<gateway::http_response> handle(gateway::http_request req) override {
        recorded r;
        r.at = std::chrono::steady_clock::now();
        r.method = std::string(req.method_string());
        r.target = std::string(req.target());
        for (const auto& f : req) {
            r.headers[lower(std::string(f.name_string()))] = std::string(f.value());
        }
        r.body = req.body();
        std::pair<int, std::string> reply{200, R"({"id":"provider-)" + std::to_string(next_id()) + R"("})"};
        std::size_t index;
        {
            std::lock_guard lock(mutex);
            index = requests.size();
        }
        if (answer) {
            reply = answer(index, r);
        }
        {
            std::lock_guard lock(mutex);
            requests.push_back(std::move(r));
        }
        cv.notify_all();
        gateway::http_response res{static_cast<http::status>(reply.first), 11};
        res.set(http::field::content_type, "application/json");
        res.body() = reply.second;
        res.prepare_payload();
        co_return res;
    }

    int next_id() {
        std::lock_guard lock(mutex);
        return ++ids;
    }

    answer_fn answer;
    config::server_config cfg;
    asio::io_context ioc{1};
    std::unique_ptr<gateway::server> srv;
    std::thread thread;
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<recorded> requests;
    int ids = 0;
};

fake_provider::fake_provider(answer_fn answer) : impl_(std::make_unique<impl>(std::move(answer))) {
    impl_->srv = std::make_unique<gateway::server>(impl_->ioc, impl_->cfg, *impl_);
    port_ = impl_->srv->listen();
    impl_->srv->start();
    impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

fake_provider::~fake_provider() {
    impl_->ioc.stop();
    impl_->thread.join();
}

std::string fake_provider::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<recorded> fake_provider::wait_for(std::size_t n, std::chrono::seconds deadline) {
    std::unique_lock lock(impl_->mutex);
    impl_->cv.wait_for(lock, deadline, [&] { return impl_->requests.size() >= n; });
    return impl_->requests;
}

std::vector<recorded> fake_provider::received() {
    std::lock_guard lock(impl_->mutex);
    return impl_->requests;
}

}  // namespace flowgate::test
