#include "gateway/timers.hpp"

#include <utility>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

#include "gateway/clock.hpp"
#include "gateway/log.hpp"

namespace flowgate::gateway {

namespace asio = boost::asio;

timers::timers(asio::io_context& ioc,
               writer& w,
               const ingest& in,
               std::function<void()> on_queued,
               std::chrono::milliseconds interval,
               std::size_t batch)
    : strand_(asio::make_strand(ioc)),
      writer_(w),
      ingest_(in),
      on_queued_(std::move(on_queued)),
      interval_(interval),
      batch_(batch),
      wake_(strand_),
      done_(strand_),
      client_(strand_) {}

void timers::set_retention(int days, metrics& m, std::chrono::milliseconds every) {
    retention_days_ = days;
    metrics_ = &m;
    purge_every_ = every;
    next_purge_ =
        std::chrono::steady_clock::now();  // the first at start: a server restarted daily purges too
}

asio::awaitable<void> timers::purge() {
    const auto now = gateway::now();
    const timestamp cutoff = now - std::chrono::hours(24) * *retention_days_;
    auto counts = std::make_shared<purge_counts>();
    writer::job job = [counts, cutoff](write_tx& tx) { *counts = tx.purge_before(cutoff); };
    // The checkpoint takes the overwritten texts' old pages out of the log too.
    const write_status st = co_await writer_.write(std::move(job), writer::then::checkpoint);
    co_await asio::dispatch(strand_, asio::use_awaitable);
    if (st != write_status::committed) {
        log::warn("retention", "could not purge old messages and runs; will try again in a minute");
        next_purge_ = std::chrono::steady_clock::now() +
                      std::min<std::chrono::milliseconds>(purge_every_, std::chrono::minutes(1));
        co_return;
    }
    next_purge_ = std::chrono::steady_clock::now() + purge_every_;
    metrics_->observe_purge(
        static_cast<double>(to_millis(now)) / 1000.0, counts->message_texts, counts->runs);
    log::info("retention",
              "emptied " + std::to_string(counts->message_texts) + " message texts and deleted " +
                  std::to_string(counts->runs) + " finished runs older than " +
                  std::to_string(*retention_days_) + " days");
}

void timers::notify() {
    asio::post(strand_, [this] { wake_.cancel(); });
}

asio::awaitable<void> timers::call(webhook_record w) {
    handlers::send_request req;
    req.method = w.call.method;
    req.url = w.call.url;
    req.body = w.call.body;
    for (const auto& [name, value] : w.call.headers) {
        req.headers.push_back({name, value});
    }
    // Shorter than the run's own wait, so an answer in time is never taken for a timeout.
    auto outcome = co_await client_.request(req, std::chrono::seconds(30));
    co_await asio::dispatch(strand_, asio::use_awaitable);
    const int status = outcome.response ? outcome.response->status : 0;
    std::string body = outcome.response ? std::move(outcome.response->body) : std::string();
    auto queued = std::make_shared<std::size_t>(0);
    const auto now = gateway::now();
    writer::job job = [this, w, status, body = std::move(body), queued, now](write_tx& tx) {
        *queued = ingest_.apply_webhook_result(tx, w, status, body, now);
    };
    const write_status st = co_await writer_.write(std::move(job));
    co_await asio::dispatch(strand_, asio::use_awaitable);
    if (st != write_status::committed) {
        log::warn("timers", "could not record a webhook result; the run's wait will time out");
    } else if (*queued > 0) {
        on_queued_();
    }
    --calls_in_flight_;
}

void timers::start() {
    running_ = true;
    asio::co_spawn(strand_, loop(), asio::detached);
}

asio::awaitable<void> timers::stop() {
    co_await asio::dispatch(strand_, asio::use_awaitable);
    stopping_ = true;
    wake_.cancel();
    if (running_) {
        done_.expires_at(std::chrono::steady_clock::time_point::max());
        boost::system::error_code ec;
        co_await done_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<void> timers::loop() {
    while (!stopping_) {
        if (retention_days_ && std::chrono::steady_clock::now() >= next_purge_) {
            co_await purge();
        }
        auto out = std::make_shared<timer_outcome>();
        const auto now = gateway::now();
        // A named job, never a temporary in the co_await expression (g++ 12 may destroy those twice).
        auto calls = std::make_shared<std::vector<webhook_record>>();
        writer::job job = [this, out, calls, now](write_tx& tx) {
            *out = ingest_.fire_due(tx, now, batch_);
            *calls = tx.claim_webhooks(64);
        };
        const write_status st = co_await writer_.write(std::move(job));
        co_await asio::dispatch(strand_, asio::use_awaitable);
        if (st == write_status::committed) {
            for (auto& w : *calls) {
                ++calls_in_flight_;
                asio::co_spawn(strand_, call(std::move(w)), asio::detached);
            }
            if (out->queued > 0) {
                on_queued_();
            }
            if (out->fired == batch_) {
                continue;  // more may be due
            }
        } else {
            log::warn("timers", "could not fire due timers; will try again");
        }
        if (stopping_) {
            break;
        }
        wake_.expires_after(interval_);
        boost::system::error_code ec;
        co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    running_ = false;
    done_.cancel();
}

}  // namespace flowgate::gateway
