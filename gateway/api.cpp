#include "gateway/api.hpp"

#include <utility>

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>

#include "flows/calendar.hpp"
#include "gateway/clock.hpp"
#include "gateway/responses.hpp"
#include "handlers/crypto.hpp"

namespace flowgate::gateway {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using json = nlohmann::json;

std::string new_api_token() { return "fg_" + handlers::to_hex(handlers::random_bytes(32)); }

std::string token_hash(std::string_view token) { return handlers::to_hex(handlers::sha256(token)); }

namespace {

struct route {
    const char* method;
    const char* path;
    api_role role;
    const char* summary;
};

// Every implemented route: the dispatcher and the OpenAPI document are both built from it.
constexpr route routes_table[] = {
    {"GET", "/api/v1/flows", api_role::viewer, "The loaded flows"},
    {"GET",
     "/api/v1/workshops",
     api_role::staff,
     "Every workshop, soonest first, with its registrations counted"},
    {"POST",
     "/api/v1/workshops",
     api_role::staff,
     "Adds a workshop (the body as in the config's \"workshops\"); 409 if its id is taken"},
    {"PATCH",
     "/api/v1/workshops/{id}",
     api_role::staff,
     "Changes a workshop: the keys given replace its own; a new start moves its reminders, more places "
     "go to the waiting list"},
    {"GET",
     "/api/v1/workshops/{id}/registrations",
     api_role::staff,
     "A workshop's registrations, oldest first (the waiting list's order); contacts by UUID and name"},
};

// Whether `path` fits `pattern`, where "{name}" stands for one non-empty segment; the segments
// that fill them, in order.
bool match_path(std::string_view pattern, std::string_view path, std::vector<std::string>& params) {
    params.clear();
    while (!pattern.empty() || !path.empty()) {
        const auto p_end = pattern.find('/', 1);
        const auto s_end = path.find('/', 1);
        const std::string_view p = pattern.substr(0, p_end);
        const std::string_view seg = path.substr(0, s_end);
        if (p.size() > 2 && p[1] == '{') {
            if (seg.size() < 2) {
                return false;
            }
            params.emplace_back(seg.substr(1));
        } else if (p != seg) {
            return false;
        }
        pattern = p_end == std::string_view::npos ? std::string_view{} : pattern.substr(p_end);
        path = s_end == std::string_view::npos ? std::string_view{} : path.substr(s_end);
    }
    return true;
}

std::string iso_utc(timestamp t) {
    const auto day = std::chrono::floor<std::chrono::days>(t);
    const std::chrono::year_month_day ymd{day};
    const std::chrono::hh_mm_ss hms{std::chrono::floor<std::chrono::seconds>(t - day)};
    char buf[32];
    std::snprintf(buf,
                  sizeof buf,
                  "%04d-%02u-%02uT%02d:%02d:%02dZ",
                  static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
}

json flows_body(const config::config& cfg) {
    json out = json::array();
    for (const auto& f : cfg.flows->all()) {
        out.push_back({{"id", f.id}, {"name", f.name}, {"language", f.language}, {"nodes", f.nodes.size()}});
    }
    return {{"flows", out}};
}

json registrations_body(const std::vector<registration_row>& rows) {
    json out = json::array();
    for (const auto& r : rows) {
        out.push_back({{"contact", r.contact_uuid},
                       {"name", r.contact_name},
                       {"language", r.language},
                       {"status", flows::to_string(r.status)},
                       {"created_at", iso_utc(r.created_at)},
                       {"updated_at", iso_utc(r.updated_at)}});
    }
    return {{"registrations", out}};
}

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

json workshops_body(store& st) {
    json out = json::array();
    for (const auto& s : st.list_workshops()) {
        out.push_back(workshop_json(s));
    }
    return {{"workshops", out}};
}

// The bearer token of the request, or "" when there is none.
std::string_view bearer(const http_request& request) {
    const auto it = request.find(http::field::authorization);
    if (it == request.end()) {
        return {};
    }
    const std::string_view v(it->value().data(), it->value().size());
    constexpr std::string_view scheme = "Bearer ";
    if (v.size() <= scheme.size() || v.substr(0, scheme.size()) != scheme) {
        return {};
    }
    return v.substr(scheme.size());
}

}  // namespace

admin_api::admin_api(const config::config& cfg, store& st, writer& w, const ingest& in)
    : config_(cfg), store_(st), writer_(w), ingest_(in) {}

asio::awaitable<http_response> admin_api::save_workshop(const http_request& request,
                                                        const std::string* existing_id) const {
    const auto type = request[http::field::content_type];
    if (type.substr(0, 16) != "application/json") {
        co_return error_response(http::status::unsupported_media_type, "the body must be application/json");
    }
    json body = json::parse(request.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        co_return error_response(http::status::bad_request, "the body must be a JSON object");
    }
    std::optional<workshop_summary> current;
    for (auto& s : store_.list_workshops()) {
        if (s.workshop.id == (existing_id ? *existing_id : body.value("id", std::string()))) {
            current = std::move(s);
        }
    }
    if (existing_id) {
        if (!current) {
            co_return error_response(http::status::not_found, "no such workshop");
        }
        if (body.contains("id") && body["id"] != *existing_id) {
            co_return error_response(http::status::bad_request, "/id: a workshop's id cannot change");
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
            co_return error_response(http::status::bad_request, "/starts_at: give it with a new timezone");
        }
        for (const auto& [key, value] : body.items()) {
            merged[key] = value;
        }
        body = std::move(merged);
    } else if (current) {
        co_return error_response(http::status::conflict, "/id: a workshop with this id exists");
    }
    flowgate::problems problems;
    const auto w = config::parse_workshop(body, config_, problems);
    if (!w) {
        co_return error_response(http::status::bad_request,
                                 (problems.front().pointer.empty() ? "/" : problems.front().pointer) + ": " +
                                     problems.front().message);
    }
    const auto now = gateway::now();
    auto taken = std::make_shared<bool>(false);
    const bool creating = existing_id == nullptr;
    // A named job, never a temporary in the co_await expression (g++ 12 may destroy those twice).
    writer::job job = [this, w = *w, now, taken, creating](write_tx& tx) {
        if (creating && tx.find_workshop(w.id)) {
            *taken = true;  // added meanwhile by another request
            return;
        }
        ingest_.save_workshop(tx, w, now);
    };
    const write_status st = co_await writer_.write(std::move(job));
    if (st != write_status::committed) {
        co_return error_response(http::status::service_unavailable, "store unavailable");
    }
    if (*taken) {
        co_return error_response(http::status::conflict, "/id: a workshop with this id exists");
    }
    for (const auto& s : store_.list_workshops()) {
        if (s.workshop.id == w->id) {
            co_return json_response(creating ? http::status::created : http::status::ok, workshop_json(s));
        }
    }
    co_return error_response(http::status::internal_server_error, "internal error");
}

std::vector<std::string> admin_api::implemented_routes() {
    std::vector<std::string> out = {"GET /api/v1/openapi.json"};
    for (const auto& r : routes_table) {
        out.push_back(std::string(r.method) + " " + r.path);
    }
    return out;
}

const json& admin_api::openapi() {
    static const json doc = [] {
        json paths = json::object();
        paths["/api/v1/openapi.json"]["get"] = {{"summary", "This document"},
                                                {"security", json::array()},
                                                {"responses", {{"200", {{"description", "OK"}}}}}};
        for (const auto& r : routes_table) {
            paths[r.path][handlers::ascii_lower(r.method)] = {
                {"summary", r.summary},
                {"x-flowgate-role", to_string(r.role)},
                {"responses",
                 {{"200", {{"description", "OK"}}},
                  {"401", {{"description", "No token, or not a valid one"}}},
                  {"403",
                   {{"description", std::string("The token's role is below ") + to_string(r.role)}}}}}};
        }
        return json{
            {"openapi", "3.0.3"},
            {"info", {{"title", "flowgate admin API"}, {"version", "1"}}},
            {"components", {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
            {"security", json::array({{{"bearer", json::array()}}})},
            {"paths", paths}};
    }();
    return doc;
}

asio::awaitable<http_response> admin_api::handle(const http_request& request, std::string path) const {
    const std::string method(request.method_string());
    if (path == "/api/v1/openapi.json") {
        co_return method == "GET" ? json_response(http::status::ok, openapi()) : method_not_allowed("GET");
    }
    const route* found = nullptr;
    std::string allow;
    std::vector<std::string> params;
    std::vector<std::string> found_params;
    for (const auto& r : routes_table) {
        if (match_path(r.path, path, params)) {
            allow += (allow.empty() ? "" : ", ") + std::string(r.method);
            if (method == r.method) {
                found = &r;
                found_params = params;
            }
        }
    }
    if (allow.empty()) {
        co_return error_response(http::status::not_found, "not found");
    }
    if (found == nullptr) {
        co_return method_not_allowed(allow);
    }
    const std::string_view token = bearer(request);
    const auto who = token.empty() ? std::nullopt : store_.find_token(token_hash(token));
    if (!who) {
        auto res = error_response(http::status::unauthorized, "a valid bearer token is required");
        res.set(http::field::www_authenticate, "Bearer");
        co_return res;
    }
    if (who->role < found->role) {
        co_return error_response(http::status::forbidden,
                                 std::string("this needs the ") + to_string(found->role) + " role");
    }
    const std::string_view which = found->path;
    if (which == "/api/v1/flows") {
        co_return json_response(http::status::ok, flows_body(config_));
    }
    if (which == "/api/v1/workshops" && method == "GET") {
        co_return json_response(http::status::ok, workshops_body(store_));
    }
    if (which == "/api/v1/workshops") {
        co_return co_await save_workshop(request, nullptr);
    }
    if (which == "/api/v1/workshops/{id}") {
        co_return co_await save_workshop(request, &found_params.at(0));
    }
    const auto rows = store_.list_registrations(found_params.at(0));
    if (!rows) {
        co_return error_response(http::status::not_found, "no such workshop");
    }
    co_return json_response(http::status::ok, registrations_body(*rows));
}

}  // namespace flowgate::gateway
