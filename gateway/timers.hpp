#pragma once
// The timer loop: every `interval` (or at once when notified) it fires what fell due — waits that
// timed out take their timeout branch, runs past their flow's limit end as expired — through the
// writer, so each firing commits with the messages it queues, like any other flow step. It also
// makes the flows' webhook calls: each result resumes its run in a commit of its own. With a
// retention set, it purges old message texts and finished runs at start and then once a day.

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>

#include "gateway/http_client.hpp"
#include "gateway/ingest.hpp"
#include "gateway/metrics.hpp"
#include "gateway/writer.hpp"

namespace flowgate::gateway {

class timers {
   public:
    timers(boost::asio::io_context& ioc,
           writer& w,
           const ingest& in,
           std::function<void()> on_queued,
           std::chrono::milliseconds interval = std::chrono::seconds(1),
           std::size_t batch = 256);

    // Purges what is older than `days` at start and every `every` after (config retention_days).
    void set_retention(int days, metrics& m, std::chrono::milliseconds every = std::chrono::hours(24));

    void start();
    // Wakes the loop at once (a webhook was queued). Safe from any thread.
    void notify();
    // Stops the loop after the round in progress.
    boost::asio::awaitable<void> stop();

   private:
    boost::asio::awaitable<void> loop();
    boost::asio::awaitable<void> call(webhook_record w);
    boost::asio::awaitable<void> purge();

    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    writer& writer_;
    const ingest& ingest_;
    std::function<void()> on_queued_;
    std::chrono::milliseconds interval_;
    std::size_t batch_;
    boost::asio::steady_timer wake_;
    boost::asio::steady_timer done_;
    bool stopping_ = false;
    bool running_ = false;
    std::size_t calls_in_flight_ = 0;
    http_client client_;
    std::optional<int> retention_days_;
    metrics* metrics_ = nullptr;
    std::chrono::milliseconds purge_every_{};
    std::chrono::steady_clock::time_point next_purge_{};
};

}  // namespace flowgate::gateway
