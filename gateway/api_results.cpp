// Flows and their results (docs/api.md, "Flows and results").

#include <utility>

#include <boost/beast/http.hpp>

#include "gateway/api_routes.hpp"
#include "gateway/responses.hpp"
#include "gateway/results.hpp"

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

// The flow a request names: by id, or a RapidPro flow's UUID (its id) or name.
const flows::flow* find_flow(const context& ctx, const call& c) { return ctx.cfg.flows->find(c.param(0)); }

asio::awaitable<http_response> flow_results(const context& ctx, const call& c) {
    const auto* format = c.query_value("format");
    if (format != nullptr && *format != "json" && *format != "csv") {
        co_return bad_field("/format", "must be json or csv");
    }
    const auto* identified_value = c.query_value("identified");
    if (identified_value != nullptr && *identified_value != "true" && *identified_value != "false") {
        co_return bad_field("/identified", "must be true or false");
    }
    const bool csv = format != nullptr && *format == "csv";
    const bool identified = identified_value != nullptr && *identified_value == "true";
    if (identified && c.who.role < api_role::admin) {
        co_return error_response(http::status::forbidden, "identified results need the admin role");
    }
    const auto* f = find_flow(ctx, c);
    if (f == nullptr) {
        co_return error_response(http::status::not_found, "no such flow");
    }
    auto& st = ctx.st;
    const auto runs =
        co_await on_worker([&st, f, identified] { return st.list_flow_runs(f->id, identified); });
    if (identified) {
        // Names and numbers leave only once the export is on the audit log. Named locals, never
        // temporaries in the co_await expression (g++ 12).
        std::string action = "results.export_identified";
        std::string target = f->id;
        const bool logged = co_await audit_now(
            ctx, c.who, std::move(action), std::move(target), static_cast<std::int64_t>(runs.size()));
        if (!logged) {
            co_return error_response(http::status::service_unavailable, "store unavailable");
        }
    }
    http_response res = co_await on_worker([f, &runs, csv, identified] {
        const auto columns = results::result_columns(*f, runs);
        return csv ? make_response(http::status::ok,
                                   "text/csv; charset=utf-8",
                                   results::results_csv(columns, runs, identified))
                   : json_response(http::status::ok, results::results_json(*f, columns, runs, identified));
    });
    if (csv) {
        res.set(http::field::content_disposition,
                "attachment; filename=\"" + results::csv_file_name(f->id) + "\"");
    }
    res.set(http::field::cache_control, "no-store");
    co_return res;
}

asio::awaitable<http_response> flow_summary(const context& ctx, const call& c) {
    const auto* f = find_flow(ctx, c);
    if (f == nullptr) {
        co_return error_response(http::status::not_found, "no such flow");
    }
    auto& st = ctx.st;
    co_return co_await on_worker([&st, f] {
        const auto runs = st.list_flow_runs(f->id, false);
        return json_response(
            http::status::ok,
            results::summary_json(*f, results::summarize(results::result_columns(*f, runs), runs)));
    });
}

const route routes[] = {
    {"GET", "/api/v1/flows", api_role::viewer, "The loaded flows", list_flows},
    {"GET",
     "/api/v1/flows/{id}/results",
     api_role::viewer,
     "A flow's runs with their results, one row per run (RapidPro's export), as JSON or as CSV "
     "(format=csv: text/csv, UTF-8 with a BOM); contacts by UUID only, unless identified (admin, audited)",
     flow_results,
     {{"format", "json (default) or csv"},
      {"identified", "true: each run also has the contact's name and URN (admin only; audited)"}}},
    {"GET",
     "/api/v1/flows/{id}/summary",
     api_role::viewer,
     "A flow's runs counted by status, and per result: responses, response rate, median response time, "
     "categories",
     flow_summary},
};

}  // namespace

std::span<const route> result_routes() { return routes; }

}  // namespace flowgate::gateway::api
