#pragma once
// Prometheus text-format metrics: requests by route and status, messages in and out, the store's
// commit latency and how long jobs wait in the writer.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

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
    // How long each job of a group waited in the writer, from its submission to its answer: what a
    // webhook's 2xx waits for in the store (the queue, then the group's commit).
    void observe_job_waits(const std::vector<std::chrono::microseconds>& waits);
    // The writer's housekeeping between two groups (SQLite: copying the WAL into the database
    // file), which the jobs that arrive meanwhile wait for.
    void observe_housekeeping(std::chrono::microseconds took);
    // A group run again, each job in its savepoint, after one of its jobs failed in the group run
    // without them (store::optimistic_groups).
    void count_group_retry();
    // A retention purge committed at `at` (seconds since the epoch) with what it took away.
    void observe_purge(double at, std::size_t message_texts, std::size_t runs);
    // A webhook verified by a channel's previous secret (a rotation still in its overlap). True the
    // first time for the channel, so the caller logs it once.
    bool count_previous_secret(std::string_view channel);

    std::string render() const;

    // Upper bounds of the latency histograms' buckets (commits, job waits), in seconds.
    static constexpr std::array<double, 12> latency_buckets = {
        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

   private:
    // A Prometheus histogram over latency_buckets: cumulative counts, their sum and their number.
    struct histogram {
        std::array<std::uint64_t, latency_buckets.size()> counts{};
        std::uint64_t count = 0;
        double sum = 0;
        void observe(std::chrono::microseconds d);
        void render(std::ostream& out, std::string_view name, std::string_view help) const;
    };

    mutable std::mutex mutex_;
    std::map<std::pair<std::string, int>, std::uint64_t> requests_;
    std::map<std::string, std::uint64_t> connections_dropped_;
    std::map<std::string, std::uint64_t> messages_in_;
    std::map<std::pair<std::string, std::string>, std::uint64_t> messages_out_;
    histogram commits_;
    std::uint64_t committed_events_ = 0;
    histogram job_waits_;
    histogram housekeeping_;
    std::uint64_t group_retries_ = 0;
    double last_purge_ = 0;
    std::uint64_t purged_texts_ = 0;
    std::uint64_t purged_runs_ = 0;
    std::map<std::string, std::uint64_t> previous_secret_;
};

}  // namespace flowgate::gateway
