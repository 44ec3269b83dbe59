#pragma once
// The sender drains the outbox: it claims due messages in batches (queued → sending), hands each
// to its channel's handler, performs the request, and records the outcome (sent, a retry with
// backoff on 5xx/429/timeouts, or failed). Per-channel rate limits space the sends.

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "gateway/http_client.hpp"
#include "gateway/metrics.hpp"
#include "gateway/routes.hpp"
#include "gateway/writer.hpp"

namespace flowgate::gateway {

struct sender_options {
    std::size_t batch = 64;  // messages claimed per store round trip
    // Concurrent requests to providers. Each in flight waits on two commits (the opt-out check just
    // before it, the outcome after): with 32, commits held 4 to 5 messages and an fdatasync each;
    // 128 fills them (3,200 → 5,500–7,300 messages/s to the bench's fake provider). Each channel's
    // rate limit still paces a real provider.
    std::size_t in_flight = 128;
    int max_attempts = 6;
    std::chrono::milliseconds request_timeout{30000};
    std::chrono::milliseconds poll_interval{1000};  // for retries falling due
    // The delay after attempt n is retry_delays[n - 1] (the last one repeats).
    std::vector<std::chrono::milliseconds> retry_delays{std::chrono::seconds(5),
                                                        std::chrono::seconds(30),
                                                        std::chrono::minutes(2),
                                                        std::chrono::minutes(10),
                                                        std::chrono::minutes(30),
                                                        std::chrono::hours(1)};

    std::chrono::milliseconds retry_delay(int attempts) const;
};

class sender {
   public:
    sender(boost::asio::io_context& ioc,
           writer& w,
           const channel_map& channels,
           metrics& m,
           sender_options opts = {});

    void start();
    // Wakes the loop at once (new messages were queued). Safe from any thread.
    void notify();
    // Stops claiming and waits for in-flight sends (up to `grace`).
    boost::asio::awaitable<void> stop(std::chrono::milliseconds grace);

   private:
    boost::asio::awaitable<void> loop();
    boost::asio::awaitable<void> send_one(outbound_record message);
    enum class confirmation { go, stopped, unavailable };
    // write_tx::confirm_send through the writer, in the lane of the contact's key (writer::key_of):
    // serialised with every STOP of theirs, whose webhook goes to that lane.
    boost::asio::awaitable<confirmation> confirm(std::int64_t id, std::size_t key);
    void finish_one();
    // Waits for the channel's rate (max_per_second, in segments): each send takes `segments`
    // slots of 1/max_per_second seconds.
    boost::asio::awaitable<void> pace(const std::string& channel_id, int segments);
    // The provider asked us to slow down: nothing more goes out on the channel for `wait`.
    void hold(const std::string& channel_id, std::chrono::seconds wait);

    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    writer& writer_;
    const channel_map& channels_;
    metrics& metrics_;
    sender_options opts_;
    http_client client_;
    boost::asio::steady_timer wake_;
    boost::asio::steady_timer idle_;
    bool stopping_ = false;
    bool notified_ = false;
    std::size_t in_flight_ = 0;
    bool loop_done_ = false;
    std::map<std::string, std::chrono::steady_clock::time_point> next_slot_;
};

}  // namespace flowgate::gateway
