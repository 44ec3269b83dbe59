#pragma once
// Prometheus text-format metrics: requests by route and status, messages in and out, and the
// store's commit latency.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

namespace flowgate::gateway {

class metrics {
   public:
    void count_request(std::string_view route, int status);
    // A connection the server closed without an answer: over a connection cap, a failed TLS
    // handshake, a header or body not sent in time.
    void count_connection_dropped(std::string_view reason);
    void count_message_in(std::string_view channel);
    void count_message_out(std::string_view channel, std::string_view state);
    void observe_commit(std::chrono::microseconds latency, std::size_t batch_size);
    // A retention purge committed at `at` (seconds since the epoch) with what it took away.
    void observe_purge(double at, std::size_t message_texts, std::size_t runs);
    // A webhook verified by a channel's previous secret (a rotation still in its overlap). True the
    // first time for the channel, so the caller logs it once.
    bool count_previous_secret(std::string_view channel);

    std::string render() const;

    // Upper bounds of the commit-latency buckets, in seconds.
    static constexpr std::array<double, 12> commit_buckets = {
        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

   private:
    mutable std::mutex mutex_;
    std::map<std::pair<std::string, int>, std::uint64_t> requests_;
    std::map<std::string, std::uint64_t> connections_dropped_;
    std::map<std::string, std::uint64_t> messages_in_;
    std::map<std::pair<std::string, std::string>, std::uint64_t> messages_out_;
    std::array<std::uint64_t, commit_buckets.size()> commit_counts_{};
    std::uint64_t commit_count_ = 0;
    double commit_sum_ = 0;
    std::uint64_t committed_events_ = 0;
    double last_purge_ = 0;
    std::uint64_t purged_texts_ = 0;
    std::uint64_t purged_runs_ = 0;
    std::map<std::string, std::uint64_t> previous_secret_;
};

}  // namespace flowgate::gateway
