#include "gateway/sink.hpp"

#include <utility>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/http.hpp>
#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>

#include "gateway/server.hpp"
#include "handlers/urn.hpp"

namespace flowgate::gateway {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

class sink_handler final : public http_handler {
   public:
    std::size_t body_limit(const http_request&) const override { return 1024 * 1024; }

    asio::awaitable<http_response> handle(http_request req) override {
        http_response res{http::status::ok, 11};
        res.set(http::field::content_type, "application/json");
        const auto doc = nlohmann::json::parse(req.body(), nullptr, false);
        if (req.method() != http::verb::post || doc.is_discarded() || !doc.is_object()) {
            res.result(http::status::bad_request);
            res.body() = R"({"error":"expected a JSON POST"})";
        } else {
            const auto n = ++count_;
            std::cout << "── message " << n << " to " << handlers::mask_urn(doc.value("urn", "")) << " ("
                      << doc.value("channel", "") << ")\n"
                      << doc.value("text", "") << "\n"
                      << std::flush;
            res.body() = nlohmann::json{{"id", "sink-" + std::to_string(n)}}.dump();
        }
        res.prepare_payload();
        co_return res;
    }

   private:
    std::atomic<int> count_{0};
};

}  // namespace

int run_sink(const std::string& host, std::uint16_t port) {
    asio::io_context ioc(1);
    config::server_config cfg;
    cfg.host = host;
    cfg.port = port;
    sink_handler handler;
    server srv(ioc, cfg, handler);
    const auto bound = srv.listen();
    std::cerr << "flowgate sink: printing messages POSTed to http://" << host << ":" << bound << "/\n";
    srv.start();
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { ioc.stop(); });
    ioc.run();
    return 0;
}

}  // namespace flowgate::gateway
