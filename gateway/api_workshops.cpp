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

json registration_json(const registration_row& r) {
    return {{"contact", r.contact_uuid},
            {"name", r.contact_name},
            {"language", r.language},
            {"status", flows::to_string(r.status)},
            {"created_at", iso_utc(r.created_at)},
            {"updated_at", iso_utc(r.updated_at)}};
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
        out.push_back(registration_json(r));
    }
    co_return json_response(http::status::ok, {{"registrations", out}});
}

// Staff mark attendance or cancel: {"status": "attended" | "cancelled"}.
asio::awaitable<http_response> change_registration(const context& ctx, const call& c) {
    auto [body, error] = read_json_object(c.request);
    if (error) {
        co_return std::move(*error);
    }
    const auto it = body.find("status");
    if (it == body.end() || !it->is_string()) {
        co_return bad_field("/status", "give \"attended\" or \"cancelled\"");
    }
    const auto status = flows::registration_status_from(it->get<std::string>());
    if (status != flows::registration_status::attended && status != flows::registration_status::cancelled) {
        co_return bad_field("/status", "give \"attended\" or \"cancelled\"");
    }
    for (const auto& [key, value] : body.items()) {
        if (key != "status") {
            co_return bad_field("/" + key, "unknown key");
        }
    }
    using outcome = ingest::staff_change;
    struct result {
        bool workshop = true;
        bool contact = true;
        outcome change = outcome::unchanged;
    };
    auto out = std::make_shared<result>();
    const auto now = gateway::now();
    const auto& in = ctx.in;
    writer::job job =
        [&in, out, now, who = c.who, workshop_id = c.param(0), uuid = c.param(1), status = *status](
            write_tx& tx) {
            if (!tx.find_workshop(workshop_id)) {
                out->workshop = false;
                return;
            }
            const auto contact_id = tx.contact_id(uuid);
            if (!contact_id) {
                out->contact = false;
                return;
            }
            out->change = in.staff_set_registration(tx, *contact_id, workshop_id, status, now);
            if (out->change == outcome::changed) {
                audit(tx,
                      who,
                      status == flows::registration_status::attended ? "registration.attended"
                                                                     : "registration.cancel",
                      workshop_id + "/" + uuid,
                      1,
                      now);
            }
        };
    const write_status st = co_await ctx.wr.write(std::move(job));
    if (st != write_status::committed) {
        co_return error_response(http::status::service_unavailable, "store unavailable");
    }
    if (!out->workshop) {
        co_return error_response(http::status::not_found, "no such workshop");
    }
    if (!out->contact || out->change == outcome::not_registered) {
        co_return error_response(http::status::not_found, "no such registration");
    }
    if (out->change == outcome::not_allowed) {
        co_return error_response(http::status::conflict,
                                 *status == flows::registration_status::attended
                                     ? "only a registered contact can attend"
                                     : "an attended registration cannot be cancelled");
    }
    ctx.outbound_queued();  // the contact told, a waiting contact given the place
    const auto rows = ctx.st.list_registrations(c.param(0));
    for (const auto& r : rows.value_or(std::vector<registration_row>{})) {
        if (r.contact_uuid == c.param(1)) {
            co_return json_response(http::status::ok, registration_json(r));
        }
    }
    co_return error_response(http::status::internal_server_error, "internal error");
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
     "{id, title, place, starts_at (local, \"2027-03-14T10:00\"), timezone?, capacity, open?}",
     "application/json",
     "201"},
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
    {"PATCH",
     "/api/v1/workshops/{id}/registrations/{contact}",
     api_role::staff,
     "Marks a contact (by UUID) attended, or cancels their place or turn: the contact is told "
     "(cancellation_flow) and a freed place goes to the waiting list; 409 for a change that cannot be",
     change_registration,
     {},
     "{\"status\": \"attended\" | \"cancelled\"}"},
};

}  // namespace

std::span<const route> workshop_routes() { return routes; }

}  // namespace flowgate::gateway::api
