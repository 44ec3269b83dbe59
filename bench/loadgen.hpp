#pragma once
// An HTTP/1.1 load generator on Beast: keep-alive connections to 127.0.0.1, each sending its own
// list of pre-built requests in order (so one sender's messages arrive in the order they were
// written), either as fast as the server answers (closed loop) or on a fixed schedule (open loop,
// latency measured from when each request was due, so a stalled server is not hidden by requests
// that were never sent: "coordinated omission").

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace flowgate::bench {

struct load_options {
    // The servers on 127.0.0.1. Each connection keeps one to each, and sends its k-th request to
    // ports[(c + k) % ports.size()]: with several instances, a load balancer's round robin.
    std::vector<std::uint16_t> ports;
    int threads = 1;  // client I/O threads
    // Requests per second over all connections; 0: closed loop, each connection sends its next
    // request as soon as the previous one is answered.
    double rate = 0;
    // Stop after this long even if requests remain (0: when the lists run out). In a closed loop the
    // run also ends as soon as the first connection runs out, so every connection is busy throughout.
    std::chrono::milliseconds duration{0};
    // Closed loop: false sends every list to its end (the window still closes when the first
    // connection runs out).
    bool stop_when_first_done = true;
    // Requests before this point are sent but not counted (warm-up within the run).
    std::chrono::milliseconds warmup{0};
    // Each connection's first `first_of_each` requests (its senders' first messages) are also
    // counted apart, in load_result::first_latencies_us.
    std::size_t first_of_each = 0;
};

struct load_result {
    std::size_t completed = 0;  // answered inside the measured window
    std::size_t errors = 0;     // connection errors, over the whole run
    double seconds = 0;         // the measured window
    std::map<int, std::size_t> statuses;
    std::size_t answered_2xx = 0;                   // 2xx answers over the whole run, in the window or not
    std::vector<std::uint32_t> latencies_us;        // of the counted requests, sorted
    std::vector<std::uint32_t> first_latencies_us;  // of those among load_options::first_of_each, sorted
    std::vector<std::uint32_t> later_latencies_us;  // of the rest, sorted

    double rate() const { return seconds > 0 ? static_cast<double>(completed) / seconds : 0; }
    // q in [0, 1]; 0 when nothing was counted.
    double percentile_ms(double q) const { return percentile_ms(latencies_us, q); }
    static double percentile_ms(const std::vector<std::uint32_t>& sorted_us, double q);
    std::size_t status_count(int status) const;
};

// `requests[c]` is connection c's list of raw HTTP/1.1 requests (bytes as sent). A list may hold
// one request to repeat: see `repeat`.
load_result run_load(const load_options& opts,
                     const std::vector<std::vector<std::string>>& requests,
                     bool repeat = false);

}  // namespace flowgate::bench
