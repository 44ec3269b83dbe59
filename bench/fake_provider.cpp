#include "bench/fake_provider.hpp"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "config/config.hpp"
#include "gateway/server.hpp"

namespace flowgate::bench {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using clock_type = std::chrono::steady_clock;

struct fake_provider::impl final : gateway::http_handler {
    impl() {
        cfg.host = "127.0.0.1";
        cfg.port = 0;
        cfg.shutdown_grace = std::chrono::seconds(1);
        cfg.max_connections_per_ip = 0;
    }

    std::size_t body_limit(const gateway::http_request&) const override { return 64 * 1024; }

    asio::awaitable<gateway::http_response> handle(gateway::http_request req) override {
        const auto now = clock_type::now();
        bool reached = false;
        {
            std::lock_guard lock(mutex);
            if (++count == 1) {
                first = now;
            }
            last = now;
            reached = count == awaited;
        }
        // Only the request that completes what wait_for waits for wakes it: waking the bench's
        // thread at every request would cost the machine two context switches a message sent.
        if (reached) {
            cv.notify_all();
        }
        // Twilio's answer to a send, as small as the handler accepts: a message SID "SM" + 32 hex.
        char body[80];
        std::snprintf(body, sizeof body, R"({"sid":"SM%032zx","status":"queued"})", ++ids);
        gateway::http_response res{
            req.method() == http::verb::post ? http::status::created : http::status::not_found, 11};
        res.set(http::field::content_type, "application/json");
        res.body() = body;
        res.prepare_payload();
        co_return res;
    }

    config::server_config cfg;
    asio::io_context ioc{1};
    std::unique_ptr<gateway::server> srv;
    std::thread thread;
    mutable std::mutex mutex;
    std::condition_variable cv;
    std::size_t count = 0;
    std::size_t awaited = 0;          // what wait_for waits for; 0 while nothing waits
    std::atomic<std::size_t> ids{0};  // never reset: every SID is new
    clock_type::time_point first{};
    clock_type::time_point last{};
};

fake_provider::fake_provider() : impl_(std::make_unique<impl>()) {
    impl_->srv = std::make_unique<gateway::server>(impl_->ioc, impl_->cfg, *impl_);
    port_ = impl_->srv->listen();
    impl_->srv->start();
    impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

fake_provider::~fake_provider() {
    impl_->ioc.stop();
    impl_->thread.join();
}

std::size_t fake_provider::received() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->count;
}

bool fake_provider::wait_for(std::size_t n, std::chrono::milliseconds deadline) {
    std::unique_lock lock(impl_->mutex);
    impl_->awaited = n;
    const bool reached = impl_->cv.wait_for(lock, deadline, [&] { return impl_->count >= n; });
    impl_->awaited = 0;
    return reached;
}

void fake_provider::reset() {
    std::lock_guard lock(impl_->mutex);
    impl_->count = 0;
    impl_->first = impl_->last = {};
}

clock_type::time_point fake_provider::first() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->first;
}

clock_type::time_point fake_provider::last() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->last;
}

}  // namespace flowgate::bench
