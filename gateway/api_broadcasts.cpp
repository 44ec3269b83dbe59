// Broadcasts (docs/api.md, "Broadcasts"): the planning is gateway/broadcasts.cpp's; this file reads
// the audience, answers previews, and sends and cancels through the writer.

#include <utility>

#include <algorithm>
#include <boost/beast/http.hpp>
#include <memory>

#include "gateway/api_routes.hpp"
#include "gateway/broadcasts.hpp"
#include "gateway/clock.hpp"
#include "gateway/responses.hpp"

namespace flowgate::gateway::api {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using json = nlohmann::json;

namespace {

json progress_json(const broadcasts::progress& p) {
    return {{"queued", p.queued},
            {"sent", p.sent},
            {"delivered", p.delivered},
            {"failed", p.failed},
            {"cancelled", p.cancelled}};
}

// One broadcast as GET /api/v1/broadcasts/{id} shows it.
json broadcast_json(const broadcast_record& b, timestamp now) {
    json out = {{"id", b.uuid},
                {"status", broadcasts::to_string(broadcasts::status_of(b, now))},
                {"created_at", iso_utc(b.created_at)},
                {"created_by", b.created_by},
                {"send_at", iso_utc(b.send_at)},
                {"channel", b.channel_id.empty() ? json(nullptr) : json(b.channel_id)},
                {"text", b.text},
                {"audience", b.audience}};
    if (b.figures.is_object()) {
        for (const auto& [key, value] : b.figures.items()) {
            out[key] = value;
        }
    }
    out["recipients"] = b.recipients;
    out["total_segments"] = b.total_segments;
    out["progress"] = progress_json(broadcasts::progress_of(b));
    return out;
}

asio::awaitable<http_response> create_broadcast(const context& ctx, const call& c) {
    auto [body, error] = read_json_object(c.request);
    if (error) {
        co_return std::move(*error);
    }
    problems problems;
    auto req = broadcasts::parse_request(body, ctx.cfg, problems);
    if (!req) {
        co_return bad_request(problems);
    }
    if (req->audience.type == broadcast_audience::kind::workshop) {
        const auto workshops = ctx.st.list_workshops();
        if (std::none_of(workshops.begin(), workshops.end(), [&](const workshop_summary& s) {
                return s.workshop.id == req->audience.workshop_id;
            })) {
            co_return bad_field("/audience/workshop", "no such workshop");
        }
    }
    const auto now = gateway::now();
    auto& store = ctx.st;
    const auto& cfg = ctx.cfg;
    auto plan = std::make_shared<broadcasts::plan>(co_await on_worker([&store, &cfg, &req, now] {
        return broadcasts::make_plan(*req, store.broadcast_contacts(req->audience), cfg, now);
    }));
    if (!plan->too_long.empty()) {
        co_return bad_request(plan->too_long);
    }
    json figures = broadcasts::figures_json(*plan);
    if (req->preview) {
        figures["preview"] = true;
        figures["send_at"] = iso_utc(plan->send_at);
        co_return json_response(http::status::ok, figures);
    }
    auto record = std::make_shared<broadcast_record>(broadcasts::record_of(*req, *plan, c.who, now));
    // One job: the broadcast and every message commit together, or nothing does.
    writer::job job = [record, plan, now, who = c.who](write_tx& tx) {
        broadcasts::save(tx, *record, *plan, now);
        audit(tx, who, "broadcast.create", record->uuid, record->recipients, now);
    };
    const write_status st = co_await ctx.wr.write(std::move(job));
    if (st != write_status::committed) {
        co_return error_response(http::status::service_unavailable, "store unavailable");
    }
    ctx.outbound_queued();
    record->pending = record->recipients;
    figures["id"] = record->uuid;
    figures["status"] = broadcasts::to_string(broadcasts::status_of(*record, now));
    figures["send_at"] = iso_utc(record->send_at);
    co_return json_response(http::status::created, figures);
}

asio::awaitable<http_response> list_broadcasts(const context& ctx, const call& c) {
    const auto limit = query_limit(c, "limit", 100, 1000);
    if (!limit) {
        co_return bad_field("/limit", "must be a whole number from 1 to 1000");
    }
    const auto now = gateway::now();
    json out = json::array();
    for (const auto& b : ctx.st.list_broadcasts(static_cast<std::size_t>(*limit))) {
        out.push_back({{"id", b.uuid},
                       {"created_at", iso_utc(b.created_at)},
                       {"created_by", b.created_by},
                       {"send_at", iso_utc(b.send_at)},
                       {"status", broadcasts::to_string(broadcasts::status_of(b, now))},
                       {"recipients", b.recipients},
                       {"total_segments", b.total_segments}});
    }
    co_return json_response(http::status::ok, {{"broadcasts", out}});
}

asio::awaitable<http_response> get_broadcast(const context& ctx, const call& c) {
    const auto b = ctx.st.find_broadcast(c.param(0));
    if (!b) {
        co_return error_response(http::status::not_found, "no such broadcast");
    }
    co_return json_response(http::status::ok, broadcast_json(*b, gateway::now()));
}

asio::awaitable<http_response> cancel_broadcast(const context& ctx, const call& c) {
    enum class outcome { cancelled, missing, finished };
    auto result = std::make_shared<outcome>(outcome::missing);
    const auto now = gateway::now();
    writer::job job = [uuid = c.param(0), result, now, who = c.who](write_tx& tx) {
        const auto b = tx.find_broadcast(uuid);
        if (!b) {
            return;
        }
        const auto st = broadcasts::status_of(*b, now);
        if (st == broadcasts::status::done || st == broadcasts::status::cancelled) {
            *result = outcome::finished;
            return;
        }
        const auto n = tx.cancel_broadcast(b->id, now);
        audit(tx, who, "broadcast.cancel", uuid, static_cast<std::int64_t>(n), now);
        *result = outcome::cancelled;
    };
    const write_status st = co_await ctx.wr.write(std::move(job));
    if (st != write_status::committed) {
        co_return error_response(http::status::service_unavailable, "store unavailable");
    }
    if (*result == outcome::missing) {
        co_return error_response(http::status::not_found, "no such broadcast");
    }
    if (*result == outcome::finished) {
        co_return error_response(http::status::conflict, "the broadcast is already done or cancelled");
    }
    const auto b = ctx.st.find_broadcast(c.param(0));
    if (!b) {
        co_return error_response(http::status::internal_server_error, "internal error");
    }
    co_return json_response(http::status::ok, broadcast_json(*b, gateway::now()));
}

const route routes[] = {
    {"POST",
     "/api/v1/broadcasts",
     api_role::staff,
     "Sends (201) or previews (200, \"preview\": true) a message to many contacts: each gets their "
     "language's text or the base language's, on their own channel or the one given, after send_at and "
     "outside the quiet hours of their own time zone; opted-out contacts are left out and counted",
     create_broadcast,
     {},
     "{text: \"...\" (base language) | {lang: text}, audience: {urns: [...]} | {group: NAME} | "
     "{workshop: ID, status?: registered|waitlisted|attended|cancelled} | {flow: ID|UUID|NAME, "
     "non_responders?: bool} | {all: true}, channel?: ID, send_at?: ISO 8601 with a zone, preview?: bool}",
     "application/json",
     "200 201"},
    {"GET",
     "/api/v1/broadcasts",
     api_role::staff,
     "Broadcasts, newest first: id, when, who, status, recipients, total_segments",
     list_broadcasts,
     {{"limit", "broadcasts to list, 1 to 1000 (100)"}}},
    {"GET",
     "/api/v1/broadcasts/{id}",
     api_role::staff,
     "One broadcast: what was asked, its figures, and its progress (queued, sent, delivered, failed, "
     "cancelled: they add up to the recipients)",
     get_broadcast},
    {"POST",
     "/api/v1/broadcasts/{id}/cancel",
     api_role::staff,
     "Cancels what of a broadcast is still queued (what is sent stays sent); 409 once it is done or "
     "cancelled",
     cancel_broadcast},
};

}  // namespace

std::span<const route> broadcast_routes() { return routes; }

}  // namespace flowgate::gateway::api
