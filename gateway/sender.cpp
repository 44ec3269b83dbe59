#include "gateway/sender.hpp"

#include <utility>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "gateway/clock.hpp"
#include "gateway/ingest.hpp"
#include "gateway/log.hpp"

namespace flowgate::gateway {

namespace asio = boost::asio;

std::chrono::milliseconds sender_options::retry_delay(int attempts) const {
    if (retry_delays.empty()) {
        return std::chrono::seconds(5);
    }
    const auto last = static_cast<int>(retry_delays.size()) - 1;
    return retry_delays[static_cast<std::size_t>(std::clamp(attempts - 1, 0, last))];
}

sender::sender(asio::io_context& ioc, writer& w, const channel_map& channels, metrics& m, sender_options opts)
    : strand_(asio::make_strand(ioc)),
      writer_(w),
      channels_(channels),
      metrics_(m),
      opts_(opts),
      client_(strand_),
      wake_(strand_),
      idle_(strand_) {
    // Every send in flight may hand its connection back: with fewer kept than that, a provider
    // that answers fast got half of them closed after each round and opened again (2,159 → 5,401
    // messages/s to the bench's fake provider with 100,000 queued).
    client_.max_idle_per_host = std::max(client_.max_idle_per_host, opts_.in_flight);
}

void sender::start() { asio::co_spawn(strand_, loop(), asio::detached); }

void sender::notify() {
    asio::post(strand_, [this] {
        notified_ = true;
        wake_.cancel();
    });
}

asio::awaitable<void> sender::stop(std::chrono::milliseconds grace) {
    co_await asio::dispatch(strand_, asio::use_awaitable);
    stopping_ = true;
    wake_.cancel();
    idle_.expires_after(grace);
    if (in_flight_ > 0 || !loop_done_) {
        boost::system::error_code ec;
        co_await idle_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (in_flight_ > 0) {
        log::warn(
            "sender",
            std::to_string(in_flight_) + " sends still in flight at shutdown; they will be marked unknown");
    }
}

asio::awaitable<void> sender::loop() {
    while (!stopping_) {
        notified_ = false;
        std::size_t claimed = 0;
        const std::size_t room = opts_.in_flight > in_flight_ ? opts_.in_flight - in_flight_ : 0;
        if (room > 0) {
            auto batch = std::make_shared<std::vector<outbound_record>>();
            const std::size_t limit = std::min(room, opts_.batch);
            const auto now = gateway::now();
            // Jobs are named locals, never temporaries in a co_await expression (g++ 12 may
            // destroy those twice).
            writer::job claim = [batch, limit, now](write_tx& tx) { *batch = tx.claim_outbound(now, limit); };
            const write_status st = co_await writer_.write(std::move(claim));
            co_await asio::dispatch(strand_, asio::use_awaitable);
            if (st == write_status::committed) {
                claimed = batch->size();
                for (auto& m : *batch) {
                    ++in_flight_;
                    metrics_.count_message_out(m.channel_id, "sending");
                    asio::co_spawn(strand_, send_one(std::move(m)), asio::detached);
                }
            }
        }
        if (stopping_) {
            break;
        }
        // A full batch means more may be due: go again at once. Otherwise sleep until notified,
        // a send finishes (room frees up), or the poll interval passes (retries falling due).
        if ((claimed == 0 || claimed < opts_.batch || in_flight_ >= opts_.in_flight) && !notified_) {
            wake_.expires_after(opts_.poll_interval);
            boost::system::error_code ec;
            co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }
    loop_done_ = true;
    if (in_flight_ == 0) {
        idle_.cancel();
    }
}

asio::awaitable<void> sender::pace(const std::string& channel_id, int segments) {
    const auto it = channels_.find(channel_id);
    const double rate = it == channels_.end() ? 0 : it->second.config->max_per_second;
    const auto now = std::chrono::steady_clock::now();
    auto& slot = next_slot_[channel_id];
    const auto mine = std::max(slot, now);
    if (rate > 0) {
        slot = mine + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                          std::chrono::duration<double>(std::max(segments, 1) / rate));
    }
    if (mine > now) {
        asio::steady_timer t(strand_);
        t.expires_at(mine);
        boost::system::error_code ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

void sender::hold(const std::string& channel_id, std::chrono::seconds wait) {
    auto& slot = next_slot_[channel_id];
    slot = std::max(slot, std::chrono::steady_clock::now() + wait);
}

asio::awaitable<void> sender::send_one(outbound_record m) {
    const auto it = channels_.find(m.channel_id);
    std::string error;
    bool sent = false;
    bool retry = false;
    bool stopped = false;  // the provider says the contact opted out (blocked us, unsubscribed)
    std::chrono::seconds retry_after{0};
    std::string provider_id;
    if (it == channels_.end()) {
        error = "channel not configured";
    } else {
        co_await pace(m.channel_id, m.segments);
    }
    // The last check before the provider: a STOP committed while this message waited (for its
    // claim to return, for the channel's rate) stops it. A message already handed over cannot be
    // recalled; one contact has at most one message 'sending' at a time (claim_outbound).
    const auto key = writer_.key_for(m.urn);  // the contact's lane, for both of its writer jobs
    confirmation go = co_await confirm(m.id, key);
    if (go == confirmation::stopped) {
        metrics_.count_message_out(m.channel_id, "failed");
        log::info("sender", "message " + m.uuid + " not sent: the contact opted out or was erased");
        finish_one();
        co_return;
    }
    if (go == confirmation::unavailable) {
        error = "store_unavailable";
        retry = true;
    } else if (it != channels_.end()) {
        const handlers::outgoing_message out{
            m.uuid, m.channel_id, m.urn, m.text, gateway::now(), m.last_inbound_at};
        const handlers::handler& h = *it->second.handler;
        const auto req = h.build_send(out);
        auto outcome = co_await client_.request(req, opts_.request_timeout);
        co_await asio::dispatch(strand_, asio::use_awaitable);
        handlers::send_result result;
        if (!outcome.response) {
            result = {handlers::send_error::connection_failed, "", outcome.error};
        } else {
            result = h.parse_send_response(out, *outcome.response);
        }
        if (result.error == handlers::send_error::none) {
            sent = true;
            provider_id = result.provider_id;
        } else {
            stopped = result.error == handlers::send_error::contact_stopped;
            if (result.retry_after) {
                hold(m.channel_id, *result.retry_after);
                retry_after = *result.retry_after;
            }
            error = std::string(handlers::to_string(result.error)) +
                    (result.detail.empty() ? "" : ": " + result.detail);
            retry = handlers::is_retryable(result.error) && m.attempts < opts_.max_attempts;
        }
    }
    const auto now = gateway::now();
    const auto id = m.id;
    const auto next = now + std::max<std::chrono::milliseconds>(opts_.retry_delay(m.attempts), retry_after);
    const auto contact_id = m.contact_id;
    writer::job record = [=](write_tx& tx) {
        if (sent) {
            tx.mark_sent(id, provider_id, now);
        } else if (retry) {
            tx.mark_retry(id, next, error, now);
        } else {
            tx.mark_failed(id, error, now);
        }
        if (stopped) {
            opt_out(tx, contact_id, now);  // honoured at once, as a STOP
        }
    };
    write_status st = write_status::unavailable;
    for (;;) {
        writer::job attempt = record;
        st = co_await writer_.write(std::move(attempt), writer::then::nothing, key);
        co_await asio::dispatch(strand_, asio::use_awaitable);
        if (st != write_status::unavailable || stopping_) {
            break;
        }
        // The store cannot commit (disk full, I/O error): keep the outcome and try again, so the
        // message does not stay 'sending' once the store recovers.
        asio::steady_timer t(strand_);
        t.expires_after(opts_.poll_interval);
        boost::system::error_code ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (st != write_status::committed) {
        // Still 'sending' in the store; after a restart it becomes 'unknown' and is never silently
        // marked sent.
        log::error("sender", "could not record the outcome of message " + m.uuid);
    }
    const char* state = sent ? "sent" : retry ? "retry" : "failed";
    metrics_.count_message_out(m.channel_id, state);
    if (!sent) {
        log::warn("sender",
                  "message " + m.uuid + " on " + m.channel_id + " attempt " + std::to_string(m.attempts) +
                      ": " + error + (retry ? " (will retry)" : " (failed)"));
    }
    finish_one();
}

void sender::finish_one() {
    --in_flight_;
    if (stopping_ && in_flight_ == 0 && loop_done_) {
        idle_.cancel();
    } else if (!stopping_) {
        notified_ = true;  // room for more
        wake_.cancel();
    }
}

asio::awaitable<sender::confirmation> sender::confirm(std::int64_t id, std::size_t key) {
    auto go = std::make_shared<bool>(false);
    const auto now = gateway::now();
    writer::job check = [go, id, now](write_tx& tx) { *go = tx.confirm_send(id, now); };
    // In the contact's lane (writer::key_of): ordered with their STOP as with a single writer.
    const write_status st = co_await writer_.write(std::move(check), writer::then::nothing, key);
    co_await asio::dispatch(strand_, asio::use_awaitable);
    if (st != write_status::committed) {
        co_return confirmation::unavailable;
    }
    co_return *go ? confirmation::go : confirmation::stopped;
}

}  // namespace flowgate::gateway
