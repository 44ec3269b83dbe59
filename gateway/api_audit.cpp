// The audit log of staff actions (docs/api.md, "Audit log").

#include <utility>

#include <boost/beast/http.hpp>

#include "gateway/api_routes.hpp"
#include "gateway/responses.hpp"

namespace flowgate::gateway::api {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using json = nlohmann::json;

namespace {

asio::awaitable<http_response> list_audit(const context& ctx, const call& c) {
    const auto limit = query_limit(c, "limit", 100, 1000);
    if (!limit) {
        co_return bad_field("/limit", "must be a whole number from 1 to 1000");
    }
    const auto before = query_limit(c, "before", 0, std::numeric_limits<std::int32_t>::max());
    if (!before) {
        co_return bad_field("/before", "must be an entry's id");
    }
    const auto entries =
        ctx.st.list_audit(static_cast<std::size_t>(*limit), c.query_value("before") ? *before : 0);
    json out = json::array();
    for (const auto& e : entries) {
        out.push_back({{"id", e.id},
                       {"at", iso_utc(e.at)},
                       {"who", e.token_name},
                       {"token", e.token_id},
                       {"role", to_string(e.role)},
                       {"action", e.action},
                       {"target", e.target},
                       {"rows", e.rows}});
    }
    json body = {{"entries", out}};
    if (entries.size() == static_cast<std::size_t>(*limit)) {
        body["next_before"] = entries.back().id;
    }
    co_return json_response(http::status::ok, body);
}

const route routes[] = {
    {"GET",
     "/api/v1/audit",
     api_role::admin,
     "Staff actions, newest first: who, what, when, how many rows (never message bodies or numbers)",
     list_audit,
     {{"limit", "entries per page, 1 to 1000 (100)"},
      {"before", "only entries with an id below this (paging)"}}},
};

}  // namespace

std::span<const route> audit_routes() { return routes; }

}  // namespace flowgate::gateway::api
