// Flows and their results (docs/api.md, "Flows and results").

#include <utility>

#include <boost/beast/http.hpp>

#include "gateway/api_routes.hpp"
#include "gateway/responses.hpp"

namespace flowgate::gateway::api {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using json = nlohmann::json;

namespace {

asio::awaitable<http_response> list_flows(const context& ctx, const call&) {
    json out = json::array();
    for (const auto& f : ctx.cfg.flows->all()) {
        out.push_back({{"id", f.id}, {"name", f.name}, {"language", f.language}, {"nodes", f.nodes.size()}});
    }
    co_return json_response(http::status::ok, {{"flows", out}});
}

const route routes[] = {
    {"GET", "/api/v1/flows", api_role::viewer, "The loaded flows", list_flows},
};

}  // namespace

std::span<const route> result_routes() { return routes; }

}  // namespace flowgate::gateway::api
