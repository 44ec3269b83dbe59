#include "bench/loadgen.hpp"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace flowgate::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

double load_result::percentile_ms(const std::vector<std::uint32_t>& sorted_us, double q) {
    if (sorted_us.empty()) {
        return 0;
    }
    // Nearest rank: the smallest latency with at least q of them at or below it.
    const auto n = sorted_us.size();
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
    return sorted_us[std::clamp<std::size_t>(rank, 1, n) - 1] / 1000.0;
}

std::size_t load_result::status_count(int status) const {
    const auto it = statuses.find(status);
    return it == statuses.end() ? 0 : it->second;
}

namespace {

struct shared_state {
    clock_type::time_point start;
    clock_type::time_point window_start;
    std::atomic<clock_type::time_point::rep> window_end;  // when the measured window closed
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> running{0};
    std::function<void()> all_done;  // called by the last connection to finish
    std::mutex mutex;
    clock_type::time_point last_done{};
    load_result result;

    bool counted(clock_type::time_point t) const {
        return t >= window_start && t.time_since_epoch().count() <= window_end.load();
    }
    void close_window(clock_type::time_point t, bool stop_all) {
        auto current = window_end.load();
        while (t.time_since_epoch().count() < current &&
               !window_end.compare_exchange_weak(current, t.time_since_epoch().count())) {
        }
        if (stop_all) {
            stop = true;
        }
    }
};

struct connection_task {
    const load_options& opts;
    const std::vector<std::string>& requests;
    bool repeat;
    std::size_t index;
    std::size_t connections;
    shared_state& shared;

    asio::awaitable<void> run() {
        auto ex = co_await asio::this_coro::executor;
        // A keep-alive connection to each server; request k goes to server (index + k) % n, as a
        // load balancer hands each request to the next instance, so with several instances one
        // sender's messages (all on this connection, in order) are answered by each in turn.
        struct link {
            tcp::endpoint server;
            std::optional<tcp::socket> socket;
            beast::flat_buffer buffer;
        };
        std::vector<link> links;
        for (const auto port : opts.ports) {
            links.push_back({tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), std::nullopt, {}});
        }
        std::vector<std::uint32_t> latencies;
        std::vector<std::uint32_t> first;  // of the counted, those among the first_of_each
        std::vector<std::uint32_t> later;
        std::map<int, std::size_t> statuses;
        std::size_t errors = 0;
        std::size_t answered_2xx = 0;
        asio::steady_timer timer(ex);
        // Open loop: this connection's share of the rate, its first request offset so the
        // connections do not all fire at once.
        const double interval_s = opts.rate > 0 ? static_cast<double>(connections) / opts.rate : 0;
        const auto interval =
            std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(interval_s));
        const auto offset = std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(
            interval_s * static_cast<double>(index) / static_cast<double>(connections)));
        const std::size_t total = repeat ? std::numeric_limits<std::size_t>::max() : requests.size();
        for (std::size_t k = 0; k < total && !shared.stop; ++k) {
            const std::string& raw = requests[repeat ? 0 : k];
            auto due = clock_type::now();
            if (opts.rate > 0) {
                due = shared.start + offset + interval * static_cast<clock_type::rep>(k);
                if (due > clock_type::now()) {
                    timer.expires_at(due);
                    beast::error_code ec;
                    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                }
                if (shared.stop) {
                    break;
                }
            }
            auto& [server, socket, buffer] = links[(index + k) % links.size()];
            beast::error_code ec;
            if (!socket) {
                socket.emplace(ex);
                co_await socket->async_connect(server, asio::redirect_error(asio::use_awaitable, ec));
                if (ec) {
                    ++errors;
                    socket.reset();
                    continue;
                }
                socket->set_option(tcp::no_delay(true), ec);
                buffer.clear();
            }
            const auto sent = clock_type::now();
            co_await asio::async_write(
                *socket, asio::buffer(raw), asio::redirect_error(asio::use_awaitable, ec));
            http::response_parser<http::string_body> parser;
            if (!ec) {
                co_await http::async_read(
                    *socket, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
            }
            const auto done = clock_type::now();
            if (ec) {
                ++errors;
                socket.reset();
                continue;
            }
            if (parser.get().result_int() / 100 == 2) {
                ++answered_2xx;
            }
            if (shared.counted(done)) {
                const auto from = opts.rate > 0 ? due : sent;
                latencies.push_back(static_cast<std::uint32_t>(
                    std::chrono::duration_cast<std::chrono::microseconds>(done - from).count()));
                (k < opts.first_of_each ? first : later).push_back(latencies.back());
                ++statuses[static_cast<int>(parser.get().result_int())];
            }
            if (!parser.get().keep_alive()) {
                socket.reset();
            }
        }
        // A closed loop ends when the first connection runs out of requests.
        if (opts.rate == 0 && !repeat) {
            shared.close_window(clock_type::now(), opts.stop_when_first_done);
        }
        for (auto& l : links) {
            if (l.socket) {
                beast::error_code ignored;
                l.socket->shutdown(tcp::socket::shutdown_both, ignored);
            }
        }
        std::unique_lock lock(shared.mutex);
        shared.last_done = std::max(shared.last_done, clock_type::now());
        shared.result.errors += errors;
        shared.result.answered_2xx += answered_2xx;
        const auto append = [](std::vector<std::uint32_t>& to, const std::vector<std::uint32_t>& from) {
            to.insert(to.end(), from.begin(), from.end());
        };
        append(shared.result.latencies_us, latencies);
        append(shared.result.first_latencies_us, first);
        append(shared.result.later_latencies_us, later);
        for (const auto& [status, n] : statuses) {
            shared.result.statuses[status] += n;
        }
        lock.unlock();
        if (--shared.running == 0) {
            shared.all_done();
        }
    }
};

}  // namespace

load_result run_load(const load_options& opts,
                     const std::vector<std::vector<std::string>>& requests,
                     bool repeat) {
    if (opts.ports.empty()) {
        throw std::invalid_argument("run_load: no server port");
    }
    asio::io_context ioc(opts.threads);
    shared_state shared;
    shared.start = clock_type::now();
    shared.window_start = shared.start + opts.warmup;
    shared.window_end = clock_type::time_point::max().time_since_epoch().count();
    shared.running = requests.size();
    asio::steady_timer deadline(ioc);
    // Once every connection is done, the deadline must not keep the context running.
    shared.all_done = [&] { asio::post(ioc, [&] { deadline.cancel(); }); };
    std::vector<std::unique_ptr<connection_task>> tasks;
    for (std::size_t c = 0; c < requests.size(); ++c) {
        tasks.push_back(std::make_unique<connection_task>(
            connection_task{opts, requests[c], repeat, c, requests.size(), shared}));
        asio::co_spawn(asio::make_strand(ioc), tasks.back()->run(), asio::detached);
    }
    if (opts.duration.count() > 0) {
        deadline.expires_at(shared.start + opts.duration);
        deadline.async_wait([&](const beast::error_code& ec) {
            if (!ec) {
                shared.close_window(clock_type::now(), true);
            }
        });
    }
    std::vector<std::thread> threads;
    for (int i = 1; i < opts.threads; ++i) {
        threads.emplace_back([&ioc] { ioc.run(); });
    }
    ioc.run();
    for (auto& t : threads) {
        t.join();
    }
    load_result out = std::move(shared.result);
    auto end = clock_type::time_point(clock_type::duration(shared.window_end.load()));
    end = std::min(end, shared.last_done);
    out.seconds = std::chrono::duration<double>(end - shared.window_start).count();
    out.completed = out.latencies_us.size();
    for (auto* v : {&out.latencies_us, &out.first_latencies_us, &out.later_latencies_us}) {
        std::sort(v->begin(), v->end());
    }
    return out;
}

}  // namespace flowgate::bench
