// Workshops and their registrations (docs/api.md, "Workshops").

#include <utility>

#include <boost/beast/http.hpp>
#include <memory>

#include "flows/calendar.hpp"
#include "gateway/api_routes.hpp"
#include "gateway/clock.hpp"
#include "gateway/responses.hpp"

namespace flowgate::gateway::api {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using json = nlohmann::json;

namespace {

json workshop_json(const workshop_summary& s) {
    const auto& w = s.workshop;
    return {{"id", w.id},
            {"title", w.title},
            {"place", w.place},
            {"starts_at", iso_utc(w.starts_at)},
            {"timezone", w.timezone},
            {"capacity", w.capacity},
            {"open", w.open},
            {"registered", w.taken},
            {"waitlisted", s.waitlisted},
            {"cancelled", s.cancelled}};
}

std::optional<workshop_summary> find_summary(store& st, const std::string& id) {
    for (auto& s : st.list_workshops()) {
        if (s.workshop.id == id) {
            return std::move(s);
        }
    }
    return std::nullopt;
}

asio::awaitable<http_response> list_workshops(const context& ctx, const call&) {
    json out = json::array();
    for (const auto& s : ctx.st.list_workshops()) {
        out.push_back(workshop_json(s));
    }
    co_return json_response(http::status::ok, {{"workshops", out}});
}

asio::awaitable<http_response> get_workshop(const context& ctx, const call& c) {
    const auto s = find_summary(ctx.st, c.param(0));
    if (!s) {
        co_return error_response(http::status::not_found, "no such workshop");
    }
    co_return json_response(http::status::ok, workshop_json(*s));
}

// POST (existing_id == nullptr) and PATCH.
asio::awaitable<http_response> save_workshop(const context& ctx,
                                             const call& c,
                                             const std::string* existing_id) {
    auto [body, error] = read_json_object(c.request);
    if (error) {
        co_return std::move(*error);
    }
    const auto current = find_summary(ctx.st, existing_id ? *existing_id : body.value("id", std::string()));
    if (existing_id) {
        if (!current) {
            co_return error_response(http::status::not_found, "no such workshop");
        }
        if (body.contains("id") && body["id"] != *existing_id) {
            co_return bad_field("/id", "a workshop's id cannot change");
        }
        // The keys given replace the workshop's own.
        const auto& w = current->workshop;
        json merged = {{"id", w.id},
                       {"title", w.title},
                       {"place", w.place},
                       {"timezone", w.timezone},
                       {"starts_at", flows::format_local_iso(w.starts_at, w.timezone)},
                       {"capacity", w.capacity},
                       {"open", w.open}};
        if (body.contains("timezone") && !body.contains("starts_at")) {
            co_return bad_field("/starts_at", "give it with a new timezone");
        }
        for (const auto& [key, value] : body.items()) {
            merged[key] = value;
        }
        body = std::move(merged);
    } else if (current) {
        co_return error_response(http::status::conflict, "/id: a workshop with this id exists");
    }
    flowgate::problems problems;
    const auto w = config::parse_workshop(body, ctx.cfg, problems);
    if (!w) {
        co_return bad_request(problems);
    }
    const auto now = gateway::now();
    auto taken = std::make_shared<bool>(false);
    const bool creating = existing_id == nullptr;
    const auto& in = ctx.in;
    // A named job, never a temporary in the co_await expression (g++ 12 may destroy those twice).
    writer::job job = [&in, w = *w, now, taken, creating, who = c.who](write_tx& tx) {
        if (creating && tx.find_workshop(w.id)) {
            *taken = true;  // added meanwhile by another request
            return;
        }
        in.save_workshop(tx, w, now);
        audit(tx, who, creating ? "workshop.create" : "workshop.update", w.id, 1, now);
    };
    const write_status st = co_await ctx.wr.write(std::move(job));
    if (st != write_status::committed) {
        co_return error_response(http::status::service_unavailable, "store unavailable");
    }
    if (*taken) {
        co_return error_response(http::status::conflict, "/id: a workshop with this id exists");
    }
    ctx.outbound_queued();  // more places may have told waiting contacts
    const auto saved = find_summary(ctx.st, w->id);
    if (!saved) {
        co_return error_response(http::status::internal_server_error, "internal error");
    }
    co_return json_response(creating ? http::status::created : http::status::ok, workshop_json(*saved));
}

asio::awaitable<http_response> create_workshop(const context& ctx, const call& c) {
    co_return co_await save_workshop(ctx, c, nullptr);
}

asio::awaitable<http_response> update_workshop(const context& ctx, const call& c) {
    co_return co_await save_workshop(ctx, c, &c.param(0));
}

asio::awaitable<http_response> list_registrations(const context& ctx, const call& c) {
    const auto rows = ctx.st.list_registrations(c.param(0));
    if (!rows) {
        co_return error_response(http::status::not_found, "no such workshop");
    }
    json out = json::array();
    for (const auto& r : *rows) {
        out.push_back({{"contact", r.contact_uuid},
                       {"name", r.contact_name},
                       {"language", r.language},
                       {"status", flows::to_string(r.status)},
                       {"created_at", iso_utc(r.created_at)},
                       {"updated_at", iso_utc(r.updated_at)}});
    }
    co_return json_response(http::status::ok, {{"registrations", out}});
}

const route routes[] = {
    {"GET",
     "/api/v1/workshops",
     api_role::staff,
     "Every workshop, soonest first, with its registrations counted",
     list_workshops},
    {"POST",
     "/api/v1/workshops",
     api_role::staff,
     "Adds a workshop (the body as in the config's \"workshops\"); 409 if its id is taken",
     create_workshop,
     {},
     "{id, title, place, starts_at (local, \"2027-03-14T10:00\"), timezone?, capacity, open?}"},
    {"GET",
     "/api/v1/workshops/{id}",
     api_role::staff,
     "One workshop, with its registrations counted",
     get_workshop},
    {"PATCH",
     "/api/v1/workshops/{id}",
     api_role::staff,
     "Changes a workshop: the keys given replace its own; a new start moves its reminders, more places "
     "go to the waiting list",
     update_workshop,
     {},
     "any of {title, place, starts_at, timezone (with starts_at), capacity, open}"},
    {"GET",
     "/api/v1/workshops/{id}/registrations",
     api_role::staff,
     "A workshop's registrations, oldest first (the waiting list's order); contacts by UUID and name",
     list_registrations},
};

}  // namespace

std::span<const route> workshop_routes() { return routes; }

}  // namespace flowgate::gateway::api
