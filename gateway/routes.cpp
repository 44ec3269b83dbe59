#include "gateway/routes.hpp"

#include <utility>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "gateway/api.hpp"
#include "gateway/api_routes.hpp"
#include "gateway/clock.hpp"
#include "gateway/log.hpp"
#include "gateway/responses.hpp"
#include "gateway/static_files.hpp"

namespace flowgate::gateway {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

struct parsed_target {
    std::string_view path;
    std::string_view query;
};

std::string_view sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

parsed_target split_target(boost::beast::string_view boost_target) {
    const std::string_view target = sv(boost_target);
    const auto q = target.find('?');
    if (q == std::string_view::npos) {
        return {target, {}};
    }
    return {target.substr(0, q), target.substr(q + 1)};
}

// "/c/{channel}/{action}" → channel and action; empty on any other shape.
bool split_channel_path(std::string_view path, std::string_view& channel, std::string_view& action) {
    constexpr std::string_view prefix = "/c/";
    if (path.substr(0, prefix.size()) != prefix) {
        return false;
    }
    path.remove_prefix(prefix.size());
    const auto slash = path.find('/');
    if (slash == std::string_view::npos || slash == 0) {
        return false;
    }
    channel = path.substr(0, slash);
    action = path.substr(slash + 1);
    return !action.empty() && action.find('/') == std::string_view::npos;
}

}  // namespace

routes::routes(const config::config& cfg,
               const channel_map& channels,
               store& st,
               writer& w,
               const ingest& in,
               metrics& m,
               std::function<void()> outbound_queued)
    : config_(cfg),
      channels_(channels),
      store_(st),
      writer_(w),
      ingest_(in),
      metrics_(m),
      outbound_queued_(std::move(outbound_queued)),
      api_(cfg, st, w, in, outbound_queued_) {}

std::size_t routes::body_limit(const http_request& header) const {
    // A contacts import is a spreadsheet: 8 MiB (docs/api.md) whatever server.body_limit says, so
    // raising it for one route does not raise it for every webhook. Other routes: the config's.
    constexpr std::size_t contacts_import_limit = 8 * 1024 * 1024;
    if (header.method() == http::verb::post &&
        split_target(header.target()).path == "/api/v1/contacts/import") {
        return std::max(contacts_import_limit, config_.server.body_limit);
    }
    return config_.server.body_limit;
}

void routes::count_rejected(int status) { metrics_.count_request("rejected", status); }

// Webhooks are never rate limited: a provider sends from a few addresses at whatever rate its
// traffic needs, and those addresses are shared with all its other customers, so limiting them
// (even only their failures) would let anyone with an account there get our real webhooks refused.
// They are held by their signatures, the size limits, the timeouts and the connection caps.
bool routes::rate_limited(const http_request& header) const {
    std::string_view channel, action;
    return !(split_channel_path(split_target(header.target()).path, channel, action) &&
             (action == "receive" || action == "status"));
}

void routes::count_dropped(std::string_view reason) { metrics_.count_connection_dropped(reason); }

asio::awaitable<http_response> routes::handle(http_request request) {
    const auto [path, query] = split_target(request.target());
    std::string route = "unknown";
    http_response res;
    try {
        std::string_view channel_id, action;
        if (path == "/healthz") {
            route = "healthz";
            if (request.method() != http::verb::get && request.method() != http::verb::head) {
                res = method_not_allowed("GET, HEAD");
            } else if (store_.ping() && writer_.healthy()) {
                res = make_response(http::status::ok, "text/plain; charset=utf-8", "ok\n");
            } else {
                res = make_response(
                    http::status::service_unavailable, "text/plain; charset=utf-8", "store unavailable\n");
            }
        } else if (path == "/metrics") {
            route = "metrics";
            if (request.method() != http::verb::get) {
                res = method_not_allowed("GET");
            } else {
                res = make_response(
                    http::status::ok, "text/plain; version=0.0.4; charset=utf-8", metrics_.render());
            }
        } else if (split_channel_path(path, channel_id, action) &&
                   (action == "receive" || action == "status")) {
            route = std::string(action);
            const auto it = channels_.find(channel_id);
            if (it == channels_.end()) {
                res = error_response(http::status::not_found, "unknown channel");
            } else {
                res = co_await channel_request(
                    it->second,
                    action == "receive" ? handlers::endpoint::receive : handlers::endpoint::status,
                    request);
            }
        } else if (admin_api::owns(path)) {
            route = "api";
            // Staff requests read the store, where a short read waits for any long one (a
            // broadcast's audience, an export): they run on the API's worker, so that an I/O
            // thread, which serves the providers' webhooks, never waits with them.
            auto staff_request = api_.handle(request, std::string(path));
            res = co_await asio::co_spawn(
                api::worker_pool().get_executor(), std::move(staff_request), asio::use_awaitable);
        } else if (const embedded_file* file = find_static_file(path)) {
            route = "static";
            if (request.method() != http::verb::get && request.method() != http::verb::head) {
                res = method_not_allowed("GET, HEAD");
            } else {
                res = static_response(*file, request);
            }
        } else {
            res = error_response(http::status::not_found, "not found");
        }
    } catch (const std::exception& e) {
        // A bug must not take the server down: answer 500 and keep serving.
        log::error("http", std::string("request failed: ") + e.what());
        res = error_response(http::status::internal_server_error, "internal error");
    }
    if (request.method() == http::verb::head) {
        res.body().clear();
    }
    metrics_.count_request(route, static_cast<int>(res.result_int()));
    co_return res;
}

asio::awaitable<http_response> routes::channel_request(const channel_runtime& channel,
                                                       handlers::endpoint endpoint,
                                                       http_request& request) {
    const handlers::handler& handler = *channel.handler;
    const std::string method(request.method_string());
    if (!handler.allows(endpoint, method)) {
        std::string allow;
        for (const char* m : {"GET", "POST"}) {
            if (handler.allows(endpoint, m)) {
                allow += (allow.empty() ? "" : ", ") + std::string(m);
            }
        }
        co_return method_not_allowed(allow);
    }

    handlers::raw_request raw;
    raw.method = method;
    for (const auto& field : request) {
        raw.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    }
    // Every provider posts JSON or a form: anything else is refused before the handler reads it.
    if (method == "POST") {
        const std::string type = raw.content_type();
        if (type != "application/json" && type != "application/x-www-form-urlencoded") {
            co_return error_response(http::status::unsupported_media_type, "unsupported content type");
        }
    }
    const auto [path, query] = split_target(request.target());
    raw.path = std::string(path);
    raw.query = std::string(query);
    raw.body = std::move(request.body());
    const std::string base = !config_.server.public_url.empty()
                                 ? config_.server.public_url
                                 : config_.server.scheme() + "://" + config_.server.host + ":" +
                                       std::to_string(config_.server.port);
    raw.public_url = base + std::string(request.target());

    handlers::receive_result result = handler.receive(endpoint, raw);
    if (result.previous_secret && metrics_.count_previous_secret(channel.config->settings.id)) {
        log::warn("channel " + channel.config->settings.id,
                  "a request passed with the previous secret: the rotation is still under way "
                  "(flowgate_webhooks_previous_secret_total counts them; remove the _previous key when it "
                  "stops growing)");
    }
    if (result.respond) {
        co_return make_response(static_cast<http::status>(result.respond->status),
                                result.respond->content_type,
                                result.respond->body);
    }
    if (result.result != handlers::receive_result::outcome::accepted || result.events.empty()) {
        const auto reply = handler.reply(endpoint, result);
        co_return make_response(static_cast<http::status>(reply.status), reply.content_type, reply.body);
    }

    // Store the events in one job per writer lane (one job with one lane: SQLite); the reply
    // waits for every one's durable commit. A contact's events (by number, either scheme) always
    // go to the same lane, in the order received, so its messages are stepped through its flow in
    // that order; reports on sent messages go to lane 0.
    struct part {
        std::vector<handlers::event> events;
        std::vector<sealed_inbound> sealed;  // the messages', sealed here on the I/O thread
        std::size_t stored = 0;
        std::size_t queued = 0;
    };
    const std::size_t lanes = writer_.lanes();
    auto parts = std::make_shared<std::vector<part>>(lanes);
    for (auto& e : result.events) {
        const auto* msg = std::get_if<handlers::incoming_message>(&e);
        const auto* ev = std::get_if<handlers::channel_event>(&e);
        const std::string* urn = msg != nullptr ? &msg->urn : ev != nullptr ? &ev->urn : nullptr;
        part& p = (*parts)[urn != nullptr ? writer_.key_for(*urn) % lanes : 0];
        if (msg != nullptr) {
            p.sealed.push_back(store_.seal_inbound(msg->urn, msg->text));
        }
        p.events.push_back(std::move(e));
    }
    const std::string channel_id = channel.config->settings.id;
    const auto now = gateway::now();
    std::vector<std::pair<std::size_t, writer::job>> jobs;
    for (std::size_t lane = 0; lane < lanes; ++lane) {
        if ((*parts)[lane].events.empty()) {
            continue;
        }
        jobs.emplace_back(lane, [this, parts, lane, channel_id, now](write_tx& tx) {
            part& p = (*parts)[lane];
            p.stored = p.queued = 0;  // set, not added to: a job may run again
            std::size_t next_sealed = 0;
            for (const auto& e : p.events) {
                if (const auto* msg = std::get_if<handlers::incoming_message>(&e)) {
                    const auto outcome = ingest_.apply(tx, channel_id, *msg, now, &p.sealed[next_sealed++]);
                    p.stored += outcome.duplicate ? 0 : 1;
                    p.queued += outcome.queued;
                } else if (const auto* st = std::get_if<handlers::status_update>(&e)) {
                    ingest_.apply(tx, channel_id, *st, now);
                } else if (const auto* ev = std::get_if<handlers::channel_event>(&e)) {
                    ingest_.apply(tx, channel_id, *ev, now);
                }
            }
        });
    }
    // Named, not temporaries in the co_await expression (g++ 12 may destroy those twice).
    write_status status = write_status::committed;
    if (jobs.size() == 1) {
        writer::job only = std::move(jobs.front().second);
        status = co_await writer_.write(std::move(only), writer::then::nothing, jobs.front().first);
    } else {
        status = co_await writer_.write_all(std::move(jobs));
    }
    if (status == write_status::unavailable) {
        auto res = error_response(http::status::service_unavailable, "store unavailable");
        res.set(http::field::retry_after, "5");
        co_return res;
    }
    if (status == write_status::failed) {
        co_return error_response(http::status::internal_server_error, "internal error");
    }
    std::size_t queued = 0;
    for (const part& p : *parts) {
        for (std::size_t i = 0; i < p.stored; ++i) {
            metrics_.count_message_in(channel_id);
        }
        queued += p.queued;
    }
    if (queued > 0 && outbound_queued_) {
        outbound_queued_();
    }
    const auto reply = handler.reply(endpoint, result);
    co_return make_response(static_cast<http::status>(reply.status), reply.content_type, reply.body);
}

}  // namespace flowgate::gateway
