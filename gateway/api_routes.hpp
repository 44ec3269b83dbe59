#pragma once
// Inside the admin API (gateway/api.hpp): the route table's shape, what a route's handler is
// given, and the helpers every area shares. Each area (workshops, contacts, broadcasts, results,
// audit) lists its routes in its own api_*.cpp; the dispatcher and the OpenAPI document are both
// built from those lists, so a route cannot exist without being documented.

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/types.hpp"
#include "config/config.hpp"
#include "gateway/ingest.hpp"
#include "gateway/server.hpp"
#include "gateway/store.hpp"
#include "gateway/writer.hpp"

namespace flowgate::gateway::api {

// What every handler may use.
struct context {
    const config::config& cfg;
    store& st;
    writer& wr;
    const ingest& in;
    std::function<void()> outbound_queued;  // wakes the sender after messages were queued
};

// One request, matched to a route and authorised.
struct call {
    const http_request& request;
    std::vector<std::string> params;           // the path's "{name}" segments, in order
    std::map<std::string, std::string> query;  // decoded query parameters
    api_token who;                             // the token's owner

    const std::string& param(std::size_t i) const { return params.at(i); }
    // The query parameter, or nullptr.
    const std::string* query_value(std::string_view key) const;
};

using handler = boost::asio::awaitable<http_response> (*)(const context&, const call&);

// A query parameter or the request body, for the OpenAPI document.
struct parameter {
    const char* name;
    const char* description;
};

struct route {
    const char* method;
    const char* path;  // "{name}" stands for one segment
    api_role role;
    const char* summary;
    handler handle;
    std::vector<parameter> query = {};
    const char* body = nullptr;  // a short description of the JSON (or CSV) body, if it takes one
    const char* produces = "application/json";
    // The success statuses, for the OpenAPI document ("201", "200 201", "204").
    const char* success = "200";
};

// Each area's routes (api_workshops.cpp, api_contacts.cpp, api_broadcasts.cpp, api_results.cpp,
// api_audit.cpp).
std::span<const route> workshop_routes();
std::span<const route> contact_routes();
std::span<const route> broadcast_routes();
std::span<const route> result_routes();
std::span<const route> audit_routes();
std::span<const route> token_routes();

// --- helpers shared by the areas ---

// "2027-03-14T10:00:00Z".
std::string iso_utc(timestamp t);
// An ISO 8601 time with "Z" or an offset ("2027-03-14T10:00:00+03:00", seconds optional), or
// nullopt.
std::optional<timestamp> parse_iso_utc(std::string_view s);

// The request's JSON object body, or the 415/400 response to give instead.
struct json_body {
    nlohmann::json value;
    std::optional<http_response> error;
};
json_body read_json_object(const http_request& request);

// A 400 naming the first problem's field: "/audience/group: unknown group".
http_response bad_request(const problems& p);
http_response bad_field(std::string_view pointer, std::string_view message);

// Records a staff action in the audit log inside the caller's write job: who, what, which object,
// how many rows — never message bodies or numbers.
void audit(write_tx& tx,
           const api_token& who,
           std::string_view action,
           std::string_view target,
           std::int64_t rows,
           timestamp now);
// The same as a write of its own (for reads worth auditing, such as an identified export).
// Returns whether it committed.
boost::asio::awaitable<bool> audit_now(
    const context& ctx, const api_token& who, std::string action, std::string target, std::int64_t rows);

// Runs `work` on the API's worker thread and resumes on the calling coroutine's executor with
// its result (or its exception): reading a large audience, building an export or checking an
// import must not hold up an I/O thread, which serves the providers' webhooks.
boost::asio::thread_pool& worker_pool();

template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> on_worker(F work) {
    using result_t = std::invoke_result_t<F&>;
    const auto io = co_await boost::asio::this_coro::executor;
    co_await boost::asio::post(worker_pool().get_executor(), boost::asio::use_awaitable);
    std::optional<result_t> result;
    std::exception_ptr failure;
    try {
        result.emplace(work());
    } catch (...) {
        failure = std::current_exception();
    }
    co_await boost::asio::post(io, boost::asio::use_awaitable);  // back before anything else
    if (failure) {
        std::rethrow_exception(failure);
    }
    co_return std::move(*result);
}

// A number or URN as staff type it ("0791234567", "+962 79 123 4567", Arabic-Indic digits,
// "tel:…", "whatsapp:…") as the inbound URN it would be; nullopt when it is none.
std::optional<std::string> urn_as_typed(std::string_view text, const config::config& cfg);

// A positive integer query parameter within [1, max], `fallback` when absent; nullopt when bad.
std::optional<std::int64_t> query_limit(const call& c,
                                        std::string_view key,
                                        std::int64_t fallback,
                                        std::int64_t max);

}  // namespace flowgate::gateway::api
