#include "gateway/api.hpp"

#include <utility>

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>

#include "gateway/api_routes.hpp"
#include "gateway/clock.hpp"
#include "gateway/responses.hpp"
#include "handlers/crypto.hpp"
#include "handlers/form.hpp"
#include "handlers/handler.hpp"

namespace flowgate::gateway {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using json = nlohmann::json;

std::string new_api_token() { return "fg_" + handlers::to_hex(handlers::random_bytes(32)); }

std::string token_hash(std::string_view token) { return handlers::to_hex(handlers::sha256(token)); }

namespace api {

const std::string* call::query_value(std::string_view key) const {
    const auto it = query.find(std::string(key));
    return it == query.end() ? nullptr : &it->second;
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

std::optional<timestamp> parse_iso_utc(std::string_view s) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    auto digits = [&s](std::size_t at, std::size_t n, int& out) {
        if (at + n > s.size()) {
            return false;
        }
        out = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (s[i] < '0' || s[i] > '9') {
                return false;
            }
            out = out * 10 + (s[i] - '0');
        }
        return true;
    };
    if (!digits(0, 4, y) || s.size() < 16 || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' ||
        !digits(8, 2, d) || (s[10] != 'T' && s[10] != ' ') || !digits(11, 2, h) || s[13] != ':' ||
        !digits(14, 2, mi)) {
        return std::nullopt;
    }
    std::size_t at = 16;
    if (at < s.size() && s[at] == ':') {
        if (!digits(at + 1, 2, sec)) {
            return std::nullopt;
        }
        at += 3;
        if (at < s.size() && s[at] == '.') {  // fractions of a second are dropped
            ++at;
            while (at < s.size() && s[at] >= '0' && s[at] <= '9') {
                ++at;
            }
        }
    }
    int offset_minutes = 0;
    if (at < s.size() && s[at] == 'Z' && at + 1 == s.size()) {
        offset_minutes = 0;
    } else if (at + 6 == s.size() && (s[at] == '+' || s[at] == '-') && s[at + 3] == ':') {
        int oh = 0, om = 0;
        if (!digits(at + 1, 2, oh) || !digits(at + 4, 2, om) || oh > 14 || om > 59) {
            return std::nullopt;
        }
        offset_minutes = (s[at] == '-' ? -1 : 1) * (oh * 60 + om);
    } else {
        return std::nullopt;  // a time without a zone is ambiguous
    }
    const std::chrono::year_month_day ymd{std::chrono::year(y),
                                          std::chrono::month(static_cast<unsigned>(mo)),
                                          std::chrono::day(static_cast<unsigned>(d))};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) {
        return std::nullopt;
    }
    const auto t = std::chrono::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) +
                   std::chrono::seconds(sec) - std::chrono::minutes(offset_minutes);
    return std::chrono::time_point_cast<std::chrono::milliseconds>(t);
}

json_body read_json_object(const http_request& request) {
    const auto type = request[http::field::content_type];
    if (type.substr(0, 16) != "application/json") {
        return {{},
                error_response(http::status::unsupported_media_type, "the body must be application/json")};
    }
    json body = json::parse(request.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        return {{}, error_response(http::status::bad_request, "the body must be a JSON object")};
    }
    return {std::move(body), std::nullopt};
}

http_response bad_field(std::string_view pointer, std::string_view message) {
    return error_response(
        http::status::bad_request,
        (pointer.empty() ? std::string("/") : std::string(pointer)) + ": " + std::string(message));
}

http_response bad_request(const problems& p) {
    if (p.empty()) {
        return error_response(http::status::bad_request, "bad request");
    }
    return bad_field(p.front().pointer, p.front().message);
}

void audit(write_tx& tx,
           const api_token& who,
           std::string_view action,
           std::string_view target,
           std::int64_t rows,
           timestamp now) {
    tx.add_audit(
        audit_entry{0, now, who.id, who.name, who.role, std::string(action), std::string(target), rows});
}

asio::awaitable<bool> audit_now(
    const context& ctx, const api_token& who, std::string action, std::string target, std::int64_t rows) {
    const auto now = gateway::now();
    writer::job job = [who, action = std::move(action), target = std::move(target), rows, now](write_tx& tx) {
        audit(tx, who, action, target, rows, now);
    };
    const write_status st = co_await ctx.wr.write(std::move(job));
    co_return st == write_status::committed;
}

boost::asio::thread_pool& worker_pool() {
    static boost::asio::thread_pool pool(1);
    return pool;
}

std::optional<std::int64_t> query_limit(const call& c,
                                        std::string_view key,
                                        std::int64_t fallback,
                                        std::int64_t max) {
    const auto* v = c.query_value(key);
    if (v == nullptr) {
        return fallback;
    }
    if (v->empty() || v->size() > 9) {
        return std::nullopt;
    }
    std::int64_t n = 0;
    for (const char ch : *v) {
        if (ch < '0' || ch > '9') {
            return std::nullopt;
        }
        n = n * 10 + (ch - '0');
    }
    if (n < 1 || n > max) {
        return std::nullopt;
    }
    return n;
}

}  // namespace api

namespace {

// Every implemented route, from every area: the dispatcher and the OpenAPI document are both
// built from it.
const std::vector<const api::route*>& all_routes() {
    static const std::vector<const api::route*> routes = [] {
        std::vector<const api::route*> out;
        for (const auto area : {api::workshop_routes(),
                                api::contact_routes(),
                                api::broadcast_routes(),
                                api::result_routes(),
                                api::audit_routes(),
                                api::token_routes()}) {
            for (const auto& r : area) {
                out.push_back(&r);
            }
        }
        return out;
    }();
    return routes;
}

// Whether `path` fits `pattern`, where "{name}" stands for one non-empty segment; the segments
// that fill them, in order (percent-decoded).
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
            auto decoded = handlers::percent_decode(seg.substr(1), false);
            if (!decoded || decoded->empty()) {
                return false;
            }
            params.push_back(std::move(*decoded));
        } else if (p != seg) {
            return false;
        }
        pattern = p_end == std::string_view::npos ? std::string_view{} : pattern.substr(p_end);
        path = s_end == std::string_view::npos ? std::string_view{} : path.substr(s_end);
    }
    return true;
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

// The request's query parameters (the first value of each); nullopt when malformed.
std::optional<std::map<std::string, std::string>> query_of(const http_request& request) {
    const std::string_view target(request.target().data(), request.target().size());
    const auto q = target.find('?');
    std::map<std::string, std::string> out;
    if (q == std::string_view::npos) {
        return out;
    }
    const auto fields = handlers::decode_form(target.substr(q + 1));
    if (!fields) {
        return std::nullopt;
    }
    for (const auto& [k, v] : *fields) {
        out.emplace(k, v);
    }
    return out;
}

}  // namespace

admin_api::admin_api(
    const config::config& cfg, store& st, writer& w, const ingest& in, std::function<void()> outbound_queued)
    : config_(cfg), store_(st), writer_(w), ingest_(in), outbound_queued_(std::move(outbound_queued)) {}

std::vector<std::string> admin_api::implemented_routes() {
    std::vector<std::string> out = {"GET /api/v1/openapi.json"};
    for (const auto* r : all_routes()) {
        out.push_back(std::string(r->method) + " " + r->path);
    }
    return out;
}

const json& admin_api::openapi() {
    static const json doc = [] {
        json paths = json::object();
        paths["/api/v1/openapi.json"]["get"] = {{"summary", "This document"},
                                                {"security", json::array()},
                                                {"responses", {{"200", {{"description", "OK"}}}}}};
        for (const auto* r : all_routes()) {
            json responses = {
                {"400", {{"description", "A bad request; \"error\" names the field"}}},
                {"401", {{"description", "No token, or not a valid one"}}},
                {"403", {{"description", std::string("The token's role is below ") + to_string(r->role)}}},
                {"404", {{"description", "No such object"}}}};
            std::string_view success = r->success;
            while (!success.empty()) {
                const auto code = std::string(success.substr(0, success.find(' ')));
                success.remove_prefix(std::min(success.size(), code.size() + 1));
                responses[code] = code == "204" ? json{{"description", "Done; no body"}}
                                                : json{{"description", code == "201" ? "Created" : "OK"},
                                                       {"content", {{r->produces, json::object()}}}};
            }
            json op = {
                {"summary", r->summary}, {"x-flowgate-role", to_string(r->role)}, {"responses", responses}};
            json parameters = json::array();
            std::string_view rest = r->path;
            for (auto open = rest.find('{'); open != std::string_view::npos; open = rest.find('{')) {
                const auto close = rest.find('}', open);
                parameters.push_back({{"name", std::string(rest.substr(open + 1, close - open - 1))},
                                      {"in", "path"},
                                      {"required", true},
                                      {"schema", {{"type", "string"}}}});
                rest.remove_prefix(close + 1);
            }
            for (const auto& q : r->query) {
                parameters.push_back({{"name", q.name},
                                      {"in", "query"},
                                      {"description", q.description},
                                      {"schema", {{"type", "string"}}}});
            }
            if (!parameters.empty()) {
                op["parameters"] = parameters;
            }
            if (r->body != nullptr) {
                const std::string_view b = r->body;
                const char* type = b.substr(0, 4) == "CSV:" ? "text/csv" : "application/json";
                op["requestBody"] = {
                    {"required", true}, {"description", r->body}, {"content", {{type, json::object()}}}};
            }
            paths[r->path][ascii_lower(r->method)] = std::move(op);
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
    const api::route* found = nullptr;
    std::string allow;
    std::vector<std::string> params;
    std::vector<std::string> found_params;
    for (const auto* r : all_routes()) {
        if (match_path(r->path, path, params)) {
            allow += (allow.empty() ? "" : ", ") + std::string(r->method);
            if (method == r->method) {
                found = r;
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
    auto query = query_of(request);
    if (!query) {
        co_return error_response(http::status::bad_request, "malformed query string");
    }
    const api::context ctx{config_, store_, writer_, ingest_, outbound_queued_};
    const api::call c{request, std::move(found_params), std::move(*query), *who};
    co_return co_await found->handle(ctx, c);
}

}  // namespace flowgate::gateway
