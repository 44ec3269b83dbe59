// Tokens for the admin API, managed by admins (docs/api.md, "Tokens"). `flowgate token create`
// makes the first one.

#include <utility>

#include <boost/beast/http.hpp>
#include <memory>

#include "gateway/api.hpp"
#include "gateway/api_routes.hpp"
#include "gateway/clock.hpp"
#include "gateway/responses.hpp"

namespace flowgate::gateway::api {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using json = nlohmann::json;

namespace {

json token_json(const api_token_info& t) {
    return {{"id", t.token.id},
            {"name", t.token.name},
            {"role", to_string(t.token.role)},
            {"created_at", iso_utc(t.created_at)},
            {"revoked_at", t.revoked_at ? json(iso_utc(*t.revoked_at)) : json(nullptr)}};
}

asio::awaitable<http_response> list_tokens(const context& ctx, const call&) {
    json out = json::array();
    for (const auto& t : ctx.st.list_tokens()) {
        out.push_back(token_json(t));
    }
    co_return json_response(http::status::ok, {{"tokens", out}});
}

// {"name": "...", "role": "viewer" | "staff" | "admin"} → 201 with the token, shown this once.
asio::awaitable<http_response> create_token(const context& ctx, const call& c) {
    auto [body, error] = read_json_object(c.request);
    if (error) {
        co_return std::move(*error);
    }
    for (const auto& [key, value] : body.items()) {
        if (key != "name" && key != "role") {
            co_return bad_field("/" + key, "unknown key");
        }
    }
    const auto name = body.find("name");
    if (name == body.end() || !name->is_string() || name->get<std::string>().empty() ||
        name->get<std::string>().size() > 100) {
        co_return bad_field("/name", "give a name of 1 to 100 characters");
    }
    const auto role_it = body.find("role");
    const auto role = role_it != body.end() && role_it->is_string()
                          ? api_role_from(role_it->get<std::string>())
                          : std::nullopt;
    if (!role) {
        co_return bad_field("/role", "give \"viewer\", \"staff\" or \"admin\"");
    }
    const std::string token = new_api_token();
    auto id = std::make_shared<std::int64_t>(0);
    const auto now = gateway::now();
    writer::job job =
        [id, now, name = name->get<std::string>(), role = *role, hash = token_hash(token), who = c.who](
            write_tx& tx) {
            *id = tx.create_token(name, role, hash, now);
            audit(tx, who, "token.create", std::to_string(*id), 1, now);
        };
    if (co_await ctx.wr.write(std::move(job)) != write_status::committed) {
        co_return error_response(http::status::service_unavailable, "store unavailable");
    }
    auto res = json_response(
        http::status::created,
        {{"id", *id}, {"name", name->get<std::string>()}, {"role", to_string(*role)}, {"token", token}});
    res.set(http::field::cache_control, "no-store");
    co_return res;
}

asio::awaitable<http_response> revoke_token(const context& ctx, const call& c) {
    const auto& param = c.param(0);
    std::int64_t id = 0;
    for (const char ch : param) {
        if (ch < '0' || ch > '9' || param.size() > 18) {
            co_return error_response(http::status::not_found, "no such token");
        }
        id = id * 10 + (ch - '0');
    }
    auto found = std::make_shared<bool>(false);
    const auto now = gateway::now();
    writer::job job = [found, id, now, who = c.who](write_tx& tx) {
        *found = tx.revoke_token(id, now);
        if (*found) {
            audit(tx, who, "token.revoke", std::to_string(id), 1, now);
        }
    };
    if (co_await ctx.wr.write(std::move(job)) != write_status::committed) {
        co_return error_response(http::status::service_unavailable, "store unavailable");
    }
    if (!*found) {
        co_return error_response(http::status::not_found, "no such token");
    }
    co_return make_response(http::status::no_content, "application/json", "");
}

const route routes[] = {
    {"GET",
     "/api/v1/tokens",
     api_role::admin,
     "Every token, live and revoked: id, name, role, when made and revoked (never the token)",
     list_tokens},
    {"POST",
     "/api/v1/tokens",
     api_role::admin,
     "Makes a token; the answer holds it, shown this once (only its hash is stored)",
     create_token,
     {},
     "{\"name\": \"1 to 100 characters\", \"role\": \"viewer\" | \"staff\" | \"admin\"}",
     "application/json",
     "201"},
    {"DELETE",
     "/api/v1/tokens/{id}",
     api_role::admin,
     "Revokes a token at once: its next request gets 401",
     revoke_token,
     {},
     nullptr,
     "application/json",
     "204"},
};

}  // namespace

std::span<const route> token_routes() { return routes; }

}  // namespace flowgate::gateway::api
