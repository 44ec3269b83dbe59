#include "gateway/api.hpp"

#include <utility>

#include <boost/beast/http.hpp>

#include "flows/calendar.hpp"
#include "gateway/responses.hpp"
#include "handlers/crypto.hpp"

namespace flowgate::gateway {

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

json workshops_body(store& st) {
    json out = json::array();
    for (const auto& s : st.list_workshops()) {
        const auto& w = s.workshop;
        out.push_back({{"id", w.id},
                       {"title", w.title},
                       {"place", w.place},
                       {"starts_at", iso_utc(w.starts_at)},
                       {"timezone", w.timezone},
                       {"capacity", w.capacity},
                       {"open", w.open},
                       {"registered", w.taken},
                       {"waitlisted", s.waitlisted},
                       {"cancelled", s.cancelled}});
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

admin_api::admin_api(const config::config& cfg, store& st) : config_(cfg), store_(st) {}

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
            std::string method(r.method);
            for (auto& c : method) {
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            paths[r.path][method] = {
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

http_response admin_api::handle(const http_request& request, std::string_view path) const {
    const std::string method(request.method_string());
    if (path == "/api/v1/openapi.json") {
        return method == "GET" ? json_response(http::status::ok, openapi()) : method_not_allowed("GET");
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
        return error_response(http::status::not_found, "not found");
    }
    if (found == nullptr) {
        return method_not_allowed(allow);
    }
    const std::string_view token = bearer(request);
    const auto who = token.empty() ? std::nullopt : store_.find_token(token_hash(token));
    if (!who) {
        auto res = error_response(http::status::unauthorized, "a valid bearer token is required");
        res.set(http::field::www_authenticate, "Bearer");
        return res;
    }
    if (who->role < found->role) {
        return error_response(http::status::forbidden,
                              std::string("this needs the ") + to_string(found->role) + " role");
    }
    const std::string_view which = found->path;
    if (which == "/api/v1/flows") {
        return json_response(http::status::ok, flows_body(config_));
    }
    if (which == "/api/v1/workshops") {
        return json_response(http::status::ok, workshops_body(store_));
    }
    const auto rows = store_.list_registrations(found_params.at(0));
    if (!rows) {
        return error_response(http::status::not_found, "no such workshop");
    }
    return json_response(http::status::ok, registrations_body(*rows));
}

}  // namespace flowgate::gateway
